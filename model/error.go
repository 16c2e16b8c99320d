package model

import (
	"errors"
	"fmt"
)

// Code is a stable snake_case error code of the wire protocol (DESIGN §5).
// A code is never reused for another meaning.
type Code string

// Error codes. The HTTP status of each is decided in one place, the server.
const (
	CodeInvalidJSON     Code = "invalid_json"
	CodeBodyTooLarge    Code = "body_too_large"
	CodeHeadersTooLarge Code = "headers_too_large"
	CodeTooManyOps      Code = "too_many_ops"
	CodeTooDeep         Code = "too_deep"
	CodeInvalidOp       Code = "invalid_op"
	CodeInvalidID       Code = "invalid_id"
	CodeInvalidHLC      Code = "invalid_hlc"
	CodeUnknownKind     Code = "unknown_kind"
	CodeUnknownField    Code = "unknown_field"
	CodeInvalidValue    Code = "invalid_value"
	CodeUnknownRecord   Code = "unknown_record"
	CodeRecordTooLarge  Code = "record_too_large"
	// CodeRecordErased: an op on a record that retention erased; the
	// record cannot come back, and the device deletes its copy.
	CodeRecordErased       Code = "record_erased"
	CodeIDConflict         Code = "id_conflict"
	CodeKindMismatch       Code = "kind_mismatch"
	CodeForbidden          Code = "forbidden"
	CodeNotFound           Code = "not_found"
	CodeUnauthorized       Code = "unauthorized"
	CodeTokenExpired       Code = "token_expired"
	CodeTokenReused        Code = "token_reused"
	CodeDeviceRevoked      Code = "device_revoked"
	CodeGrantExpired       Code = "grant_expired"
	CodeAccountDisabled    Code = "account_disabled"
	CodeWeakPassword       Code = "weak_password"
	CodeResyncRequired     Code = "resync_required"
	CodeInvalidCursor      Code = "invalid_cursor"
	CodeInvalidCredentials Code = "invalid_credentials"
	CodeRateLimited        Code = "rate_limited"
	CodeInvalidRequest     Code = "invalid_request"
	CodeConflict           Code = "conflict"
	CodeUnavailable        Code = "unavailable"
	CodeInternal           Code = "internal"
	CodeDigestMismatch     Code = "digest_mismatch"
	CodeUploadOffset       Code = "upload_offset"
	CodeBlobTooLarge       Code = "blob_too_large"
	CodeMediaType          Code = "media_type"
)

// Error is the one error type of fieldsync: a code, a sentence for a human,
// and optionally the underlying cause (never shown to clients).
type Error struct {
	Code    Code
	Message string
	Err     error
}

// Errorf returns an *Error with code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the code of the first *Error in err's chain, or
// CodeInternal when there is none.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the human sentence of the first *Error in err's
// chain, or a generic sentence that leaks nothing internal.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "An internal error occurred; nothing of this request was applied."
}
