package server

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// pull handles GET /v1/sync/pull?cursor=&limit=. A supervisor's page that
// serves ops of identification records is audited before it is sent: one
// records_pulled entry per page with its counts (never ids or content), so
// a full sync writes one entry per page; a page that cannot be audited is
// refused (the device retries from the same cursor).
func (s *Server) pull(c *fiber.Ctx) error {
	limit, err := queryLimit(c, fmt.Sprintf("it is clamped to 1..%d", s.cfg.Limits.MaxPull))
	if err != nil {
		return err
	}
	res, err := s.sync.Pull(c.UserContext(), principal(c), c.Query("cursor"), limit)
	if err != nil {
		return err
	}
	if auditsReads(principal(c), model.KindIdentification) && res.IdentificationOps > 0 {
		if err := s.mustRecord(c.UserContext(), event(c, audit.ActionRecordsPulled, "", pullDetail(res))); err != nil {
			return err
		}
	}
	s.metrics.pulledOps.Add(float64(len(res.Ops)))
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(appendPullPage(nil, &res))
}

// queryLimit reads a page route's ?limit= (0 when absent, at least 1
// otherwise; the service clamps it), explaining a bad one with clamp.
func queryLimit(c *fiber.Ctx, clamp string) (int, error) {
	v := c.Query("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, model.Errorf(model.CodeInvalidRequest, "limit must be an integer; %s.", clamp)
	}
	return max(n, 1), nil
}

// appendPullPage appends res as the JSON of api.PullResponse, byte for byte
// what encoding/json would write, without decoding and re-encoding the
// stored ops: each op's stored canonical JSON is copied once, with only the
// characters encoding/json escapes in strings ('<', '>', '&', U+2028,
// U+2029) escaped the same way.
func appendPullPage(buf []byte, res *protocol.PullResult) []byte {
	n := 128 + 40*(len(res.Drop)+len(res.Erased))
	for _, op := range res.Ops {
		n += len(op) + 1
	}
	buf = slices.Grow(buf, n)
	buf = append(buf, `{"ops":[`...)
	for i, op := range res.Ops {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendEscapedJSON(buf, op)
	}
	buf = append(buf, `],"cursor":`...)
	buf = appendJSONString(buf, res.Cursor)
	buf = append(buf, `,"more":`...)
	buf = strconv.AppendBool(buf, res.More)
	buf = append(buf, `,"drop":`...)
	if res.Drop == nil {
		buf = append(buf, "null"...)
	} else {
		buf = append(buf, '[')
		for i, id := range res.Drop {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, id)
		}
		buf = append(buf, ']')
	}
	if len(res.Erased) > 0 {
		buf = append(buf, `,"erased":[`...)
		for i, id := range res.Erased {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, id)
		}
		buf = append(buf, ']')
	}
	buf = append(buf, `,"server_hlc":`...)
	buf = appendJSONString(buf, res.ServerHLC.String())
	return append(buf, '}')
}

// appendJSONString appends s as encoding/json writes a string.
func appendJSONString(buf []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(buf, b...)
}

// appendEscapedJSON appends the valid, compact JSON js with '<', '>', '&',
// U+2028 and U+2029 escaped as encoding/json escapes them (they can only
// occur inside strings).
func appendEscapedJSON(buf, js []byte) []byte {
	start := 0
	for i := 0; i < len(js); i++ {
		c := js[i]
		switch {
		case c == '<' || c == '>' || c == '&':
			buf = append(buf, js[start:i]...)
			buf = append(buf, '\\', 'u', '0', '0', hexDigit[c>>4], hexDigit[c&0xf])
			start = i + 1
		case c == 0xE2 && i+2 < len(js) && js[i+1] == 0x80 && js[i+2]&^1 == 0xA8:
			buf = append(buf, js[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigit[js[i+2]&0xf])
			start = i + 3
			i += 2
		}
	}
	return append(buf, js[start:]...)
}

const hexDigit = "0123456789abcdef"

// pullDetail is the audit detail of a pulled page: its counts.
func pullDetail(res protocol.PullResult) string {
	return strconv.Itoa(res.IdentificationOps) + " ops of " + strconv.Itoa(res.IdentificationRecords) + " records"
}
