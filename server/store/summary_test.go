package store

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestSealedSummaryRoundTrips: a summary sealed with its record's key
// decodes to itself (every field, a zero last change too), its scope
// reads without the key, every truncation or flipped byte is an error
// (never a different summary), and once the record's key is destroyed
// the labels are errRecordKeyGone while the scope still reads.
func TestSealedSummaryRoundTrips(t *testing.T) {
	ks, err := openDataKeys(filepath.Join(t.TempDir(), dataKeysFile))
	if err != nil {
		t.Fatal(err)
	}
	defer ks.close()
	id := newID()
	if _, err := ks.create(recordKeyID(id)); err != nil {
		t.Fatal(err)
	}
	full := Summary{ID: id, Kind: "identification", Team: newID(), ActionWeek: newID(), Status: "withdrawn", Region: "Varna – north", ReviewStatus: "reviewed",
		Conflicts: []string{"location", "region"}, Deleted: true, HLC: "0001700000000000-0001", UpdatedAt: time.Date(2026, 12, 3, 18, 0, 0, 123456789, time.UTC), Creator: newID()}
	for _, want := range []Summary{full, {ID: id, Kind: "action_week", HLC: "x"}} {
		v, err := encodeSummary(ks.summaryAEAD(id), &want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeSummaryValue(ks, id, v)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("decoded %+v, %v; want %+v", got, err, want)
		}
		sc, err := decodeSummaryScope(id, v)
		if err != nil || sc != want.Scope() {
			t.Errorf("scope %+v, %v; want %+v", sc, err, want.Scope())
		}
		for i := range v {
			if _, err := decodeSummaryValue(ks, id, v[:i]); err == nil {
				t.Fatalf("a summary truncated at %d of %d bytes decoded", i, len(v))
			}
			flipped := append([]byte(nil), v...)
			flipped[i] ^= 0x40
			if got, err := decodeSummaryValue(ks, id, flipped); err == nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("a summary with byte %d flipped decoded as %+v", i, got)
			}
		}
	}
	v, err := encodeSummary(ks.summaryAEAD(id), &full)
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.destroy([]string{recordKeyID(id)}); err != nil {
		t.Fatal(err)
	}
	got, err := decodeSummaryValue(ks, id, v)
	if !errors.Is(err, errRecordKeyGone) || got.Status != "" || got.Region != "" || got.Team != full.Team {
		t.Errorf("after the key's destruction: %+v, %v; want the scope alone and errRecordKeyGone", got, err)
	}
}
