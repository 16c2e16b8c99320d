package auth

import (
	"errors"

	"github.com/fieldsync/fieldsync/model"
)

// isNotFound reports whether err is the store's CodeNotFound.
func isNotFound(err error) bool {
	return err != nil && model.ErrorCode(err) == model.CodeNotFound
}

// isCode reports whether err carries an *model.Error of code.
func isCode(err error, code model.Code) bool {
	var e *model.Error
	return errors.As(err, &e) && e.Code == code
}

// errInvalidCredentials is the one answer to a wrong username or password.
func errInvalidCredentials() error {
	return model.Errorf(model.CodeInvalidCredentials, "Wrong username or password.")
}

// errGrantExpired tells a visitor their grant has ended.
func errGrantExpired() error {
	return model.Errorf(model.CodeGrantExpired, "Your access for this action week has ended.")
}

// errAccountDisabled tells a user their account was disabled.
func errAccountDisabled() error {
	return model.Errorf(model.CodeAccountDisabled, "This account has been disabled; ask an administrator.")
}

// errDeviceRevoked tells a device it was revoked (its client then wipes).
func errDeviceRevoked() error {
	return model.Errorf(model.CodeDeviceRevoked, "This device has been revoked.")
}

// errTokenReused tells a caller its token family was ended for reuse.
func errTokenReused() error {
	return model.Errorf(model.CodeTokenReused,
		"This refresh token was already used, so this login has been ended on every device; sign in again.")
}

// errSessionEnded tells a caller its token family was revoked.
func errSessionEnded() error {
	return unauthorized("This session has ended; sign in again.")
}
