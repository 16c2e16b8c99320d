package server_test

import (
	"testing"
	"time"
)

// TestConfigRetention: retention is off by default; its rules and
// interval are read from flags and FIELDSYNC_* variables and validated at
// start, each problem named with the rule and its flag or variable.
func TestConfigRetention(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		want    string
	}{
		{name: "off by default", want: ""},
		{name: "environment", env: map[string]string{"FIELDSYNC_RETENTION": "site_visit=12m; identification:withdrawn=24m"}, want: "site_visit=12m; identification:withdrawn=24m"},
		{name: "a flag wins", args: []string{"--retention", "site_visit=3m"}, env: map[string]string{"FIELDSYNC_RETENTION": "site_visit=12m"}, want: "site_visit=3m"},
		{name: "unknown status", args: []string{"--retention", "identification:gone=1m"}, wantErr: `-retention: retention rule 1: "gone" is not an identification status`},
		{name: "bad variable", env: map[string]string{"FIELDSYNC_RETENTION": "identification=1m"}, wantErr: "FIELDSYNC_RETENTION=\"identification=1m\": retention rule 1: a rule for identifications names the statuses"},
		{name: "interval too short", args: []string{"--retention-interval", "10ms"}, wantErr: "--retention-interval 10ms must be between 1s and 168h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := parseConfig(t, tt.args, tt.env, tt.wantErr)
			if !ok {
				return
			}
			if got := c.Retention.String(); got != tt.want {
				t.Errorf("rules = %q, want %q", got, tt.want)
			}
			if got, want := c.RetentionInterval, time.Hour; got != want {
				t.Errorf("interval = %s, want %s", got, want)
			}
		})
	}
}
