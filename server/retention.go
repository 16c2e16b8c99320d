package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/retention"
	"github.com/fieldsync/fieldsync/server/store"
	"github.com/fieldsync/fieldsync/sync/access"
)

// Retention (issue 12 item 3; DESIGN §3): the configured rules
// (server/retention) decide which records expire; the store erases them
// (server/store/retention.go). Routes: a legal hold per record
// (supervisors of its jurisdiction and admins), a dry run listing what
// would go, an erasure at once (admins), the purges devices have not yet
// acknowledged, and the devices' acknowledgements.

// retentionStore is what retention needs from storage.
type retentionStore interface {
	RetentionRecords(ctx context.Context, kinds []string) ([]store.RetentionCandidate, error)
	EraseRecord(ctx context.Context, id, rule string, at time.Time, judge store.Judge, entries []audit.Entry) error
	SetHold(ctx context.Context, id string, hold bool, by string, at time.Time, entries []audit.Entry) error
	HoldOf(ctx context.Context, id string) (store.Hold, bool, error)
	Tombstones(ctx context.Context) ([]store.Tombstone, error)
	PurgeAcks(ctx context.Context, id string) (map[string]bool, error)
	AckPurges(ctx context.Context, device string, records []string, at time.Time) (int, error)
}

var _ retentionStore = (*store.DB)(nil)

// PlanRetention returns the records rules expire at now whose scope
// visible accepts (nil: all), by record id. It changes nothing.
func PlanRetention(ctx context.Context, db retentionStore, rules retention.Rules, now time.Time, visible func(access.Scope) bool) ([]retention.Expired, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	cands, err := db.RetentionRecords(ctx, rules.Kinds())
	if err != nil {
		return nil, fmt.Errorf("plan retention: %w", err)
	}
	var out []retention.Expired
	for _, c := range cands {
		if visible != nil && !visible(c.Scope) {
			continue
		}
		if c.KeyGone {
			// Erased before (a store restored from an older backup): its
			// labels are unreadable, and it goes again.
			out = append(out, retention.Expired{ID: c.ID, Kind: c.Kind, Rule: store.RuleErasedBefore})
			continue
		}
		if r, ok := rules.Judge(c.Record, now); ok {
			out = append(out, retention.Expired{ID: c.ID, Kind: c.Kind, Rule: r.Name()})
		}
	}
	return out, nil
}

// RunRetention erases every record rules expire at now, each in one
// transaction with its audit entry (record id, rule, time; actor
// "retention"); a record that changed or was put on hold since the plan
// is skipped. It returns what it erased; on an error, what it erased
// before.
func RunRetention(ctx context.Context, db retentionStore, log *audit.Log, rules retention.Rules, now time.Time) ([]retention.Expired, error) {
	plan, err := PlanRetention(ctx, db, rules, now, nil)
	if err != nil {
		return nil, err
	}
	judge := func(r retention.Record) (string, bool) {
		rule, ok := rules.Judge(r, now)
		return rule.Name(), ok
	}
	var done []retention.Expired
	for _, e := range plan {
		ev := audit.Event{Actor: "retention", Action: audit.ActionRetentionErased, Object: e.ID, Detail: e.Rule}
		err := log.RecordWith(ctx, func(ctx context.Context, entries []audit.Entry) error {
			return db.EraseRecord(ctx, e.ID, e.Rule, now, judge, entries)
		}, ev)
		switch {
		case model.ErrorCode(err) == model.CodeConflict || model.ErrorCode(err) == model.CodeNotFound:
			continue // changed, held or gone since the plan
		case err != nil:
			return done, fmt.Errorf("erase record %s: %w", e.ID, err)
		}
		done = append(done, e)
	}
	return done, nil
}

// Retain runs the retention erasure now, with the server's rules and
// clock, and wakes the devices that must drop what it erased.
func (s *Server) Retain(ctx context.Context) ([]retention.Expired, error) {
	done, err := RunRetention(ctx, s.db, s.audit, s.cfg.Retention, s.now())
	if len(done) > 0 {
		s.log.Warn("retention erased records", "records", len(done))
		s.changes.notify()
	}
	return done, err
}

// retentionPlan handles GET /v1/admin/retention: a dry run listing the
// records the rules expire now (for a supervisor, of its jurisdiction):
// ids, kinds and rules, never content. Nothing changes.
func (s *Server) retentionPlan(c *fiber.Ctx) error {
	p := principal(c)
	var visible func(access.Scope) bool
	if p.Role != model.RoleAdmin {
		visible = func(sc access.Scope) bool { return access.CanRead(p, sc) }
	}
	plan, err := PlanRetention(c.UserContext(), s.db, s.cfg.Retention, s.now(), visible)
	if err != nil {
		return err
	}
	return c.JSON(retentionAnswer(s.cfg.Retention, plan))
}

