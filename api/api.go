// Package api is fieldsync's wire contract in Go: the request and response
// bodies of DESIGN §5, shared by the server and the Go client. openapi.yaml
// beside it describes every route, body and error.
//
// Invariants: field names and shapes here are contract; add optional
// fields, never rename or repurpose one.
package api

import (
	"encoding/json"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// ErrorBody is every error response: {"error":{"code","message"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the code and sentence of an error.
type ErrorDetail struct {
	Code    model.Code `json:"code"`
	Message string     `json:"message"`
	// Wipe tells a device to erase its local data (device revoked, grant
	// ended).
	Wipe bool `json:"wipe,omitempty"`
}

// LoginRequest is the body of POST /v1/auth/login.
type LoginRequest struct {
	Username   string `json:"username"`
	Password   string `json:"password"`
	DeviceID   string `json:"device_id,omitempty"`
	DeviceName string `json:"device_name,omitempty"`
	// RefreshToken, optional, is the current refresh token of DeviceID.
	// It proves the caller holds that device, so the login is throttled
	// only by failures made with the same proof, never by guesses from
	// elsewhere (a device id alone proves nothing: ids are not secret).
	// It is not consumed: the login starts a new token family.
	RefreshToken string `json:"refresh_token,omitempty"`
}

// RefreshRequest is the body of POST /v1/auth/refresh.
type RefreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// TokenResponse answers login and refresh.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	DeviceID     string `json:"device_id"`
	User         User   `json:"user"`
	// TeamNames names the teams in User.Teams, by id, so a device can
	// show and check them offline.
	TeamNames map[string]string `json:"team_names,omitempty"`
}

