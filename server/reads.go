package server

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/review"
	"github.com/fieldsync/fieldsync/server/store"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// The store reads the casework endpoints (review, duplicates, links,
// figures, exports) share. The rules those endpoints apply live in the
// pure packages server/review, server/figures and server/export.

// scanReadable calls fn for every identification p may read.
func (s *Server) scanReadable(ctx context.Context, p *access.Principal, fn func(sum store.Summary, rec *crdt.Record) error) error {
	return s.db.ScanRecords(ctx, model.KindIdentification, func(sc access.Scope) bool { return access.CanRead(p, sc) }, fn)
}

// visitorsOf returns a lookup of the users who are visitors.
func (s *Server) visitorsOf(ctx context.Context) (func(string) bool, error) {
	users, err := s.db.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	visitors := map[string]bool{}
	for _, u := range users {
		if u.Role == model.RoleVisitor {
			visitors[u.ID] = true
		}
	}
	return func(id string) bool { return visitors[id] }, nil
}

// teamNames returns team id -> name.
func (s *Server) teamNames(ctx context.Context) (map[string]string, error) {
	teams, err := s.db.ListTeams(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(teams))
	for _, t := range teams {
		out[t.ID] = t.Name
	}
	return out, nil
}

// linkPairs returns the records of every stored link. Callers show a link
// only between two records the caller may read.
func (s *Server) linkPairs(ctx context.Context) ([][2]string, error) {
	all, err := s.db.Links(ctx)
	if err != nil {
		return nil, err
	}
	out := make([][2]string, len(all))
	for i, l := range all {
		out[i] = l.Records
	}
	return out, nil
}

// links returns every stored link as the review rules take them.
func (s *Server) links(ctx context.Context) (review.Links, error) {
	pairs, err := s.linkPairs(ctx)
	if err != nil {
		return nil, err
	}
	return review.NewLinks(pairs), nil
}

// readableIdentification returns nil when id is an identification p may
// read, otherwise the not_found error a record that does not exist gets.
func (s *Server) readableIdentification(ctx context.Context, p *access.Principal, id string) error {
	st, err := s.db.Record(ctx, id)
	if err != nil && model.ErrorCode(err) != model.CodeNotFound {
		return err
	}
	if err != nil || !access.CanRead(p, st.Scope) || st.Record.Kind != model.KindIdentification {
		return model.Errorf(model.CodeNotFound, "There is no identification %s you may read.", id)
	}
	return nil
}

// queryOf returns c's query parameters as the rule packages read them.
func queryOf(c *fiber.Ctx) func(string) string {
	return func(key string) string { return c.Query(key) }
}
