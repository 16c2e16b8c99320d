package model

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestErrorf(t *testing.T) {
	e := Errorf(CodeInvalidValue, "The value of %q is %d bytes.", "notes", 3)
	if got, want := e.Code, CodeInvalidValue; got != want {
		t.Errorf("Code = %q, want %q", got, want)
	}
	if got, want := e.Message, `The value of "notes" is 3 bytes.`; got != want {
		t.Errorf("Message = %q, want %q", got, want)
	}
	if e.Err != nil {
		t.Errorf("Err = %v, want nil", e.Err)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"without cause", &Error{Code: CodeForbidden, Message: "No."}, "forbidden: No."},
		{"with cause", &Error{Code: CodeInternal, Message: "Disk.", Err: io.ErrUnexpectedEOF}, "internal: Disk.: unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorUnwrap(t *testing.T) {
	e := &Error{Code: CodeInternal, Message: "Disk.", Err: io.ErrUnexpectedEOF}
	if got, want := e.Unwrap(), io.ErrUnexpectedEOF; got != want {
		t.Errorf("Unwrap() = %v, want %v", got, want)
	}
	if !errors.Is(e, io.ErrUnexpectedEOF) {
		t.Error("errors.Is does not see the cause")
	}
	if got := (&Error{Code: CodeForbidden}).Unwrap(); got != nil {
		t.Errorf("Unwrap() without cause = %v, want nil", got)
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	const generic = "An internal error occurred; nothing of this request was applied."
	tests := []struct {
		name     string
		err      error
		wantCode Code
		wantMsg  string
	}{
		{"model error", Errorf(CodeUnknownKind, "There is no record kind."), CodeUnknownKind, "There is no record kind."},
		{"wrapped", fmt.Errorf("push ops: %w", Errorf(CodeForbidden, "Not yours.")), CodeForbidden, "Not yours."},
		{"first in chain", &Error{Code: CodeConflict, Message: "Outer.", Err: Errorf(CodeForbidden, "Inner.")}, CodeConflict, "Outer."},
		{"plain error", errors.New("badger: disk full at /var/lib/x"), CodeInternal, generic},
		{"nil", nil, CodeInternal, generic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ErrorCode(tt.err); got != tt.wantCode {
				t.Errorf("ErrorCode = %q, want %q", got, tt.wantCode)
			}
			if got := ErrorMessage(tt.err); got != tt.wantMsg {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.wantMsg)
			}
		})
	}
}
