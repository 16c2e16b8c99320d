package server_test

import (
	"testing"
	"time"
)

// TestConfigUploads: the attachment flags have their defaults, read the
// environment, and refuse values that would break uploads.
func TestConfigUploads(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantMax int64
		wantTTL time.Duration
		wantErr string
	}{
		{name: "defaults", wantMax: 25 << 20, wantTTL: 24 * time.Hour},
		{name: "environment", env: map[string]string{"FIELDSYNC_MAX_BLOB_BYTES": "52428800", "FIELDSYNC_UPLOAD_TTL": "2h"}, wantMax: 50 << 20, wantTTL: 2 * time.Hour},
		{name: "tiny blobs", args: []string{"--max-blob-bytes", "10"}, wantErr: "--max-blob-bytes"},
		{name: "instant expiry", args: []string{"--upload-ttl", "1s"}, wantErr: "--upload-ttl"},
		{name: "instant orphan sweep", args: []string{"--blob-orphan-ttl", "0s"}, wantErr: "--blob-orphan-ttl"},
		{name: "busy sweep", args: []string{"--blob-sweep", "1ms"}, wantErr: "--blob-sweep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := parseConfig(t, tt.args, tt.env, tt.wantErr)
			if !ok {
				return
			}
			if c.MaxBlobBytes != tt.wantMax || c.UploadTTL != tt.wantTTL {
				t.Errorf("max %d ttl %s, want %d %s", c.MaxBlobBytes, c.UploadTTL, tt.wantMax, tt.wantTTL)
			}
		})
	}
}
