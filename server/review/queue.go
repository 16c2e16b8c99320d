package review

import (
	"slices"
	"strconv"
	"strings"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// Page sizes of the review queue.
const (
	DefaultQueueLimit = 50
	MaxQueueLimit     = 500
)

// QueueFilter is what one GET /v1/review/queue selects.
type QueueFilter struct {
	// Reason, Team, Region and Status keep the items with that reason
	// code, team id, region and status ("" keeps all).
	Reason, Team, Region, Status string
	// AfterSince and AfterID are the key of the last item of the previous
	// page ("" for the first page).
	AfterSince, AfterID string
	// Limit is the page size, 1 to MaxQueueLimit.
	Limit int
}

// ParseQueueQuery reads a QueueFilter from the query parameters reason,
// team, region, status, limit and after; query returns a parameter's value
// ("" when absent). A limit above MaxQueueLimit is lowered to it.
func ParseQueueQuery(query func(key string) string) (QueueFilter, error) {
	f := QueueFilter{Reason: query("reason"), Team: query("team"), Region: query("region"), Status: query("status"), Limit: DefaultQueueLimit}
	if f.Reason != "" && !ValidReason(f.Reason) {
		return f, model.Errorf(model.CodeInvalidRequest, "reason must be one of %s.", strings.Join(ReasonCodes, ", "))
	}
	if f.Team != "" && !model.ValidID(f.Team) {
		return f, model.Errorf(model.CodeInvalidID, "team must be a UUID in canonical lowercase form.")
	}
	if v := query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return f, model.Errorf(model.CodeInvalidRequest, "limit must be a positive integer (at most %d).", MaxQueueLimit)
		}
		f.Limit = min(n, MaxQueueLimit)
	}
	if v := query("after"); v != "" {
		since, id, ok := strings.Cut(v, ".")
		if _, err := hlc.Parse(since); !ok || err != nil || !model.ValidID(id) {
			return f, model.Errorf(model.CodeInvalidCursor, "after must be the next value of a previous page.")
		}
		f.AfterSince, f.AfterID = since, id
	}
	return f, nil
}

// Summary is what the queue shows and filters of a record beside its
// state: the stored summary's team, region, status and review status.
type Summary struct {
	Team, Region, Status, ReviewStatus string
}

// Queue builds one page of the review queue from the records a caller may
// read, offered one by one with Add.
type Queue struct {
	filter    QueueFilter
	visitor   func(user string) bool
	teamNames map[string]string
	items     []api.QueueItem
	cands     []Candidate
	byReason  map[string]int
}

// NewQueue returns an empty queue for filter f. visitor reports whether a
// user id is a visitor's; teamNames maps team ids to names.
func NewQueue(f QueueFilter, visitor func(user string) bool, teamNames map[string]string) *Queue {
	return &Queue{filter: f, visitor: visitor, teamNames: teamNames, byReason: map[string]int{}}
}

// Add offers a record the caller may read, with its summary. Every record
// is a duplicate candidate; it is an item when it has a reason and passes
// the filter.
func (q *Queue) Add(rec *crdt.Record, sum Summary) {
	if cand, ok := CandidateOf(rec); ok {
		q.cands = append(q.cands, cand)
	}
	f := q.filter
	if f.Team != "" && sum.Team != f.Team || f.Region != "" && sum.Region != f.Region || f.Status != "" && sum.Status != f.Status {
		return
	}
	reasons := Reasons(rec, q.visitor)
	if len(reasons) == 0 || !q.count(reasons) {
		return
	}
	since := reasons[0].HLC
	for _, r := range reasons {
		since = min(since, r.HLC)
	}
	conflicts := rec.Conflicts()
	if conflicts == nil {
		conflicts = []string{}
	}
	q.items = append(q.items, api.QueueItem{
		ID: rec.ID, Code: crdt.String(rec.Value("code")), Team: sum.Team, TeamName: q.teamNames[sum.Team], Region: sum.Region,
		Status: sum.Status, ReviewStatus: sum.ReviewStatus, Reasons: reasons, Conflicts: conflicts, Duplicates: []string{},
		Since: since, HLC: rec.HLC.String(),
	})
}

// count counts reasons' codes (each once per record) and reports whether
// the record passes the reason filter. The counts ignore that filter.
func (q *Queue) count(reasons []api.QueueReason) bool {
	seen := map[string]bool{}
	has := false
	for _, r := range reasons {
		if !seen[r.Code] {
			seen[r.Code] = true
			q.byReason[r.Code]++
		}
		has = has || r.Code == q.filter.Reason
	}
	return q.filter.Reason == "" || has
}

// Page returns the filter's page: the items ordered by (since, id), those
// after the filter's key, at most its limit, Next set when more follow.
// Its items' Duplicates are empty until FlagDuplicates.
func (q *Queue) Page() api.QueuePage {
	items := q.items
	slices.SortFunc(items, compareItems)
	out := api.QueuePage{Items: []api.QueueItem{}, Total: len(items), ByReason: q.byReason}
	start := 0
	if q.filter.AfterID != "" {
		key := api.QueueItem{Since: q.filter.AfterSince, ID: q.filter.AfterID}
		start, _ = slices.BinarySearchFunc(items, key, compareItems)
		if start < len(items) && compareItems(items[start], key) == 0 {
			start++
		}
	}
	end := min(start+q.filter.Limit, len(items))
	out.Items = append(out.Items, items[start:end]...)
	if end < len(items) {
		last := items[end-1]
		out.Next = last.Since + "." + last.ID
	}
	return out
}

// compareItems orders queue items by (since, id).
func compareItems(a, b api.QueueItem) int {
	if c := strings.Compare(a.Since, b.Since); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// FlagDuplicates sets each item's Duplicates: its possible duplicates,
// among every record offered to Add, not linked yet.
func (q *Queue) FlagDuplicates(items []api.QueueItem, links Links) {
	dups := Unlinked(q.cands, links)
	for i := range items {
		if d := dups[items[i].ID]; d != nil {
			items[i].Duplicates = d
		}
	}
}
