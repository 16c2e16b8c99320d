package review

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// Queue reason codes (api.QueueReason.Code).
const (
	ReasonNew           = "new"
	ReasonConflict      = "conflict"
	ReasonFormalStatus  = "formal_status"
	ReasonChildPresumed = "child_presumed"
	ReasonCrossBorder   = "cross_border_referral"
	ReasonVisitorNote   = "visitor_note"
)

// ReasonCodes lists every reason code.
var ReasonCodes = []string{ReasonNew, ReasonConflict, ReasonFormalStatus, ReasonChildPresumed, ReasonCrossBorder, ReasonVisitorNote}

// ValidReason reports whether code is a reason code.
func ValidReason(code string) bool { return slices.Contains(ReasonCodes, code) }

// Reasons returns why rec is in the review queue (none: it is not), in
// this order: conflicts by field name, new, formal_status, child_presumed,
// cross-border referrals and visitor notes in entry order. visitor reports
// whether a user id is a visitor's.
func Reasons(rec *crdt.Record, visitor func(user string) bool) []api.QueueReason {
	if rec.Kind != model.KindIdentification || rec.Deleted() {
		return nil
	}
	var out []api.QueueReason
	for _, name := range rec.Conflicts() {
		sib := rec.Siblings(name)
		out = append(out, api.QueueReason{Code: ReasonConflict, Field: name, Op: sib[0].Op, HLC: sib[0].HLC.String()})
	}
	decision := hlc.Timestamp(0)
	decisions := rec.Siblings(model.FieldReviewStatus)
	for _, s := range decisions {
		decision = max(decision, s.HLC)
	}
	if len(decisions) == 0 {
		out = append(out, api.QueueReason{Code: ReasonNew, HLC: created(rec).String()})
	}
	newer := func(t hlc.Timestamp) bool { return t > decision }
	if sib := rec.Siblings(model.FieldStatus); len(sib) > 0 && newer(sib[0].HLC) {
		if v := crdt.String(sib[0].Value); v == "potential" || v == "presumed" {
			out = append(out, api.QueueReason{Code: ReasonFormalStatus, Field: model.FieldStatus, Op: sib[0].Op, HLC: sib[0].HLC.String()})
		}
	}
	if sib := rec.Siblings("child_presumed"); len(sib) > 0 && newer(sib[0].HLC) && string(sib[0].Value) == "true" {
		out = append(out, api.QueueReason{Code: ReasonChildPresumed, Field: "child_presumed", Op: sib[0].Op, HLC: sib[0].HLC.String()})
	}
	citizenship := crdt.String(rec.Value("citizenship"))
	for _, e := range rec.Entries("referrals") {
		if e.Redacted || !newer(e.HLC) || !crossBorder(e.Value, citizenship) {
			continue
		}
		out = append(out, api.QueueReason{Code: ReasonCrossBorder, Field: "referrals", Op: e.Op, HLC: e.HLC.String()})
	}
	for _, e := range rec.Entries("notes") {
		if newer(e.HLC) && visitor(e.User) {
			out = append(out, api.QueueReason{Code: ReasonVisitorNote, Field: "notes", Op: e.Op, HLC: e.HLC.String()})
		}
	}
	return out
}

// created returns when a record without a decision entered the queue: the
// oldest sibling of its team, else its greatest hlc.
func created(rec *crdt.Record) hlc.Timestamp {
	at := rec.HLC
	for _, s := range rec.Siblings(model.FieldTeam) {
		at = min(at, s.HLC)
	}
	return at
}

// crossBorder reports whether a referrals entry sends the person abroad:
// "cross_border":true, or a destination_country other than citizenship
// (compared without case).
func crossBorder(entry json.RawMessage, citizenship string) bool {
	var v struct {
		CrossBorder        any `json:"cross_border"`
		DestinationCountry any `json:"destination_country"`
	}
	if json.Unmarshal(entry, &v) != nil {
		return false
	}
	if b, ok := v.CrossBorder.(bool); ok && b {
		return true
	}
	dest, _ := v.DestinationCountry.(string)
	return dest != "" && !strings.EqualFold(dest, citizenship)
}
