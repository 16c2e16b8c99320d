package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/server/audit"
)

// TestLinks: a link is stored once per direction with its audit entries in
// the same transaction; a request that changes nothing writes nothing, its
// audit entries included; unlinking removes both directions.
func TestLinks(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Options{})
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a, b, c, sup := newID(), newID(), newID(), newID()
	log := audit.NewLog(db, func() time.Time { return at })
	set := func(x, y string, linked bool) error {
		write := func(ctx context.Context, entries []audit.Entry) error {
			return db.SetLink(ctx, x, y, linked, sup, at, entries)
		}
		return log.RecordWith(ctx, write, audit.Event{Actor: sup, Action: "records_linked", Object: x}, audit.Event{Actor: sup, Action: "records_linked", Object: y})
	}
	entries := func() int {
		es, err := db.ScanAudit(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	if err := set(b, a, true); err != nil {
		t.Fatal(err)
	}
	if err := set(a, c, true); err != nil {
		t.Fatal(err)
	}
	if got := entries(); got != 4 {
		t.Fatalf("%d audit entries after two links, want 4", got)
	}
	if err := set(a, b, true); !errors.Is(err, ErrLinkUnchanged) {
		t.Fatalf("linking again: %v, want ErrLinkUnchanged", err)
	}
	if err := set(a, newID(), false); !errors.Is(err, ErrLinkUnchanged) {
		t.Fatalf("unlinking what is not linked: %v, want ErrLinkUnchanged", err)
	}
	if got := entries(); got != 4 {
		t.Fatalf("%d audit entries after requests that changed nothing, want 4", got)
	}
	want := Link{Records: [2]string{min(a, b), max(a, b)}, By: sup, At: at}
	of := func(id string) []Link {
		l, err := db.LinksOf(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if got := of(b); len(got) != 1 || got[0] != want {
		t.Errorf("LinksOf(b) = %+v, want [%+v]", got, want)
	}
	if got := of(a); len(got) != 2 {
		t.Errorf("LinksOf(a) = %+v, want two links", got)
	}
	all, err := db.Links(ctx)
	if err != nil || len(all) != 2 || !slices.Contains(all, want) {
		t.Errorf("Links = %+v, %v; want the two links once each", all, err)
	}
	if err := set(b, a, false); err != nil {
		t.Fatal(err)
	}
	if got := of(a); len(got) != 1 || !slices.Contains(got[0].Records[:], c) {
		t.Errorf("after unlink LinksOf(a) = %+v, want only the link to c", got)
	}
	if got := of(b); len(got) != 0 {
		t.Errorf("after unlink LinksOf(b) = %+v", got)
	}
	if got := entries(); got != 6 {
		t.Errorf("%d audit entries after the unlink, want 6", got)
	}
	if err := db.SetLink(ctx, a, a, true, sup, at, nil); err == nil {
		t.Error("a record linked to itself")
	}
}
