package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// gpsJPEG is a minimal JPEG as a phone writes it: an EXIF segment whose
// GPS latitude and maker are SHELTER-GPS (big-endian TIFF, IFD0 with
// Make and Orientation 6), then a scan. Enough for the stripper and the
// server's sniffing; the SDK's tests decode real photos.
func gpsJPEG() []byte {
	tiff := []byte("MM\x00\x2a\x00\x00\x00\x08" +
		"\x00\x02" +
		"\x01\x0f\x00\x02\x00\x00\x00\x0c\x00\x00\x00\x26" + // Make, ASCII, 12 bytes at 38
		"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00" + // Orientation 6
		"\x00\x00\x00\x00" +
		"SHELTER-GPS\x00")
	app1 := append([]byte("Exif\x00\x00"), tiff...)
	out := []byte{0xFF, 0xD8, 0xFF, 0xE1, byte((len(app1) + 2) >> 8), byte(len(app1) + 2)}
	out = append(out, app1...)
	out = append(out, 0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 63, 0)
	return append(out, 0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD9)
}

// TestDeviceAttachAndFetch: device attach queues a photo with its entry
// (printing its digest), sync uploads it, and another device fetches it
// into a file, without the location metadata and with its orientation;
// a missing file and an unknown digest are one-line errors.
func TestDeviceAttachAndFetch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a demo server")
	}
	url := startDemo(t)
	cwd := t.TempDir()
	t.Chdir(cwd)
	if err := os.WriteFile("photo.jpg", gpsJPEG(), 0o600); err != nil {
		t.Fatal(err)
	}
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
	step("", 0, "login", "--dir", "tab1", "worker.north")
	id := strings.TrimSpace(step("", 0, "new-identification", "--dir", "tab1", "mobile team north", "code=N-2026-950", "status=potential").stdout)
	step("err_device_attach_missing", 1, "attach", "--dir", "tab1", id, "missing.jpg")
	out := step("device_attach", 0, "attach", "--dir", "tab1", id, "photo.jpg", "--caption", "passport, first page").stdout
	digest, _, _ := strings.Cut(out, " ")
	step("", 0, "sync", "--dir", "tab1")

	step("", 0, "login", "--dir", "tab2", "worker.north")
	step("", 0, "sync", "--dir", "tab2")
	step("device_fetch", 0, "fetch", "--dir", "tab2", id, digest, "out.jpg")
	got, err := os.ReadFile("out.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(got, []byte("SHELTER-GPS")) {
		t.Errorf("the fetched photo carries the phone's metadata: %q", got)
	}
	if !bytes.Contains(got, []byte{0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6}) {
		t.Errorf("the fetched photo lost its orientation: %q", got)
	}
	step("err_device_fetch_unknown", 1, "fetch", "--dir", "tab2", id, strings.Repeat("ab", 32), "other.jpg")
}
