// Package demo seeds a store with demonstration data for `fieldsync serve
// --demo`: two teams, a user of each role with a tablet (and a stale
// tablet, last seen StaleDays days ago), an action week with a visitor and
// site visits (some by the visitor), and ninety-odd identifications whose
// review queue holds every reason (new records, conflicts, formal status,
// cross-border referrals, visitor notes) and two possible duplicates;
// one identification carries an attachment (a generated PNG, a completed
// blob of its team's scope).
//
// Invariants: every record is written as ops through the protocol service,
// as tablets would, so the demo passes every rule a real push passes (a
// rejected op fails the seeding); the data drawn (not the ids, which are
// fresh UUIDs) is the same on every run, from a fixed random seed; seeding
// writes nothing into a store that already holds teams.
package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/auth"
	"github.com/fieldsync/fieldsync/server/store"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// Password is the password of every demo user.
const Password = "fieldsync-demo"

// Store is what seeding writes to (*store.DB).
type Store interface {
	ListTeams(ctx context.Context) ([]model.Team, error)
	CreateTeam(ctx context.Context, t model.Team) error
	CreateUser(ctx context.Context, u model.User) error
	PutDevice(ctx context.Context, d model.Device) error
	CreateUpload(ctx context.Context, u store.Upload) error
	AppendUpload(ctx context.Context, id string, offset int64, data []byte) (int64, error)
	CompleteUpload(ctx context.Context, id string, check func(head []byte) (string, error)) (store.Blob, error)
}

// demoUser is a demo account and the device its seeded ops come from.
type demoUser struct {
	name  string
	role  model.Role
	teams []string
	p     *access.Principal
	clock *hlc.Clock
}

// Seed fills an empty store with two teams, a user of each role, an
// action week with a visitor and site visits, and ninety-odd
// identifications, some with conflicting edits, referrals and supervisor
// reviews (see identifications). Every record is written as
// ops through the protocol, as tablets would. It does nothing (and returns
// false) when teams already exist.
func Seed(ctx context.Context, db Store, svc *protocol.Service, now func() time.Time) (bool, error) {
	teams, err := db.ListTeams(ctx)
	if err != nil || len(teams) > 0 {
		return false, err
	}
	d := &demo{ctx: ctx, db: db, svc: svc, now: now, rng: rand.New(rand.NewPCG(2026, 11))}
	steps := []func() error{d.seedTeams, d.seedUsers, d.staleDevice, d.actionWeek, d.identifications, d.siteVisits, d.attachment}
	for _, step := range steps {
		if err := step(); err != nil {
			return false, err
		}
	}
	return true, nil
}

type demo struct {
	ctx   context.Context
	db    Store
	svc   *protocol.Service
	now   func() time.Time
	rng   *rand.Rand
	north model.Team
	south model.Team
	users map[string]*demoUser
	week  string
	// photoRecord is the identification AttachmentCode names.
	photoRecord string
}

func (d *demo) seedTeams() error {
	d.north = model.Team{ID: newID(), Name: "Mobile team North", Region: "Shkodër", CreatedAt: d.now().UTC()}
	d.south = model.Team{ID: newID(), Name: "Mobile team South", Region: "Vlorë", CreatedAt: d.now().UTC()}
	for _, t := range []model.Team{d.north, d.south} {
		if err := d.db.CreateTeam(d.ctx, t); err != nil {
			return err
		}
	}
	return nil
}

func (d *demo) seedUsers() error {
	hash, err := auth.HashPassword(Password)
	if err != nil {
		return err
	}
	d.users = map[string]*demoUser{}
	for _, u := range []demoUser{
		{name: "supervisor", role: model.RoleSupervisor},
		{name: "lead.north", role: model.RoleTeamLead, teams: []string{d.north.ID}},
		{name: "worker.north", role: model.RoleFieldWorker, teams: []string{d.north.ID}},
		{name: "worker2.north", role: model.RoleFieldWorker, teams: []string{d.north.ID}},
		{name: "lead.south", role: model.RoleTeamLead, teams: []string{d.south.ID}},
		{name: "worker.south", role: model.RoleFieldWorker, teams: []string{d.south.ID}},
		{name: "auditor", role: model.RoleAuditor},
	} {
		if err := d.addUser(u, hash, nil); err != nil {
			return err
		}
	}
	return nil
}

