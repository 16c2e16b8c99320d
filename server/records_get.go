package server

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// recordReader is what GET /v1/records/:id needs from storage.
type recordReader interface {
	// Record returns a record's state; the caller must not modify it.
	Record(ctx context.Context, id string) (*protocol.RecordState, error)
	History(ctx context.Context, id string) ([]crdt.Op, error)
}

// getRecord handles GET /v1/records/:id (?history=true adds the ops). A
// record the caller may not read is 404, exactly like one that does not
// exist.
func (s *Server) getRecord(c *fiber.Ctx) error {
	id := c.Params("id")
	if !model.ValidID(id) {
		return model.Errorf(model.CodeInvalidID, "The record id must be a UUID in canonical lowercase form.")
	}
	st, err := s.db.Record(c.UserContext(), id)
	if err != nil || !access.CanRead(principal(c), st.Scope) {
		if err != nil && model.ErrorCode(err) != model.CodeNotFound {
			return err
		}
		return model.Errorf(model.CodeNotFound, "There is no record %s you may read.", id)
	}
	if auditsReads(principal(c), st.Record.Kind) {
		detail := "state"
		if c.QueryBool("history") {
			detail = "history"
		}
		if err := s.mustRecord(c.UserContext(), event(c, audit.ActionRecordRead, id, detail)); err != nil {
			return err
		}
	}
	if c.QueryBool("history") {
		history, err := s.db.History(c.UserContext(), id)
		if err != nil {
			return err
		}
		return sendJSON(c, st.Record.AppendJSON(nil, history))
	}
	return sendJSON(c, st.Record.Canonical())
}

// sendJSON sends bytes that already are JSON.
func sendJSON(c *fiber.Ctx, body []byte) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(body)
}
