package fieldsync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/fieldsync/fieldsync/model"
)

// Errors the SDK returns; test for them with errors.Is.
var (
	// ErrWiped: the server revoked this device or ended the user's grant,
	// and the SDK erased every local file. The Client is unusable; open
	// the directory again and log in to start afresh.
	ErrWiped = errors.New("fieldsync: this device's local data was wiped")
	// ErrClosed: the Client was closed.
	ErrClosed = errors.New("fieldsync: client closed")
	// ErrNotLoggedIn: writing needs a user and syncing a session; call
	// Login once.
	ErrNotLoggedIn = errors.New("fieldsync: not logged in")
	// ErrLoginRequired: the session ended (refresh refused); local data
	// and the outbox are kept, and syncing resumes after Login.
	ErrLoginRequired = errors.New("fieldsync: the session ended; log in again")
	// ErrNotFound: the record is not in the local replica.
	ErrNotFound = errors.New("fieldsync: record not found")
	// ErrNoFile: no live attachments entry of the record, as this device
	// holds it, names the file (never attached there, or redacted).
	ErrNoFile = errors.New("fieldsync: no live attachment of the record names this file")
	// ErrNoServer: Options.ServerURL is empty.
	ErrNoServer = errors.New("fieldsync: no server URL configured")
)

// APIError is an error response of the server: its HTTP status and the
// body {"error":{"code","message","wipe"?}} of DESIGN §5.
type APIError struct {
	// Status is the HTTP status.
	Status int
	// Code and Message are the body's error code and sentence.
	Code    model.Code
	Message string
	// Wipe is set when the device must erase its local data.
	Wipe bool
	// RetryAfter is the server's Retry-After (429), zero when absent.
	RetryAfter time.Duration
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("server answered %d %s: %s", e.Status, e.Code, e.Message)
}

// Temporary reports whether retrying the same request later may succeed
// (5xx, 429).
func (e *APIError) Temporary() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests
}

// transportError is a failure to exchange a request and its response: the
// connection broke, timed out, or the response was cut short. Nothing can
// be concluded about what the server applied; retrying is safe.
type transportError struct{ err error }

// Error implements error.
func (e *transportError) Error() string { return e.err.Error() }

// Unwrap returns the underlying network error.
func (e *transportError) Unwrap() error { return e.err }

// isTransient reports whether err is worth retrying with backoff.
func isTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var te *transportError
	if errors.As(err, &te) {
		return true
	}
	var ae *APIError
	return errors.As(err, &ae) && ae.Temporary()
}

// isWipe reports whether err tells the device to wipe.
func isWipe(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Wipe
}

// apiCode returns the code of the *APIError in err's chain ("" if none).
func apiCode(err error) model.Code {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

func retryAfter(err error) time.Duration {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.RetryAfter
	}
	return 0
}