func (d *demo) addUser(u demoUser, hash string, grant *model.User) error {
	teams := u.teams
	if teams == nil {
		teams = []string{}
	}
	user := model.User{ID: newID(), Username: u.name, Role: u.role, PasswordHash: hash, Teams: teams, CreatedAt: d.now().UTC()}
	if grant != nil {
		user.ActionWeek, user.ValidUntil = grant.ActionWeek, grant.ValidUntil
	}
	if err := d.db.CreateUser(d.ctx, user); err != nil {
		return err
	}
	dev := model.Device{ID: newID(), User: user.ID, Name: u.name + "'s tablet", CreatedAt: d.now().UTC(), LastSeen: d.now().UTC()}
	if err := d.db.PutDevice(d.ctx, dev); err != nil {
		return err
	}
	u.p = &access.Principal{User: user.ID, Device: dev.ID, Role: u.role, Teams: user.Teams, ActionWeek: user.ActionWeek}
	u.clock = hlc.NewClock(d.now, 0)
	d.users[u.name] = &u
	return nil
}

// StaleDevice is the name of the demo's tablet that has not synced for
// StaleDays days: the devices screen flags it, the one to revoke if lost.
const StaleDevice = "worker.south's old tablet"

// StaleDays is how long ago the stale demo tablet last reached the server.
const StaleDays = 12

// staleDevice registers a second, older tablet of worker.south that last
// reached the server StaleDays days ago (a lost or forgotten tablet).
func (d *demo) staleDevice() error {
	u := d.users["worker.south"]
	dev := model.Device{ID: newID(), User: u.p.User, Name: StaleDevice,
		CreatedAt: d.now().AddDate(0, 0, -60).UTC(), LastSeen: d.now().AddDate(0, 0, -StaleDays).UTC()}
	return d.db.PutDevice(d.ctx, dev)
}

// op is one demo write.
type op struct {
	field, action string
	value         any
	base          []string
}

// write pushes ops for one record as user and fails on any rejection.
func (d *demo) write(user, kind, record string, ops ...op) ([]string, error) {
	u := d.users[user]
	built := make([]crdt.Op, len(ops))
	ids := make([]string, len(ops))
	for i, o := range ops {
		ids[i] = newID()
		op, err := crdt.NewOp(crdt.Op{ID: ids[i], Record: record, Kind: kind, Field: o.field,
			Action: model.Action(o.action), Base: o.base, HLC: u.clock.Now(), Device: u.p.Device}, o.value)
		if err != nil {
			return nil, err
		}
		built[i] = op
	}
	res, err := d.svc.PushOps(d.ctx, u.p, built)
	if err != nil {
		return nil, err
	}
	for _, r := range res.Results {
		if r.Status != protocol.StatusApplied {
			return nil, fmt.Errorf("demo op %s on %s rejected: %s %s", r.ID, record, r.Code, r.Message)
		}
	}
	return ids, nil
}

