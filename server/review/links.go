package review

import (
	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// LinkChange is what one POST /v1/review/links asks: link (or unlink) A
// and B, in the order the caller named them.
type LinkChange struct {
	A, B   string
	Unlink bool
}

// PlanLink checks a link request: exactly two distinct record ids.
// Whether the caller may read both is the server's to check.
func PlanLink(req api.LinkRequest) (LinkChange, error) {
	if len(req.Records) != 2 {
		return LinkChange{}, model.Errorf(model.CodeInvalidRequest, "records must name exactly two records.")
	}
	a, b := req.Records[0], req.Records[1]
	if !model.ValidID(a) || !model.ValidID(b) {
		return LinkChange{}, model.Errorf(model.CodeInvalidID, "Both record ids must be UUIDs in canonical lowercase form.")
	}
	if a == b {
		return LinkChange{}, model.Errorf(model.CodeInvalidRequest, "A record cannot be linked to itself.")
	}
	return LinkChange{A: a, B: b, Unlink: req.Unlink}, nil
}

// Details returns the audit details of the change for A's entry and for
// B's entry ("linked to <B>", "linked to <A>"; "unlinked from" when
// unlinking).
func (l LinkChange) Details() (forA, forB string) {
	verb := "linked to "
	if l.Unlink {
		verb = "unlinked from "
	}
	return verb + l.B, verb + l.A
}

// Response is the answer to the request; changed is false when the link
// was already in the state asked for.
func (l LinkChange) Response(changed bool) api.LinkResponse {
	return api.LinkResponse{Records: []string{l.A, l.B}, Linked: !l.Unlink, Changed: changed, Results: []protocol.Result{}}
}

// VisibleLinks returns the links of record to the records readable
// reports the caller may read; the others are left out as if they did not
// exist.
func VisibleLinks(record string, links []api.Link, readable func(id string) bool) api.LinkList {
	out := api.LinkList{Record: record, Links: []api.Link{}}
	for _, l := range links {
		other := l.Records[0]
		if other == record {
			other = l.Records[1]
		}
		if readable(other) {
			out.Links = append(out.Links, l)
		}
	}
	return out
}
