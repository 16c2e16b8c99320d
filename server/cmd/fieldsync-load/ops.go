package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// device is one simulated tablet: a logged-in field worker writing
// identifications of its team, and the pushes it will send.
type device struct {
	idx    int
	s      *session
	team   string
	region string
	clock  *hlc.Clock
	rng    *rand.Rand
	// records are the identifications this device created so far.
	records []*recordState
	cases   int
	batches []batch
	// uniqueNotes: every note text is unique (random words).
	uniqueNotes bool
}

// recordState is what a device remembers of a record it wrote: enough to
// write the next status with the right base.
type recordState struct {
	id       string
	statusOp string
}

// batch is one push: its body and its op ids in order.
type batch struct {
	body []byte
	ids  []string
}

func newDevice(idx int, s *session, team, region string) *device {
	return &device{
		idx: idx, s: s, team: team, region: region,
		clock: hlc.NewClock(time.Now, 0),
		rng:   rand.New(rand.NewPCG(uint64(idx)+1, 0x6669656c6473796e)),
	}
}

// Realistic values of an identification, as a field team writes them.
var (
	locations = []string{"central bus station", "roadside near the E79 petrol station", "bar on the main square",
		"border crossing point", "family home, eastern quarter", "seasonal farm camp", "railway station waiting room",
		"hotel lobby", "car wash on the ring road", "outreach van at the market"}
	sexes        = []string{"female", "female", "female", "male", "male", "unknown"}
	citizenships = []string{"BG", "BG", "BG", "RO", "MD", "UA", "NG", "VN", "SY", "XK"}
	exploitation = []string{"sexual", "labour", "begging", "forced_criminality", "forced_marriage", "other"}
	recruitment  = []string{"social_network", "messaging_app", "online_ad", "family", "acquaintance", "agency"}
	payments     = []string{"cash", "bank_transfer", "money_transfer_service", "in_kind"}
	services     = []string{"shelter", "legal_aid", "medical", "psychological", "police", "child_protection"}
	noteTexts    = []string{
		"Met near the bus station with two others; says the employer keeps her passport and she owes money for the trip.",
		"Speaks little of the local language; a man waited outside during the whole conversation and called twice.",
		"Was promised work in a hotel abroad; on arrival had to work in a bar and hand over all tips.",
		"Sleeps at the workplace with six others, works fourteen hours a day, has not been paid for two months.",
		"Came back from abroad last week; the recruiter still messages her and says the debt has grown.",
		"Follow-up call: agreed to meet the social worker tomorrow at the community centre.",
		"Asked for help to get her identity card back from the landlord, who also arranged the job.",
	}
	followUps = []string{
		"Second meeting: more at ease, confirmed the debt and the withheld documents.",
		"Called the hotline herself this morning; a place at the shelter is being arranged.",
		"Brother confirmed she was recruited through a cousin's acquaintance.",
		"Did not come to the appointment; the team will try the phone number again.",
	}
	indicatorCodes = model.DefaultCatalogue().Codes()
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// pickN returns n distinct elements of s.
func pickN[T any](r *rand.Rand, s []T, n int) []T {
	idx := r.Perm(len(s))[:min(n, len(s))]
	out := make([]T, len(idx))
	for i, j := range idx {
		out[i] = s[j]
	}
	return out
}

// opStream collects a device's ops in the order it writes them.
type opStream struct {
	d   *device
	ops [][]byte
	ids []string
}

// add writes one op as a device sends it, in its canonical JSON (the
// server sets user), and returns its id.
func (st *opStream) add(record, field string, action model.Action, value any, base ...string) string {
	id := uuid.Must(uuid.NewV7()).String()
	op, err := crdt.NewOp(crdt.Op{ID: id, Record: record, Kind: model.KindIdentification, Field: field, Action: action,
		Base: base, HLC: st.d.clock.Now(), Device: st.d.s.device}, value)
	if err != nil {
		panic(err) // only our own literals are written
	}
	st.ops = append(st.ops, op.AppendJSON(nil))
	st.ids = append(st.ids, id)
	return id
}

// newIdentification writes a new case: its team first (the scope the
// server needs), then the screening: registers, sets and log entries.
func (st *opStream) newIdentification() {
	d, r := st.d, st.d.rng
	rec := &recordState{id: uuid.Must(uuid.NewV7()).String()}
	d.cases++
	st.add(rec.id, model.FieldTeam, model.ActionSet, d.team)
	rec.statusOp = st.add(rec.id, model.FieldStatus, model.ActionSet, "potential")
	st.add(rec.id, "code", model.ActionSet, fmt.Sprintf("%s-%02d-%05d", d.region[:2], d.idx+1, d.cases))
	st.add(rec.id, "region", model.ActionSet, d.region)
	st.add(rec.id, "location", model.ActionSet, pick(r, locations))
	st.add(rec.id, "encounter_date", model.ActionSet, fmt.Sprintf("2025-%02d-%02d", 1+r.IntN(12), 1+r.IntN(28)))
	st.add(rec.id, "sex", model.ActionSet, pick(r, sexes))
	age := 14 + r.IntN(40)
	group := "adult"
	if age < 18 {
		group = "child"
	}
	st.add(rec.id, "age_group", model.ActionSet, group)
	st.add(rec.id, "age_estimate", model.ActionSet, age)
	st.add(rec.id, "child_presumed", model.ActionSet, age < 18)
	st.add(rec.id, "citizenship", model.ActionSet, pick(r, citizenships))
	for _, v := range pickN(r, exploitation, 1+r.IntN(2)) {
		st.add(rec.id, "exploitation_types", model.ActionAdd, v)
	}
	for _, v := range pickN(r, recruitment, 1+r.IntN(2)) {
		st.add(rec.id, "recruitment_channels", model.ActionAdd, v)
	}
	st.add(rec.id, "payment_means", model.ActionAdd, pick(r, payments))
	for _, v := range pickN(r, indicatorCodes, 3+r.IntN(4)) {
		st.add(rec.id, "indicators", model.ActionAdd, v)
	}
	st.add(rec.id, "consent", model.ActionAppend, map[string]any{"scope": "data_processing", "given": true})
	for range 1 + r.IntN(2) {
		st.add(rec.id, "notes", model.ActionAppend, map[string]any{"text": d.note(noteTexts)})
	}
	d.records = append(d.records, rec)
}

// followUp revisits one of the device's recent cases: a status with the
// right base, a note, an indicator, a referral.
func (st *opStream) followUp() {
	d, r := st.d, st.d.rng
	recent := d.records[max(0, len(d.records)-50):]
	rec := pick(r, recent)
	if r.IntN(2) == 0 {
		rec.statusOp = st.add(rec.id, model.FieldStatus, model.ActionSet, "presumed", rec.statusOp)
	}
	st.add(rec.id, "notes", model.ActionAppend, map[string]any{"text": d.note(followUps)})
	st.add(rec.id, "indicators", model.ActionAdd, pick(r, indicatorCodes))
	if r.IntN(3) == 0 {
		st.add(rec.id, "referrals", model.ActionAppend, map[string]any{"service": pick(r, services), "note": "referred by the mobile team"})
	}
}

// noteWords is the vocabulary of unique notes: every word of the fixed
// texts, so unique notes look like them to a compressor, word for word.
var noteWords = func() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range [][]string{noteTexts, followUps, locations} {
		for _, text := range s {
			for _, w := range strings.Fields(text) {
				if !seen[w] {
					seen[w] = true
					out = append(out, w)
				}
			}
		}
	}
	return out
}()