func (d *demo) actionWeek() error {
	d.week = newID()
	start := d.now().AddDate(0, 0, -3).Format(time.DateOnly)
	end := d.now().AddDate(0, 0, 4).Format(time.DateOnly)
	_, err := d.write("supervisor", model.KindActionWeek, d.week,
		op{field: "name", action: "set", value: "Action week Shkodër–Munich"},
		op{field: "origin_country", action: "set", value: "AL"},
		op{field: "destination_country", action: "set", value: "DE"},
		op{field: "starts_on", action: "set", value: start},
		op{field: "ends_on", action: "set", value: end},
		op{field: "host_team", action: "set", value: d.north.ID},
		op{field: "towns", action: "add", value: "Shkodër"},
		op{field: "towns", action: "add", value: "Koplik"},
	)
	if err != nil {
		return err
	}
	hash, err := auth.HashPassword(Password)
	if err != nil {
		return err
	}
	until := d.now().AddDate(0, 0, 5).UTC()
	return d.addUser(demoUser{name: "visitor.de", role: model.RoleVisitor}, hash, &model.User{ActionWeek: d.week, ValidUntil: &until})
}

var (
	demoCountries   = []string{"AL", "AL", "AL", "AL", "XK", "MK", "RO", "UA", "NG", "MD"}
	demoExploit     = []string{"sexual", "sexual", "labour", "labour", "begging", "forced_criminality", "forced_marriage"}
	demoChannels    = []string{"social_network", "messaging_app", "online_ad", "family", "acquaintance", "agency"}
	demoPayments    = []string{"cash", "cash", "bank_transfer", "money_transfer_service", "crypto", "in_kind"}
	demoStatuses    = []string{"potential", "potential", "presumed", "presumed", "presumed", "withdrawn"}
	demoLocations   = []string{"bus station", "border crossing point", "roadside bar", "family home", "construction site", "market"}
	demoNoteOpeners = []string{"Met during outreach at the", "Referred by a social worker; first contact at the", "Spotted by the team near the"}
	demoServices    = []string{"shelter", "medical", "psychological", "legal", "return"}
	demoAbroad      = []string{"DE", "IT", "GR"}
	// The regions the teams cover (the team's own region first).
	demoNorthRegions = []string{"Shkodër", "Shkodër", "Lezhë", "Kukës"}
	demoSouthRegions = []string{"Vlorë", "Vlorë", "Fier", "Gjirokastër"}
)

// demoIdentifications is the number of identifications the demo writes
// (enough for the monitoring figures to show cells above the threshold).
const demoIdentifications = 90

func (d *demo) pick(list []string) string { return list[d.rng.IntN(len(list))] }

// demoAttrs are the pseudonymous attributes of a demo identification, kept
// to write possible duplicates of some.
type demoAttrs struct {
	team, writer, region, sex, ageGroup, citizenship string
	encounter                                        time.Time
}

