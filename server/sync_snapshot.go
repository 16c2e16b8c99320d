package server

import (
	"fmt"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// snapshot handles GET /v1/sync/snapshot?cursor=&limit=: one page of the
// record states a device may read, for its first sync, the open cases
// first (Config.Limits.OpenCases, protocol.Service.Snapshot). Access is the
// pull's; a supervisor's page holding identification records is audited
// before it is sent, as a pull page is (records_pulled, counts only), and
// a page that cannot be audited is refused.
func (s *Server) snapshot(c *fiber.Ctx) error {
	limit, err := queryLimit(c, "it is clamped to the snapshot's page size")
	if err != nil {
		return err
	}
	res, err := s.sync.Snapshot(c.UserContext(), principal(c), c.Query("cursor"), limit)
	if err != nil {
		return err
	}
	if auditsReads(principal(c), model.KindIdentification) && res.IdentificationRecords > 0 {
		detail := strconv.Itoa(res.IdentificationRecords) + " records (snapshot)"
		if err := s.mustRecord(c.UserContext(), event(c, audit.ActionRecordsPulled, "", detail)); err != nil {
			return err
		}
	}
	out, err := snapshotResponse(&res)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// snapshotResponse encodes a snapshot page for the wire.
func snapshotResponse(res *protocol.SnapshotResult) (api.SnapshotResponse, error) {
	out := api.SnapshotResponse{Records: make([]api.SnapshotRecord, 0, len(res.Records)), Cursor: res.Cursor, More: res.More,
		OpenCasesDone: res.OpenCasesDone, PullCursor: res.PullCursor, ServerHLC: res.ServerHLC.String()}
	for _, r := range res.Records {
		state, err := r.Record.MarshalBinary()
		if err != nil {
			return api.SnapshotResponse{}, fmt.Errorf("encode snapshot record: %w", err)
		}
		out.Records = append(out.Records, api.SnapshotRecord{ID: r.Record.ID, Kind: r.Record.Kind, State: state})
	}
	return out, nil
}