// User is a user as served (never the password hash).
type User struct {
	ID         string     `json:"id"`
	Username   string     `json:"username"`
	Role       model.Role `json:"role"`
	Teams      []string   `json:"teams"`
	ActionWeek string     `json:"action_week,omitempty"`
	ValidUntil *time.Time `json:"valid_until,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	// DisabledAt is set while the account is disabled.
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
}

// UserOf returns the served form of u.
func UserOf(u model.User) User {
	teams := u.Teams
	if teams == nil {
		teams = []string{}
	}
	return User{ID: u.ID, Username: u.Username, Role: u.Role, Teams: teams, ActionWeek: u.ActionWeek, ValidUntil: u.ValidUntil, CreatedAt: u.CreatedAt, DisabledAt: u.DisabledAt}
}

// SetPasswordRequest is the body of POST /v1/admin/users/{id}/password.
type SetPasswordRequest struct {
	Password string `json:"password"`
}

// CreateUserRequest is the body of POST /v1/admin/users.
type CreateUserRequest struct {
	Username   string     `json:"username"`
	Password   string     `json:"password"`
	Role       model.Role `json:"role"`
	Teams      []string   `json:"teams"`
	ActionWeek string     `json:"action_week,omitempty"`
	ValidUntil *time.Time `json:"valid_until,omitempty"`
}

// CreateTeamRequest is the body of POST /v1/admin/teams.
type CreateTeamRequest struct {
	Name   string `json:"name"`
	Region string `json:"region"`
}

// Device is a device as served, with its state.
type Device struct {
	model.Device
	Username string `json:"username"`
	State    string `json:"state"`
}

// PushRequest is the body of POST /v1/sync/push. Ops stay raw so that one
// malformed op is that op's rejection, not the request's.
type PushRequest struct {
	Ops []json.RawMessage `json:"ops"`
}

// PushResponse answers a push: one result per op, in order.
type PushResponse struct {
	Results   []protocol.Result `json:"results"`
	ServerHLC string            `json:"server_hlc"`
}

// PullResponse is one page of GET /v1/sync/pull.
type PullResponse struct {
	Ops    []json.RawMessage `json:"ops"`
	Cursor string            `json:"cursor"`
	More   bool              `json:"more"`
	Drop   []string          `json:"drop"`
	// Erased lists the records of Drop that retention erased (absent when
	// none): the device deletes its unsent ops of them too, rather than
	// keeping them aside for its user.
	Erased    []string `json:"erased,omitempty"`
	ServerHLC string   `json:"server_hlc"`
}

// SnapshotResponse is one page of GET /v1/sync/snapshot: the states of
// records the device may read, for a device's first sync (compacted
// bootstrap). Once more is false the device pulls from PullCursor. The
// open cases come first: OpenCasesDone is true on every page from the one
// that completes them (and on the last page), so a device may show them
// while the rest fills in.
type SnapshotResponse struct {
	Records       []SnapshotRecord `json:"records"`
	Cursor        string           `json:"cursor"`
	More          bool             `json:"more"`
	OpenCasesDone bool             `json:"open_cases_done"`
	PullCursor    string           `json:"pull_cursor"`
	ServerHLC     string           `json:"server_hlc"`
}

// SnapshotRecord is one record of a snapshot page: State is the record's
// full merge state in the crdt snapshot encoding (crdt.Record
// MarshalBinary), base64 on the wire; erased values are never in it.
type SnapshotRecord struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	State []byte `json:"state"`
}

// RecordList is a page of GET /v1/records.
type RecordList struct {
	Records []RecordSummary `json:"records"`
	Next    string          `json:"next,omitempty"`
	// Total is set by a search (code, reason, encountered_from,
	// encountered_to, sort, offset or review_status=none): how many
	// records match, all pages together.
	Total *int `json:"total,omitempty"`
}

// RecordSummary is one record of a list.
type RecordSummary struct {
	ID           string    `json:"id"`
	Kind         string    `json:"kind"`
	Team         string    `json:"team,omitempty"`
	ActionWeek   string    `json:"action_week,omitempty"`
	Status       string    `json:"status,omitempty"`
	Region       string    `json:"region,omitempty"`
	ReviewStatus string    `json:"review_status,omitempty"`
	Conflicts    []string  `json:"conflicts"`
	Deleted      bool      `json:"deleted"`
	HLC          string    `json:"hlc"`
	UpdatedAt    time.Time `json:"updated_at"`
	// Code, EncounterDate, TeamName and Reasons are filled by a search:
	// the record's shown code and encounter date, its team's name and the
	// codes of its review queue reasons (none: it is not in the queue).
	Code          string   `json:"code,omitempty"`
	EncounterDate string   `json:"encounter_date,omitempty"`
	TeamName      string   `json:"team_name,omitempty"`
	Reasons       []string `json:"reasons,omitempty"`
}

// Health answers /healthz and /readyz.
type Health struct {
	Status string `json:"status"`
}

// QueueReason is why a record is in the supervisors' review queue: a
// trigger newer (by hlc) than the record's latest review_status decision,
// or a register conflict (always, while it lasts).
type QueueReason struct {
	// Code is new, conflict, formal_status, child_presumed,
	// cross_border_referral or visitor_note.
	Code string `json:"code"`
	// Field names the field the trigger is about (absent for new).
	Field string `json:"field,omitempty"`
	// Op is the op that triggered it (the shown sibling for a conflict,
	// the entry for a log trigger).
	Op string `json:"op,omitempty"`
	// HLC is the trigger's time.
	HLC string `json:"hlc"`
}

// QueueItem is one record waiting for a supervisor's decision.
type QueueItem struct {
	ID           string        `json:"id"`
	Code         string        `json:"code,omitempty"`
	Team         string        `json:"team,omitempty"`
	TeamName     string        `json:"team_name,omitempty"`
	Region       string        `json:"region,omitempty"`
	Status       string        `json:"status,omitempty"`
	ReviewStatus string        `json:"review_status,omitempty"`
	Reasons      []QueueReason `json:"reasons"`
	// Conflicts names the registers holding more than one sibling.
	Conflicts []string `json:"conflicts"`
	// Duplicates lists possible duplicates not linked yet (record ids).
	Duplicates []string `json:"duplicates"`
	// Since is the hlc of the oldest reason: how long it has waited.
	Since string `json:"since"`
	// HLC is the record's greatest op hlc.
	HLC string `json:"hlc"`
}

// QueuePage is a page of GET /v1/review/queue.
type QueuePage struct {
	Items []QueueItem `json:"items"`
	Next  string      `json:"next,omitempty"`
	// Total is the number of queue items the filter selects.
	Total int `json:"total"`
	// ByReason counts the items of the filter (reason filter aside) per
	// reason code.
	ByReason map[string]int `json:"by_reason"`
}

// DuplicatePair is two records flagged as possible duplicates.
type DuplicatePair struct {
	Records []string `json:"records"`
	Codes   []string `json:"codes"`
	// EncounterDates are the two records' encounter dates.
	EncounterDates []string `json:"encounter_dates"`
	DaysApart      int      `json:"days_apart"`
	// Matched holds the attributes both records share: region, sex,
	// age_group, citizenship.
	Matched map[string]string `json:"matched"`
	// Linked is true once a supervisor linked them (POST /v1/review/links).
	Linked bool `json:"linked"`
}

// DuplicateList is a page of GET /v1/review/duplicates.
type DuplicateList struct {
	Pairs []DuplicatePair `json:"pairs"`
	Next  string          `json:"next,omitempty"`
	Rule  string          `json:"rule"`
}

// LinkRequest is the body of POST /v1/review/links.
type LinkRequest struct {
	Records []string `json:"records"`
	// Unlink removes an existing link instead.
	Unlink bool `json:"unlink,omitempty"`
}

// LinkResponse answers POST /v1/review/links.
type LinkResponse struct {
	Records []string `json:"records"`
	// Linked is the state of the link after the request.
	Linked bool `json:"linked"`
	// Changed is false when the link was already in that state (nothing
	// was written, nothing audited).
	Changed bool `json:"changed"`
	// Results is always empty: links were ops of the field linked_records
	// until schema version 2 and are no longer ops. Kept so that the
	// field's shape never changes.
	Results []protocol.Result `json:"results"`
}

// Link is a supervisor's link between two records: supervisor data kept
// by the server, never part of either record's state.
type Link struct {
	// Records are the two record ids, the smaller first.
	Records []string `json:"records"`
	// By is the user who made the link, At when.
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// LinkList answers GET /v1/review/links: the links of Record to records
// the caller may also read.
type LinkList struct {
	Record string `json:"record"`
	Links  []Link `json:"links"`
}

// StatsCount is a count that may be withheld: Count is null when the
// count is suppressed (a small cell, or one that would let a small cell be
// computed), and Rounded says the count was rounded to the nearest 5.
type StatsCount struct {
	Count      *int `json:"count"`
	Suppressed bool `json:"suppressed,omitempty"`
	Rounded    bool `json:"rounded,omitempty"`
}

// StatsCell is one cell of a monitoring table.
type StatsCell struct {
	// Key holds the cell's value of each of the table's dimensions.
	Key []string `json:"key"`
	StatsCount
}

// StatsTable is one monitoring table.
type StatsTable struct {
	Name       string   `json:"name"`
	Title      string   `json:"title"`
	Dimensions []string `json:"dimensions"`
	// Multi is true when a record may count in several cells (sets such
	// as exploitation types); the total then counts records with at least
	// one value, not the sum of the cells.
	Multi bool        `json:"multi"`
	Cells []StatsCell `json:"cells"`
	Total StatsCount  `json:"total"`
}

// Stats answers GET /v1/stats.
type Stats struct {
	// Threshold is the smallest count shown; counts from 1 to
	// Threshold-1 are suppressed.
	Threshold int `json:"threshold"`
	// Scope is "national" or "jurisdiction" (the caller's teams).
	Scope string `json:"scope"`
	// Identifications counts the identifications the figures cover.
	Identifications StatsCount   `json:"identifications"`
	Tables          []StatsTable `json:"tables"`
	GeneratedAt     time.Time    `json:"generated_at"`
	// Rules explains the counting and suppression rules in words.
	Rules []string `json:"rules"`
}

// UploadRequest is the body of POST /v1/uploads: a blob's size and
// SHA-256 digest (lowercase hex) and its scope, exactly one of a team
// (for identifications) or an action week (for site visits).
type UploadRequest struct {
	Size       int64  `json:"size"`
	Digest     string `json:"digest"`
	Team       string `json:"team,omitempty"`
	ActionWeek string `json:"action_week,omitempty"`
}

// Upload is the answer to POST /v1/uploads: the upload's id and its
// acknowledged offset; Complete when the scope holds the blob already.
type Upload struct {
	ID       string `json:"id"`
	Offset   int64  `json:"offset"`
	Size     int64  `json:"size"`
	Complete bool   `json:"complete,omitempty"`
}

// BlobInfo is the answer to POST /v1/uploads/{id}/complete: the verified
// blob, with the media type sniffed from its bytes.
type BlobInfo struct {
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	MediaType string `json:"media_type"`
}

// RetentionItem is one record retention erases (or would erase): its
// id, kind and the rule that expires it, never its content.
type RetentionItem struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Rule string `json:"rule"`
}

// RetentionPlan answers GET /v1/admin/retention (a dry run: nothing is
// erased) and POST /v1/admin/retention/run (what was erased).
type RetentionPlan struct {
	// Rules are the configured rules ("" when retention is off).
	Rules   string          `json:"rules"`
	Records []RetentionItem `json:"records"`
}

// Hold answers PUT and DELETE /v1/records/{id}/hold: whether the record
// is under legal hold, by whom and since when.
type Hold struct {
	Record string     `json:"record"`
	Held   bool       `json:"held"`
	By     string     `json:"by,omitempty"`
	At     *time.Time `json:"at,omitempty"`
}

// PurgeAckRequest is the body of POST /v1/sync/purges: the records the
// device deleted because a pull's drop named them. Ids that name no
// erased record are ignored.
type PurgeAckRequest struct {
	Records []string `json:"records"`
}

// PurgeAckResponse answers POST /v1/sync/purges: how many erasures the
// device's acknowledgement recorded.
type PurgeAckResponse struct {
	Acknowledged int `json:"acknowledged"`
}

// Purge is one retention erasure with the devices that have not yet
// acknowledged it (GET /v1/admin/purges).
type Purge struct {
	Record  string        `json:"record"`
	Kind    string        `json:"kind"`
	Rule    string        `json:"rule"`
	At      time.Time     `json:"at"`
	Pending []PurgeDevice `json:"pending"`
}

// PurgeDevice is a device that must still acknowledge a purge.
type PurgeDevice struct {
	Device   string `json:"device"`
	User     string `json:"user"`
	Username string `json:"username"`
	Name     string `json:"name"`
}

// PurgeList answers GET /v1/admin/purges.
type PurgeList struct {
	Purges []Purge `json:"purges"`
}