// identifications writes demoIdentifications identifications across the
// two teams, with referrals (some across the border), and then: concurrent
// edits of status by two tablets on every fifth and of age_group on some
// others (conflicts for the review queue), the supervisor's review of about
// half of the rest (some formally identified), two possible duplicates and
// two identifications created by the action week's visitor with their
// notes. The supervisor's queue then holds new records, conflicts,
// cross-border referrals and visitor notes.
func (d *demo) identifications() error {
	codes := d.svc.Schema.Indicators.Codes()
	var attrs []demoAttrs
	for i := range demoIdentifications {
		a := demoAttrs{team: d.north.ID, writer: "worker.north", region: d.pick(demoNorthRegions)}
		prefix := "N"
		if i%3 == 2 {
			a.team, a.writer, a.region, prefix = d.south.ID, "worker.south", d.pick(demoSouthRegions), "S"
		}
		child := d.rng.IntN(4) == 0
		a.ageGroup = "adult"
		age := 19 + d.rng.IntN(25)
		if child {
			a.ageGroup, age = "child", 13+d.rng.IntN(5)
		}
		a.sex, a.citizenship = d.pick([]string{"female", "female", "female", "male", "unknown"}), d.pick(demoCountries)
		a.encounter = d.now().AddDate(0, 0, -d.rng.IntN(200))
		identifier := "first_responder"
		if i%6 == 4 {
			identifier = "formal"
		}
		ops := []op{
			{field: "team", action: "set", value: a.team},
			{field: "code", action: "set", value: fmt.Sprintf("%s-2026-%03d", prefix, i+1)},
			{field: "status", action: "set", value: d.pick(demoStatuses)},
			{field: "age_group", action: "set", value: a.ageGroup},
			{field: "identifier_type", action: "set", value: identifier},
			{field: "encounter_date", action: "set", value: a.encounter.Format(time.DateOnly)},
			{field: "region", action: "set", value: a.region},
			{field: "location", action: "set", value: d.pick(demoLocations)},
			{field: "sex", action: "set", value: a.sex},
			{field: "age_estimate", action: "set", value: age},
			{field: "citizenship", action: "set", value: a.citizenship},
			{field: "child_presumed", action: "set", value: child},
			{field: "exploitation_types", action: "add", value: d.pick(demoExploit)},
			{field: "recruitment_channels", action: "add", value: d.pick(demoChannels)},
			{field: "payment_means", action: "add", value: d.pick(demoPayments)},
			{field: "indicators", action: "add", value: codes[d.rng.IntN(len(codes))]},
			{field: "indicators", action: "add", value: codes[d.rng.IntN(len(codes))]},
			{field: "notes", action: "append", value: map[string]string{"text": d.pick(demoNoteOpeners) + " " + d.pick(demoLocations) + "."}},
		}
		if i%4 == 1 {
			ops = append(ops, op{field: "exploitation_types", action: "add", value: d.pick(demoExploit)})
		}
		if i%3 == 0 {
			ref := map[string]any{"service": d.pick(demoServices), "organisation": "Regional anti-trafficking shelter",
				"date": a.encounter.AddDate(0, 0, d.rng.IntN(45)).Format(time.DateOnly)}
			if i%9 == 0 {
				ref["destination_country"], ref["cross_border"], ref["service"] = d.pick(demoAbroad), true, "return"
			}
			ops = append(ops, op{field: "referrals", action: "append", value: ref})
		}
		attrs = append(attrs, a)
		id := newID()
		if i == 0 {
			d.photoRecord = id
		}
		ids, err := d.write(a.writer, model.KindIdentification, id, ops...)
		if err != nil {
			return err
		}
		north := a.team == d.north.ID
		switch {
		case i%5 == 0:
			if err := d.conflict(id, "status", ids[2], north, "presumed", "withdrawn"); err != nil {
				return err
			}
		case i%7 == 3:
			other := "child"
			if a.ageGroup == "child" {
				other = "adult"
			}
			if err := d.conflict(id, "age_group", ids[3], north, a.ageGroup, other); err != nil {
				return err
			}
		case i%2 == 1:
			if err := d.review(id, ids[2], i%8 == 1); err != nil {
				return err
			}
		}
	}
	for _, n := range []int{4, 13} {
		if err := d.duplicateOf(attrs[n], n); err != nil {
			return err
		}
	}
	return d.visitorIdentifications()
}

// review is the supervisor's decision on a record: reviewed, and formally
// identified when identify (status set over statusOp).
func (d *demo) review(record, statusOp string, identify bool) error {
	sup := d.users["supervisor"]
	// In name order, not map order: each Update adds one to the counter,
	// so the order decides the supervisor's hlcs.
	for _, name := range slices.Sorted(maps.Keys(d.users)) {
		if _, err := sup.clock.Update(d.users[name].clock.Last()); err != nil {
			return err
		}
	}
	ops := []op{{field: "review_status", action: "set", value: "reviewed"}}
	if identify {
		ops = append([]op{{field: "status", action: "set", value: "identified", base: []string{statusOp}}}, ops...)
	}
	_, err := d.write("supervisor", model.KindIdentification, record, ops...)
	return err
}

