package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	fieldsync "github.com/fieldsync/fieldsync/clients/go"
	"github.com/fieldsync/fieldsync/server"
)

// startDemo runs a demo server in a temporary directory and returns its
// URL.
func startDemo(t *testing.T) string {
	t.Helper()
	m := server.NewMain()
	m.Stdout = io.Discard
	m.Log = slog.New(slog.DiscardHandler)
	args := []string{"--addr", "127.0.0.1:0", "--metrics-addr", "", "--data", filepath.Join(t.TempDir(), "data"), "--demo"}
	if err := m.ParseFlags(args, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return "http://" + m.Addr()
}

// mistype writes, with the SDK and no check, an identification of a team
// the user is not in (as a device with a stale team list would) and
// returns its id.
func mistype(t *testing.T, url, dir, code string) string {
	t.Helper()
	c, err := fieldsync.Open(dir, fieldsync.Options{ServerURL: url, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, err := c.CreateIdentification(context.Background(), uuid.NewString(), fieldsync.F("code", code), fieldsync.F("status", "potential"))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestDeviceExplainsItself plays the README's device walkthrough against a
// demo server: login and teams print team names, a team is taken by name
// and checked offline, sync says what it pushed, pulled and rejected (as
// sentences, exiting 1), and the quarantine lists, shows, re-sends after a
// fix and drops. Every message is compared with testdata (before: bare
// team ids, raw Go structs, exit 0 after rejections, no quarantine
// command).
func TestDeviceExplainsItself(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a demo server")
	}
	url := startDemo(t)
	cwd := t.TempDir()
	t.Chdir(cwd)
	env := map[string]string{"FIELDSYNC_SERVER": url, "FIELDSYNC_PASSWORD": "fieldsync-demo"}
	n := newNormalizer(cwd)
	step := func(name string, wantCode int, args ...string) result {
		t.Helper()
		r := runCLI(t, env, append([]string{"device"}, args...)...)
		if r.code != wantCode {
			t.Errorf("fieldsync device %s: exit %d, want %d\nstdout %s\nstderr %s", strings.Join(args, " "), r.code, wantCode, r.stdout, r.stderr)
		}
		if name != "" {
			golden(t, name, n, r)
		}
		return r
	}
	step("device_teams_before_login", 1, "teams", "--dir", "tab1")
	step("device_login", 0, "login", "--dir", "tab1", "worker.north")
	step("device_teams", 0, "teams", "--dir", "tab1")
	step("device_new_not_my_team", 1, "new-identification", "--dir", "tab1", "Mobile team South", "code=N-2026-900")
	id := strings.TrimSpace(step("device_new_by_name", 0, "new-identification", "--dir", "tab1", "mobile team north", "code=N-2026-900", "status=potential").stdout)
	bad := mistype(t, url, "tab1", "N-2026-901")
	step("device_sync_rejected", 1, "sync", "--dir", "tab1")
	step("device_show_quarantined", 1, "show", "--dir", "tab1", bad)
	q := step("device_quarantine_list", 0, "quarantine", "--dir", "tab1")
	if strings.Contains(q.stdout, "{") {
		t.Errorf("the quarantine prints raw structs:\n%s", q.stdout)
	}
	step("device_quarantine_show", 0, "quarantine", "show", "--dir", "tab1", bad)
	step("device_quarantine_resend", 0, "quarantine", "resend", "--dir", "tab1", bad, "team=Mobile team North")
	step("device_sync_after_fix", 0, "sync", "--dir", "tab1")
	for _, rec := range []string{id, bad} {
		if r := step("", 0, "show", "--dir", "tab1", rec); !strings.Contains(r.stdout, `"code"`) {
			t.Errorf("show %s after the fix: %s", rec, r.stdout)
		}
	}
	other := mistype(t, url, "tab1", "N-2026-902")
	step("", 1, "sync", "--dir", "tab1")
	step("device_quarantine_drop", 0, "quarantine", "drop", "--dir", "tab1", other)
	step("device_quarantine_empty", 0, "quarantine", "list", "--dir", "tab1")
	step("device_status", 0, "status", "--dir", "tab1")
}