// note returns a note text: one of fixed, or with uniqueNotes 12 to 30
// random words of noteWords (about as long as the fixed ones), a text no
// other note repeats.
func (d *device) note(fixed []string) string {
	if !d.uniqueNotes {
		return pick(d.rng, fixed)
	}
	words := make([]string, 12+d.rng.IntN(19))
	for i := range words {
		words[i] = pick(d.rng, noteWords)
	}
	return strings.Join(words, " ")
}

// plan builds the device's n ops as pushes of batchSize ops each. A push
// may create a record and write to it; a follow-up only ever names a
// record created earlier in the device's own order, so every push is
// valid however the devices interleave. Bodies are encoded in coding ("":
// none) here, before the clock starts.
func (d *device) plan(n, batchSize int, coding string) {
	st := &opStream{d: d, ops: make([][]byte, 0, n+32), ids: make([]string, 0, n+32)}
	for len(st.ops) < n {
		if len(d.records) > 0 && d.rng.IntN(3) == 0 {
			st.followUp()
		} else {
			st.newIdentification()
		}
	}
	st.ops, st.ids = st.ops[:n], st.ids[:n]
	for start := 0; start < n; start += batchSize {
		end := min(start+batchSize, n)
		body := []byte(`{"ops":[`)
		for i, op := range st.ops[start:end] {
			if i > 0 {
				body = append(body, ',')
			}
			body = append(body, op...)
		}
		body = append(body, "]}"...)
		d.batches = append(d.batches, batch{body: encode(coding, body), ids: st.ids[start:end]})
	}
}