// duplicateOf writes a second identification with the attributes of a
// (another team member met the same person a few days later).
func (d *demo) duplicateOf(a demoAttrs, n int) error {
	_, err := d.write(a.writer, model.KindIdentification, newID(),
		op{field: "team", action: "set", value: a.team},
		op{field: "code", action: "set", value: fmt.Sprintf("D-2026-%03d", n+1)},
		op{field: "status", action: "set", value: "potential"},
		op{field: "identifier_type", action: "set", value: "first_responder"},
		op{field: "encounter_date", action: "set", value: a.encounter.AddDate(0, 0, 3).Format(time.DateOnly)},
		op{field: "region", action: "set", value: a.region},
		op{field: "sex", action: "set", value: a.sex},
		op{field: "age_group", action: "set", value: a.ageGroup},
		op{field: "citizenship", action: "set", value: a.citizenship},
		op{field: "notes", action: "append", value: map[string]string{"text": "Second meeting; the person may already be registered."}},
	)
	return err
}

// visitorIdentifications: the action week's visitor records two potential
// victims for the host team, with a note each (write without read).
func (d *demo) visitorIdentifications() error {
	v := d.users["visitor.de"]
	v.p.WeekHostTeam = d.north.ID
	for i, text := range []string{
		"Met at the Munich bus terminal; says she was recruited in Koplik through a messaging app.",
		"Young man working in a car wash in Munich; his passport is held by the employer.",
	} {
		_, err := d.write("visitor.de", model.KindIdentification, newID(),
			op{field: "team", action: "set", value: d.north.ID},
			op{field: "code", action: "set", value: fmt.Sprintf("V-2026-%03d", i+1)},
			op{field: "status", action: "set", value: "potential"},
			op{field: "action_week", action: "set", value: d.week},
			op{field: "identifier_type", action: "set", value: "first_responder"},
			op{field: "encounter_date", action: "set", value: d.now().AddDate(0, 0, -1-i).Format(time.DateOnly)},
			op{field: "region", action: "set", value: "Shkodër"},
			op{field: "sex", action: "set", value: []string{"female", "male"}[i]},
			op{field: "age_group", action: "set", value: "adult"},
			op{field: "citizenship", action: "set", value: "AL"},
			op{field: "notes", action: "append", value: map[string]string{"text": text}},
		)
		if err != nil {
			return err
		}
	}
	return nil
}

// conflict makes two tablets of the team set field concurrently over the
// same base: the field worker writes a, the team lead b.
func (d *demo) conflict(record, field, base string, north bool, a, b string) error {
	wa, wb := "worker.north", "lead.north"
	if !north {
		wa, wb = "worker.south", "lead.south"
	}
	if _, err := d.write(wa, model.KindIdentification, record, op{field: field, action: "set", value: a, base: []string{base}}); err != nil {
		return err
	}
	_, err := d.write(wb, model.KindIdentification, record, op{field: field, action: "set", value: b, base: []string{base}})
	return err
}

func (d *demo) siteVisits() error {
	for i, town := range []string{"Shkodër", "Koplik", "Shkodër", "Vau i Dejës"} {
		writer := "visitor.de"
		if i%2 == 1 {
			writer = "worker.north"
		}
		_, err := d.write(writer, model.KindSiteVisit, newID(),
			op{field: "action_week", action: "set", value: d.week},
			op{field: "town", action: "set", value: town},
			op{field: "visited_on", action: "set", value: d.now().AddDate(0, 0, -i).Format(time.DateOnly)},
			op{field: "participants", action: "add", value: "Bundespolizei liaison officer"},
			op{field: "participants", action: "add", value: "State Police anti-trafficking unit"},
			op{field: "summary", action: "set", value: "Meeting with the municipal social services and a school director about recruitment through messaging apps."},
			op{field: "notes", action: "append", value: map[string]string{"text": "Two families reported offers of seasonal work abroad with advance travel costs."}},
		)
		if err != nil {
			return err
		}
	}
	return nil
}

// AttachmentCode is the code of the North identification that carries
// the demo's attachment, IdentityPhoto.
const AttachmentCode = "N-2026-001"

