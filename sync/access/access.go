// Package access decides who may read and write what (DESIGN §6): the
// principal a request acts for, the bucket a record lives in, and the
// per-op, per-field write rules. It is pure: callers bring the record state
// and the action week's host team.
//
// Invariants: deny by default. A role, kind or field without a rule here is
// refused; a record the caller may not read is invisible (never
// distinguishable from one that does not exist).
package access

import (
	"slices"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// Principal is who a request acts for: a user of one role, on one device.
type Principal struct {
	User   string
	Device string
	Role   model.Role
	// Teams: for field workers and team leads their teams; for a
	// supervisor the jurisdiction (empty = national).
	Teams []string
	// ActionWeek and ValidUntil hold a visitor's grant.
	ActionWeek string
	ValidUntil time.Time
	// WeekHostTeam is the host team of a visitor's action week, for whom
	// the visitor may create identifications.
	WeekHostTeam string
}

// National reports whether p is a supervisor without a jurisdiction limit.
func (p *Principal) National() bool {
	return p.Role == model.RoleSupervisor && len(p.Teams) == 0
}

// InTeam reports whether team is one of p's teams (or, for a national
// supervisor, any team).
func (p *Principal) InTeam(team string) bool {
	return p.National() || team != "" && slices.Contains(p.Teams, team)
}

// GrantExpired reports whether p is a visitor whose grant has ended at now.
func (p *Principal) GrantExpired(now time.Time) bool {
	return p.Role == model.RoleVisitor && !now.Before(p.ValidUntil)
}

// Syncs reports whether p's role takes part in sync at all (pushes and
// pulls records). Auditors and admins never see record content.
func (p *Principal) Syncs() bool {
	switch p.Role {
	case model.RoleFieldWorker, model.RoleTeamLead, model.RoleVisitor, model.RoleSupervisor:
		return true
	}
	return false
}

// Scope is where a record lives, as far as access is concerned.
type Scope struct {
	Kind string
	// Team is an identification's team.
	Team string
	// ActionWeek is a site visit's action week, or an action week's own id.
	ActionWeek string
	// HostTeam is the host team of ActionWeek (for action weeks and site
	// visits), "" when unknown.
	HostTeam string
	// Creator is the user whose op created the record at the server.
	Creator string
}

// Bucket is the feed a record's ops are indexed under: "t:<team>" for an
// identification, "w:<action week>" for an action week and its site
// visits. A record with no scope yet has no bucket.
func (s Scope) Bucket() string {
	switch s.Kind {
	case model.KindIdentification:
		if s.Team != "" {
			return TeamBucket(s.Team)
		}
	case model.KindActionWeek, model.KindSiteVisit:
		if s.ActionWeek != "" {
			return WeekBucket(s.ActionWeek)
		}
	}
	return ""
}

// TeamBucket names a team's feed.
func TeamBucket(team string) string { return "t:" + team }

// WeekBucket names an action week's feed.
func WeekBucket(week string) string { return "w:" + week }

// CanRead reports whether p may read a record in scope s.
func CanRead(p *Principal, s Scope) bool {
	switch s.Kind {
	case model.KindIdentification:
		switch p.Role {
		case model.RoleFieldWorker, model.RoleTeamLead, model.RoleSupervisor:
			return p.InTeam(s.Team)
		}
	case model.KindActionWeek, model.KindSiteVisit:
		switch p.Role {
		case model.RoleVisitor:
			return s.ActionWeek != "" && p.ActionWeek == s.ActionWeek
		case model.RoleFieldWorker, model.RoleTeamLead, model.RoleSupervisor:
			return p.InTeam(s.HostTeam)
		}
	}
	return false
}

// Buckets returns the feeds p reads, given the action weeks hosted by p's
// teams; all is true for a national supervisor, who reads every feed.
func Buckets(p *Principal, hostedWeeks []string) (buckets []string, all bool) {
	switch p.Role {
	case model.RoleVisitor:
		return []string{WeekBucket(p.ActionWeek)}, false
	case model.RoleFieldWorker, model.RoleTeamLead, model.RoleSupervisor:
		if p.National() {
			return nil, true
		}
		for _, t := range p.Teams {
			buckets = append(buckets, TeamBucket(t))
		}
		for _, w := range hostedWeeks {
			buckets = append(buckets, WeekBucket(w))
		}
		slices.Sort(buckets)
		return slices.Compact(buckets), false
	}
	return nil, false
}

// ScopeOf returns the scope of rec, created by creator, where hostTeam
// looks up an action week's host team ("" when unknown).
func ScopeOf(rec *crdt.Record, creator string, hostTeam func(week string) string) Scope {
	s := Scope{Kind: rec.Kind, Creator: creator}
	switch rec.Kind {
	case model.KindIdentification:
		s.Team = crdt.String(rec.Value(model.FieldTeam))
	case model.KindSiteVisit:
		s.ActionWeek = crdt.String(rec.Value(model.FieldActionWeek))
	case model.KindActionWeek:
		s.ActionWeek = rec.ID
		s.HostTeam = crdt.String(rec.Value(model.FieldHostTeam))
		return s
	}
	if s.ActionWeek != "" && hostTeam != nil {
		s.HostTeam = hostTeam(s.ActionWeek)
	}
	return s
}
