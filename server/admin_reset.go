package server

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"time"

	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/auth"
)

// ResetResult is what ResetPassword did.
type ResetResult struct {
	// Generated is the new password when ResetPassword made one up ("" when
	// the caller gave it).
	Generated string
	// Enabled is true when the account was disabled and is enabled again.
	Enabled bool
}

// ResetPassword is the way back from a lost admin password: with the
// server stopped (the store allows one process), it sets username's
// password in dataDir's store to password (or, when empty, a generated
// one it returns), enables the account if it was disabled, revokes every
// token family of it, and writes the change to the audit log, whose chain
// it extends like the server does. now stamps the change.
func ResetPassword(ctx context.Context, dataDir, keyFile, username, password string, log *slog.Logger, now func() time.Time) (ResetResult, error) {
	var res ResetResult
	if password == "" {
		password = rand.Text()[:24]
		res.Generated = password
	}
	if err := auth.CheckPasswordStrength(password); err != nil {
		return ResetResult{}, err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return ResetResult{}, err
	}
	db, err := openStore(dataDir, keyFile, log)
	if err != nil {
		return ResetResult{}, err
	}
	defer db.Close()
	u, err := db.UserByName(ctx, username)
	if err != nil {
		return ResetResult{}, fmt.Errorf("find user %q: %w", username, err)
	}
	if _, err := db.SetPassword(ctx, u.ID, hash, now().UTC()); err != nil {
		return ResetResult{}, fmt.Errorf("set password: %w", err)
	}
	events := []audit.Event{{Action: audit.ActionPasswordReset, Object: u.ID, Detail: "cli"}}
	if u.Disabled() {
		if _, err := db.EnableUser(ctx, u.ID); err != nil {
			return ResetResult{}, fmt.Errorf("enable user: %w", err)
		}
		res.Enabled = true
		events = append(events, audit.Event{Action: audit.ActionUserEnabled, Object: u.ID, Detail: "cli"})
	}
	if err := audit.NewLog(db, now).Record(ctx, events...); err != nil {
		return ResetResult{}, fmt.Errorf("audit the password reset: %w", err)
	}
	return res, nil
}