// AttachmentCaption is the caption of the demo's attachment.
const AttachmentCaption = "Photo of the identity document"

// IdentityPhoto returns the demo's attachment: a small PNG (a grey card
// with stripes standing in for a scanned identity document), the same
// bytes on every call.
func IdentityPhoto() []byte {
	img := image.NewGray(image.Rect(0, 0, 48, 30))
	for y := range 30 {
		for x := range 48 {
			c := uint8(200)
			if y >= 6 && y < 24 && x >= 4 && x < 16 {
				c = 90 // the portrait
			} else if y%5 == 2 && x >= 20 && x < 44 {
				c = 40 // a line of text
			}
			img.SetGray(x, y, color.Gray{Y: c})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(fmt.Sprintf("encode the demo photo: %v", err)) // a fixed in-memory image always encodes
	}
	return buf.Bytes()
}

// attachment stores IdentityPhoto as a completed blob of the North team's
// scope, uploaded by worker.north, and appends an attachments entry naming
// it to the identification AttachmentCode, as a tablet would after its
// upload.
func (d *demo) attachment() error {
	u := d.users["worker.north"]
	data := IdentityPhoto()
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	scope := access.Scope{Kind: model.KindIdentification, Team: d.north.ID}.Bucket()
	up := store.Upload{ID: newID(), Scope: scope, Digest: digest, Size: int64(len(data)), User: u.p.User, At: d.now().UTC()}
	if err := d.db.CreateUpload(d.ctx, up); err != nil {
		return err
	}
	if _, err := d.db.AppendUpload(d.ctx, up.ID, 0, data); err != nil {
		return err
	}
	b, err := d.db.CompleteUpload(d.ctx, up.ID, isPNG)
	if err != nil {
		return err
	}
	_, err = d.write("worker.north", model.KindIdentification, d.photoRecord,
		op{field: model.FieldAttachments, action: "append", value: map[string]any{"digest": b.Digest, "size": b.Size,
			"media_type": b.MediaType, "name": "identity-document.png", "caption": AttachmentCaption}})
	return err
}

// isPNG accepts only the PNG the demo generates.
func isPNG(head []byte) (string, error) {
	if !bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")) {
		return "", model.Errorf(model.CodeMediaType, "The demo's attachment must be a PNG.")
	}
	return "image/png", nil
}

// Banner tells a newcomer how to log in to a demo server on addr and where
// each feature the demo seeds is shown (the README's "What the demo shows,
// and where" says more).
func Banner(addr string) string {
	return fmt.Sprintf(`
Demo users (every demo password is %q):
  supervisor      national supervisor (reviews everything)
  lead.north      team lead, Mobile team North
  worker.north    field worker, Mobile team North (also worker2.north)
  lead.south      team lead, Mobile team South (also worker.south)
  visitor.de      action-week visitor (writes site visits and identifications, reads nothing)
  auditor         reads the audit log, never record content
Open the console in a browser and log in as supervisor:
  http://%s/
What to try there:
  Review queue    chips "Conflicting values" and badges "Possible duplicate"; open one, keep a value
  Records         every record, reviewed or not: search by code, filter, sort
  Figures         the monitoring tables
  Attachments     %s carries a photo of the identity document (API:
                  GET /v1/records/<id>/attachments/<digest>, see the README)
  Devices         %q, not seen for %d days: revoke it
  Accounts        teams, users, the action week's visitor with its validity
  Audit log       log in as auditor: the log and its hash chain
A rejected op on a tablet waits in its quarantine: see the README walkthrough
(fieldsync device quarantine).
Or try the API:
  curl -s -X POST http://%s/v1/auth/login -d '{"username":"supervisor","password":"%s"}' -H 'Content-Type: application/json'
`, Password, addr, AttachmentCode, StaleDevice, StaleDays, addr, Password)
}

// newID returns a fresh record, op, team, user or device id.
func newID() string { return uuid.Must(uuid.NewV7()).String() }
