package backup

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/server/store"
)

// TestRestoreWithDataKeys: a restore given the data key backup serves the
// notes and every other value whole; without it, every value sealed with
// a data key (a note's own, or its record's: every other op) is restored
// erased, ops and records counted intact.
func TestRestoreWithDataKeys(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 3)
	for _, tc := range []struct {
		name      string
		keys      string
		wantNotes bool
	}{
		{"with the key backup", f.keys, true},
		{"without", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			if _, err := restoreGuarded(t, RestoreOptions{DataDir: data, From: f.backup, KeyFile: f.key, DataKeys: tc.keys}); err != nil {
				t.Fatal(err)
			}
			db, err := store.Open(filepath.Join(data, storeDir), store.Options{GCInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			page, err := db.Feed(ctx, nil, true, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			notes, statuses := 0, 0
			for _, e := range page.Entries {
				js := string(e.JSON)
				switch {
				case strings.Contains(js, `"field":"notes"`):
					if strings.Contains(js, "must come back whole") {
						notes++
					}
				case strings.Contains(js, `"value":"potential"`):
					statuses++
				}
			}
			if got, want := notes > 0, tc.wantNotes; got != want || (want && notes != 3) {
				t.Errorf("notes served whole: %d, want them: %v", notes, want)
			}
			if want := map[bool]int{true: 3, false: 0}[tc.wantNotes]; statuses != want {
				t.Errorf("statuses restored: %d, want %d", statuses, want)
			}
			if got := len(page.Entries); got == 0 {
				t.Error("no op restored")
			}
		})
	}
}
