package server_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server"
)

// parseConfig parses args, after a fresh --data directory, with env as the
// FIELDSYNC_* variables, into server.DefaultConfig(). With wantErr set it
// checks that the error names wantErr and returns false (the test case
// ends there); without, any error fails the test.
func parseConfig(t *testing.T, args []string, env map[string]string, wantErr string) (server.Config, bool) {
	t.Helper()
	c := server.DefaultConfig()
	err := c.ParseFlags(append([]string{"--data", t.TempDir()}, args...), func(k string) string { return env[k] })
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("ParseFlags() = %v, want an error naming %s", err, wantErr)
		}
		return c, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return c, true
}

// TestConfigRecordLimits: the per-record limits default to the model's,
// are read from FIELDSYNC_* variables and flags (a flag wins), and are
// validated at start.
func TestConfigRecordLimits(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    model.RecordLimits
		wantErr string
	}{
		{name: "defaults", want: model.DefaultRecordLimits},
		{name: "environment", env: map[string]string{"FIELDSYNC_MAX_LOG_ENTRIES": "50", "FIELDSYNC_MAX_ENTRY_BYTES": "4096", "FIELDSYNC_MAX_RECORD_BYTES": "100000"},
			want: model.RecordLimits{MaxLogEntries: 50, MaxEntryBytes: 4096, MaxRecordBytes: 100000}},
		{name: "a flag wins", args: []string{"--max-log-entries", "7"}, env: map[string]string{"FIELDSYNC_MAX_LOG_ENTRIES": "50"},
			want: model.RecordLimits{MaxLogEntries: 7, MaxEntryBytes: 64 << 10, MaxRecordBytes: 4 << 20}},
		{name: "no entries", args: []string{"--max-log-entries", "0"}, wantErr: "--max-log-entries"},
		{name: "entry over the body limit", args: []string{"--max-entry-bytes", "5000000"}, wantErr: "--max-entry-bytes"},
		{name: "tiny entry", args: []string{"--max-entry-bytes", "10"}, wantErr: "--max-entry-bytes"},
		{name: "record smaller than an entry", args: []string{"--max-record-bytes", "1000"}, wantErr: "--max-record-bytes"},
		{name: "huge record", args: []string{"--max-record-bytes", "1000000000"}, wantErr: "--max-record-bytes"},
		{name: "malformed variable", env: map[string]string{"FIELDSYNC_MAX_RECORD_BYTES": "4MiB"}, wantErr: "FIELDSYNC_MAX_RECORD_BYTES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := parseConfig(t, tt.args, tt.env, tt.wantErr)
			if !ok {
				return
			}
			if got := c.RecordLimits; got != tt.want {
				t.Errorf("RecordLimits = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestConfigCompressionAndTLS: --compress-min and the TLS flags are read
// from flags and FIELDSYNC_* variables and validated at start.
func TestConfigCompressionAndTLS(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		check   func(c server.Config) bool
	}{
		{name: "defaults", check: func(c server.Config) bool { return c.CompressMin == server.DefaultCompressMin && !c.TLS() }},
		{name: "compression off", env: map[string]string{"FIELDSYNC_COMPRESS_MIN": "0"}, check: func(c server.Config) bool { return c.CompressMin == 0 }},
		{name: "negative threshold", args: []string{"--compress-min", "-1"}, wantErr: "--compress-min"},
		{name: "certificate files", env: map[string]string{"FIELDSYNC_TLS_CERT": "a.crt", "FIELDSYNC_TLS_KEY": "a.key"},
			check: func(c server.Config) bool { return c.TLS() && c.TLSCert == "a.crt" && c.TLSKey == "a.key" }},
		{name: "self-signed", env: map[string]string{"FIELDSYNC_TLS_SELF_SIGNED": "true"}, check: func(c server.Config) bool { return c.TLS() && c.TLSSelfSigned }},
		{name: "certificate without key", args: []string{"--tls-cert", "a.crt"}, wantErr: "--tls-key"},
		{name: "key without certificate", args: []string{"--tls-key", "a.key"}, wantErr: "--tls-cert"},
		{name: "both ways at once", args: []string{"--tls-self-signed", "--tls-cert", "a.crt", "--tls-key", "a.key"}, wantErr: "--tls-self-signed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := parseConfig(t, tt.args, tt.env, tt.wantErr)
			if !ok {
				return
			}
			if !tt.check(c) {
				t.Errorf("config = %+v", c)
			}
		})
	}
}

// TestConfigOneBadValueOneError: a FIELDSYNC_* variable set to -3 is
// accepted or refused with one line that names that variable, never the
// flags whose checks depend on it (a bad --body-limit says nothing of
// --small-body-limit or --max-entry-bytes).
func TestConfigOneBadValueOneError(t *testing.T) {
	var help *server.HelpRequested
	c := server.DefaultConfig()
	if err := c.ParseFlags([]string{"-h"}, func(string) string { return "" }); !errors.As(err, &help) {
		t.Fatalf("ParseFlags(-h) = %v, want the usage", err)
	}
	vars := regexp.MustCompile(`\((FIELDSYNC_[A-Z_]+)\)`).FindAllStringSubmatch(help.Text, -1)
	if len(vars) < 20 {
		t.Fatalf("the usage names %d variables, want every flag's", len(vars))
	}
	for _, m := range vars {
		name := m[1]
		t.Run(name, func(t *testing.T) {
			c := server.DefaultConfig()
			env := map[string]string{"FIELDSYNC_DATA": t.TempDir(), name: "-3"}
			err := c.ParseFlags(nil, func(k string) string { return env[k] })
			if err == nil {
				return
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, name+"=") {
				t.Errorf("%s=-3: %q, want one line beginning %s=", name, msg, name)
			}
		})
	}
}

// TestConfigOpenCases: --open-cases (FIELDSYNC_OPEN_CASES) defaults to 90
// days, 0s turns open cases first off, and a negative window is refused.
func TestConfigOpenCases(t *testing.T) {
	for _, tt := range []struct {
		env     string
		want    time.Duration
		wantErr string
	}{{"", 90 * 24 * time.Hour, ""}, {"0s", 0, ""}, {"720h", 720 * time.Hour, ""}, {"-1h", 0, "FIELDSYNC_OPEN_CASES"}} {
		t.Run("FIELDSYNC_OPEN_CASES="+tt.env, func(t *testing.T) {
			c, ok := parseConfig(t, nil, map[string]string{"FIELDSYNC_OPEN_CASES": tt.env}, tt.wantErr)
			if ok && c.Limits.OpenCases != tt.want {
				t.Errorf("FIELDSYNC_OPEN_CASES=%q: %s, want %s", tt.env, c.Limits.OpenCases, tt.want)
			}
		})
	}
}
