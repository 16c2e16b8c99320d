package protocol

import (
	"errors"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// Status is an op's outcome in a push.
type Status string

// The statuses.
const (
	StatusApplied   Status = "applied"
	StatusDuplicate Status = "duplicate"
	StatusRejected  Status = "rejected"
)

// Result is one op's outcome: for applied and duplicate ops the stamp the
// server stored, for rejected ops a code and a sentence.
type Result struct {
	ID      string     `json:"id"`
	Status  Status     `json:"status"`
	HLC     string     `json:"hlc,omitempty"`
	Code    model.Code `json:"code,omitempty"`
	Message string     `json:"message,omitempty"`
}

func applied(id string, t hlc.Timestamp) Result {
	return Result{ID: id, Status: StatusApplied, HLC: t.String()}
}

func duplicate(id string, t hlc.Timestamp) Result {
	return Result{ID: id, Status: StatusDuplicate, HLC: t.String()}
}

func rejected(id string, err error) Result {
	var e *model.Error
	if !errors.As(err, &e) {
		e = &model.Error{Code: model.CodeInternal, Message: "The op could not be checked."}
	}
	return Result{ID: id, Status: StatusRejected, Code: e.Code, Message: e.Message}
}