// retentionRun handles POST /v1/admin/retention/run (admins): the
// retention erasure at once.
func (s *Server) retentionRun(c *fiber.Ctx) error {
	done, err := s.Retain(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(retentionAnswer(s.cfg.Retention, done))
}

func retentionAnswer(rules retention.Rules, es []retention.Expired) api.RetentionPlan {
	out := api.RetentionPlan{Rules: rules.String(), Records: make([]api.RetentionItem, 0, len(es))}
	for _, e := range es {
		out.Records = append(out.Records, api.RetentionItem{ID: e.ID, Kind: e.Kind, Rule: e.Rule})
	}
	return out
}

// setHold handles PUT /v1/records/:id/hold and clearHold DELETE: a
// supervisor holds the records of its jurisdiction, an admin any record;
// a record the caller may not read answers as one that does not exist.
// Each change is audited with the change itself.
func (s *Server) setHold(c *fiber.Ctx) error   { return s.changeHold(c, true) }
func (s *Server) clearHold(c *fiber.Ctx) error { return s.changeHold(c, false) }

func (s *Server) changeHold(c *fiber.Ctx, hold bool) error {
	id := c.Params("id")
	if !model.ValidID(id) {
		return model.Errorf(model.CodeInvalidID, "The record id must be a UUID in canonical lowercase form.")
	}
	ctx, p := c.UserContext(), principal(c)
	st, err := s.db.Record(ctx, id)
	if err != nil || (p.Role != model.RoleAdmin && !access.CanRead(p, st.Scope)) {
		if err == nil || model.ErrorCode(err) == model.CodeNotFound {
			return model.Errorf(model.CodeNotFound, "There is no record %s you may hold.", id)
		}
		return err
	}
	action := audit.ActionLegalHoldCleared
	if hold {
		action = audit.ActionLegalHoldSet
	}
	now := s.now().UTC()
	err = s.audit.RecordWith(ctx, func(ctx context.Context, entries []audit.Entry) error {
		return s.db.SetHold(ctx, id, hold, p.User, now, entries)
	}, event(c, action, id, ""))
	if err != nil {
		return err
	}
	out := api.Hold{Record: id, Held: hold}
	if hold {
		out.By, out.At = p.User, &now
	}
	return c.JSON(out)
}

// ackPurges handles POST /v1/sync/purges: the caller's device
// acknowledges that it deleted the erased records it names.
func (s *Server) ackPurges(c *fiber.Ctx) error {
	var req api.PurgeAckRequest
	if err := decodeBody(c.Body(), s.cfg.MaxDepth, &req); err != nil {
		return err
	}
	if len(req.Records) > s.cfg.Limits.MaxOps {
		return model.Errorf(model.CodeTooManyOps, "An acknowledgement names at most %d records; send the rest in another.", s.cfg.Limits.MaxOps)
	}
	for _, id := range req.Records {
		if !model.ValidID(id) {
			return model.Errorf(model.CodeInvalidID, "Every record id must be a UUID in canonical lowercase form.")
		}
	}
	p := principal(c)
	n, err := s.db.AckPurges(c.UserContext(), p.Device, req.Records, s.now())
	if err != nil {
		return err
	}
	return c.JSON(api.PurgeAckResponse{Acknowledged: n})
}

// listPurges handles GET /v1/admin/purges: each retention erasure (of
// the caller's jurisdiction, for a supervisor) with the devices that
// must still acknowledge it: every device, not revoked, registered
// before the erasure, of an account not disabled that could read the
// record.
func (s *Server) listPurges(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	tombs, err := s.db.Tombstones(ctx)
	if err != nil {
		return err
	}
	devices, byID, err := s.devicesAndUsers(ctx)
	if err != nil {
		return err
	}
	accountOf := s.accountResolver(ctx)
	out := api.PurgeList{Purges: []api.Purge{}}
	for _, t := range tombs {
		scope := t.Scope()
		if scope.ActionWeek != "" {
			if st, err := s.db.Record(ctx, scope.ActionWeek); err == nil {
				scope.HostTeam = st.Scope.HostTeam
			}
		}
		if p.Role != model.RoleAdmin && !access.CanRead(p, scope) {
			continue
		}
		acks, err := s.db.PurgeAcks(ctx, t.Record)
		if err != nil {
			return err
		}
		pu := api.Purge{Record: t.Record, Kind: t.Kind, Rule: t.Rule, At: t.At, Pending: []api.PurgeDevice{}}
		for _, d := range devices {
			u := byID[d.User]
			if u == nil || u.Disabled() || d.Revoked() || acks[d.ID] || !d.CreatedAt.Before(t.At) {
				continue
			}
			a := accountOf(u)
			reader := &access.Principal{User: u.ID, Device: d.ID, Role: u.Role, Teams: u.Teams, ActionWeek: u.ActionWeek, WeekHostTeam: a.WeekHostTeam}
			if !access.CanRead(reader, scope) {
				continue
			}
			pu.Pending = append(pu.Pending, api.PurgeDevice{Device: d.ID, User: u.ID, Username: u.Username, Name: d.Name})
		}
		out.Purges = append(out.Purges, pu)
	}
	return c.JSON(out)
}

// Purge runs retention on dataDir's store with the server stopped: with
// dryRun, it lists what rules expire at now and changes nothing;
// otherwise it erases them, each audited. It writes one line per record
// to w (id, kind, rule; never content) and a count.
func Purge(ctx context.Context, dataDir, keyFile string, rules retention.Rules, now time.Time, dryRun bool, log *slog.Logger, w io.Writer) (err error) {
	if len(rules) == 0 {
		return errors.New("no retention rules: give --retention (or FIELDSYNC_RETENTION); " + retention.Syntax)
	}
	db, err := openStore(dataDir, keyFile, log)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	var es []retention.Expired
	verb := "would erase"
	if dryRun {
		es, err = PlanRetention(ctx, db, rules, now, nil)
	} else {
		verb = "erased"
		es, err = RunRetention(ctx, db, audit.NewLog(db, func() time.Time { return now }), rules, now)
	}
	for _, e := range es {
		fmt.Fprintf(w, "%s %s %s %s\n", verb, e.ID, e.Kind, e.Rule)
	}
	fmt.Fprintf(w, "%d records %s under %s\n", len(es), verb, rules)
	return err
}
