package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testdata is the absolute path of testdata (tests change directory).
var testdata = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Join(wd, "testdata")
}()

// result is one run of the command.
type result struct {
	args           []string
	env            map[string]string
	stdout, stderr string
	code           int
}

// runCLI runs fieldsync with args and only the variables in env.
func runCLI(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	c := &cli{out: &out, errOut: &errOut, in: strings.NewReader(""), getenv: func(k string) string { return env[k] }}
	code := c.run(args)
	return result{args: args, env: env, stdout: out.String(), stderr: errOut.String(), code: code}
}

var (
	uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timeRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	hostRE = regexp.MustCompile(`127\.0\.0\.1:\d+`)
)

// normalizer replaces what changes between runs: ids (numbered in order
// of appearance, the same id keeping its number across one test's
// outputs), times, the server's port and temporary directories.
type normalizer struct {
	ids  map[string]string
	dirs []string
}

func newNormalizer(dirs ...string) *normalizer {
	return &normalizer{ids: map[string]string{}, dirs: dirs}
}

func (n *normalizer) apply(s string) string {
	for _, d := range n.dirs {
		s = strings.ReplaceAll(s, d, "<dir>")
	}
	s = uuidRE.ReplaceAllStringFunc(s, func(id string) string {
		if _, ok := n.ids[id]; !ok {
			n.ids[id] = fmt.Sprintf("<id%d>", len(n.ids)+1)
		}
		return n.ids[id]
	})
	s = timeRE.ReplaceAllString(s, "<time>")
	return hostRE.ReplaceAllString(s, "<server>")
}

// golden compares a run with testdata/name.golden (go test -update
// rewrites it).
func golden(t *testing.T, name string, n *normalizer, r result) {
	t.Helper()
	var env []string
	for k, v := range r.env {
		if k != "FIELDSYNC_SERVER" && k != "FIELDSYNC_PASSWORD" {
			env = append(env, k+"="+v)
		}
	}
	got := n.apply(fmt.Sprintf("$ %sfieldsync %s\n[exit %d]\n--- stdout\n%s--- stderr\n%s",
		strings.Join(append(env, ""), " "), strings.Join(r.args, " "), r.code, r.stdout, r.stderr))
	path := filepath.Join(testdata, name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

// TestHelpExitsZeroAndNeverActs: -h and --help on every command and
// subcommand print the usage on stdout, exit 0 and create nothing (before,
// serve -h exited 1, device -h was an unknown command, and backup-keygen
// -h wrote a key file named -h).
func TestHelpExitsZeroAndNeverActs(t *testing.T) {
	cwd := t.TempDir()
	t.Chdir(cwd)
	cases := map[string][]string{
		"help":                {"-h"},
		"help_serve":          {"serve", "-h"},
		"help_audit":          {"audit", "verify", "--help"},
		"help_admin":          {"admin", "reset-password", "-h"},
		"help_backup":         {"backup", "-h"},
		"help_restore":        {"restore", "-h"},
		"help_keygen":         {"backup-keygen", "-h"},
		"help_device":         {"device", "-h"},
		"help_device_login":   {"device", "login", "-h"},
		"help_device_sync":    {"device", "sync", "--help"},
		"help_device_quarant": {"device", "quarantine", "-h"},
		"help_retention":      {"retention", "-h"},
		"help_purge":          {"purge", "--help"},
		"help_device_attach":  {"device", "attach", "-h"},
		"help_device_fetch":   {"device", "fetch", "-h"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			r := runCLI(t, nil, args...)
			if r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, "usage: fieldsync") {
				t.Errorf("fieldsync %s: exit %d, stderr %q, stdout %.60q; want exit 0 and the usage on stdout", strings.Join(args, " "), r.code, r.stderr, r.stdout)
			}
			golden(t, name, newNormalizer(cwd), r)
		})
	}
	// --help for the rest, without a golden file each.
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"backup-keygen", "--help"}, {"device", "--help"}, {"device", "new-identification", "-h"}, {"audit", "-h"}, {"admin", "-h"}} {
		if r := runCLI(t, nil, args...); r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, "usage: fieldsync") {
			t.Errorf("fieldsync %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	if entries, _ := os.ReadDir(cwd); len(entries) > 0 {
		t.Errorf("asking for help created %v", entries)
	}
	if r := runCLI(t, nil, "serve", "-h"); !strings.Contains(r.stdout, "FIELDSYNC_ADMIN_PASSWORD") {
		t.Error("serve -h does not mention FIELDSYNC_ADMIN_PASSWORD")
	}
}

// TestErrorsNameTheOneThingToFix: a bad flag or variable is one line on
// stderr naming it (before: 45 lines of usage for serve --bogus, and six
// flags named for one bad FIELDSYNC_* value).
func TestErrorsNameTheOneThingToFix(t *testing.T) {
	t.Chdir(t.TempDir())
	cases := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"err_serve_bogus", nil, []string{"serve", "--bogus"}},
		{"err_serve_env_negative", map[string]string{"FIELDSYNC_USER_RATE": "-3"}, []string{"serve"}},
		{"err_serve_env_login_failures", map[string]string{"FIELDSYNC_LOGIN_FAILURES": "-3"}, []string{"serve"}},
		{"err_serve_env_malformed", map[string]string{"FIELDSYNC_LOGIN_LOCKOUT": "soon"}, []string{"serve"}},
		{"err_serve_flag_value", nil, []string{"serve", "--max-ops", "0"}},
		{"err_unknown_command", nil, []string{"servr"}},
		{"err_device_unknown", nil, []string{"device", "synk"}},
		{"err_device_bogus_flag", nil, []string{"device", "sync", "--bogus"}},
		{"err_keygen_no_file", nil, []string{"backup-keygen"}},
		{"err_restore_missing", nil, []string{"restore", "--data", "x"}},
		{"err_restore_no_data_keys", nil, []string{"restore", "--data", "x", "--key", "k", "--in", "nowhere.backup"}},
		{"err_restore_keys_and_without", nil, []string{"restore", "--data", "x", "--key", "k", "--in", "b", "--keys", "b.k", "--without-data-keys"}},
		{"err_retention_no_dry_run", nil, []string{"retention", "--retention", "site_visit=1m"}},
		{"err_purge_no_rules", nil, []string{"purge", "--data", "x"}},
		{"err_purge_bad_rule", map[string]string{"FIELDSYNC_RETENTION": "identification=1m"}, []string{"purge"}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.env, tt.args...)
			if r.code == 0 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q: want a non-zero exit and one line on stderr", r.code, r.stdout, r.stderr)
			}
			golden(t, tt.name, newNormalizer(), r)
		})
	}
}
