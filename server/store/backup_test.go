package store

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
)

// TestRestoreOfTruncatedStreamFailsAndCloses loads badger backup streams
// cut short into fresh stores: each Restore must fail, and Close must
// return (a failed badger Load used to leave a batch pending, on which
// Close's saveOpFilter waited forever). The hang guard is generous and
// the time is only reported.
func TestRestoreOfTruncatedStreamFailsAndCloses(t *testing.T) {
	src := openTest(t, Options{GCInterval: -1})
	a := newAuthor()
	note := `{"text":"` + strings.Repeat("statement ", 1000) + `"}`
	for range 400 {
		rec := newID()
		ops := a.identification(t, rec, newID())
		ops = append(ops, a.op(t, rec, model.KindIdentification, "notes", model.ActionAppend, note))
		mustApplied(t, commit(t, src, ops...))
	}
	var full bytes.Buffer
	if err := src.Backup(context.Background(), &full); err != nil {
		t.Fatal(err)
	}
	for _, frac := range []float64{0.1, 0.5, 0.75, 0.97} {
		cut := full.Bytes()[:int(float64(full.Len())*frac)]
		db := openTest(t, Options{GCInterval: -1})
		start := time.Now()
		done := make(chan error, 1)
		go func() {
			err := db.Restore(context.Background(), bytes.NewReader(cut))
			if err == nil {
				t.Errorf("restore of %d of %d bytes succeeded", len(cut), full.Len())
			}
			done <- db.Close()
		}()
		select {
		case err := <-done:
			t.Logf("cut at %.0f%%: restore failed and the store closed in %v (close: %v)", frac*100, time.Since(start), err)
		case <-time.After(2 * time.Minute):
			t.Fatalf("cut at %.0f%%: restore or close hung for 2 minutes", frac*100)
		}
	}
}
