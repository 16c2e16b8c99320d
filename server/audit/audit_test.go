package audit

import (
	"context"
	"testing"
	"time"
)

// memStore is an in-memory Store.
type memStore struct{ entries []Entry }

func (m *memStore) AppendAudit(_ context.Context, es []Entry) error {
	m.entries = append(m.entries, es...)
	return nil
}

func (m *memStore) LastAudit(context.Context) (Entry, bool, error) {
	if len(m.entries) == 0 {
		return Entry{}, false, nil
	}
	return m.entries[len(m.entries)-1], true, nil
}

func (m *memStore) ScanAudit(_ context.Context, after uint64, limit int) ([]Entry, error) {
	var out []Entry
	for _, e := range m.entries {
		if e.Seq > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func filled(t *testing.T, n int) *memStore {
	t.Helper()
	s := &memStore{}
	clock := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	l := NewLog(s, func() time.Time { clock = clock.Add(time.Second); return clock })
	for i := range n {
		ev := Event{Actor: "u1", Action: ActionRecordRead, Object: "rec", Detail: string(rune('a' + i%26))}
		if err := l.Record(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestChainVerifies(t *testing.T) {
	s := filled(t, 2500)
	r, err := Verify(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || r.Entries != 2500 || r.HeadSeq != 2500 || r.HeadHash != s.entries[2499].Hash {
		t.Fatalf("report %+v, want 2500 entries, no problems", r)
	}
	// A new Log over the same store continues the chain.
	l := NewLog(s, time.Now)
	if err := l.Record(context.Background(), Event{Action: ActionLogin}); err != nil {
		t.Fatal(err)
	}
	if r, _ := Verify(context.Background(), s); !r.OK() || r.Entries != 2501 {
		t.Fatalf("after reopening: %+v", r)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(es []Entry) []Entry
	}{
		{"altered detail", func(es []Entry) []Entry { es[10].Detail = "x"; return es }},
		{"altered actor with rehash", func(es []Entry) []Entry { es[10].Actor = "u2"; es[10].Hash = es[10].computeHash(); return es }},
		{"altered time", func(es []Entry) []Entry { es[3].Time = es[3].Time.Add(time.Hour); return es }},
		{"dropped entry", func(es []Entry) []Entry { return append(es[:20:20], es[21:]...) }},
		{"dropped first entry", func(es []Entry) []Entry { return es[1:] }},
		{"swapped in scan order", func(es []Entry) []Entry { es[5], es[6] = es[6], es[5]; return es }},
		{"swapped and renumbered", func(es []Entry) []Entry {
			es[5], es[6] = es[6], es[5]
			es[5].Seq, es[6].Seq = 6, 7
			return es
		}},
		{"inserted entry", func(es []Entry) []Entry {
			extra := es[7]
			extra.Detail = "forged"
			return append(es[:8:8], append([]Entry{extra}, es[8:]...)...)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := filled(t, 50)
			s.entries = tt.tamper(s.entries)
			r, err := Verify(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			if r.OK() {
				t.Fatalf("tampering not detected: %+v", r)
			}
		})
	}
}
