package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// fakeFetch writes parts to w, then returns err.
type fakeFetch struct {
	parts []string
	err   error
}

func (f fakeFetch) FetchTo(_ context.Context, _, _ string, w io.Writer) (int64, error) {
	n := int64(0)
	for _, p := range f.parts {
		k, err := io.WriteString(w, p)
		if n += int64(k); err != nil {
			return n, err
		}
	}
	return n, f.err
}

// TestFetchFileRenamesOnlyWhenVerified: device fetch streams into a
// temporary file and renames it to OUT only when FetchTo succeeded; a
// fetch that fails after writing part of the file (a write error, or an
// error of the replica mid-way) leaves no OUT, an OUT that existed as it
// was, and no temporary file.
func TestFetchFileRenamesOnlyWhenVerified(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "contract.pdf")
	entries := func() []string {
		t.Helper()
		es, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		return names
	}
	ctx := context.Background()
	if _, err := fetchFile(ctx, fakeFetch{parts: []string{"%PDF-1.7\n", "half"}, err: errors.New("cut")}, "r", "d", out); err == nil {
		t.Fatal("a failed fetch succeeded")
	}
	if got := entries(); len(got) != 0 {
		t.Errorf("a failed fetch left %q", got)
	}
	n, err := fetchFile(ctx, fakeFetch{parts: []string{"%PDF-1.7\n", "whole"}}, "r", "d", out)
	if got, _ := os.ReadFile(out); err != nil || n != 14 || string(got) != "%PDF-1.7\nwhole" {
		t.Fatalf("fetch: %d, %v, OUT %q", n, err, got)
	}
	if _, err := fetchFile(ctx, fakeFetch{parts: []string{"other"}, err: errors.New("cut")}, "r", "d", out); err == nil {
		t.Fatal("a failed fetch succeeded")
	}
	if got, _ := os.ReadFile(out); string(got) != "%PDF-1.7\nwhole" || len(entries()) != 1 {
		t.Errorf("a failed fetch over an existing OUT: OUT %q, directory %q", got, entries())
	}
}
