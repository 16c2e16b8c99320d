package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	fieldsync "github.com/fieldsync/fieldsync/clients/go"

	"github.com/fieldsync/fieldsync/model"
)

// TestMain lets the test binary act as a device process for the SIGKILL
// test: with FIELDSYNC_E2E_CHILD set it writes and syncs until killed.
func TestMain(m *testing.M) {
	if mode := os.Getenv("FIELDSYNC_E2E_CHILD"); mode != "" {
		if err := runChild(mode); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChild opens the replica in FIELDSYNC_E2E_DIR (logging in on first
// use) and, in mode "write", edits records while syncing in the
// background; in mode "sync", makes a burst of edits and then syncs in a
// loop; in mode "reopen", closes and opens the replica again and again,
// with a few edits and a sync each time, like commands of the device CLI.
// It prints "ACK <record> <op>" after each write returned (the write is
// then on disk), "SYNC" when it starts syncing in mode sync and "REOPEN"
// when it starts reopening in mode reopen.
func runChild(mode string) error {
	ctx := context.Background()
	seed, _ := strconv.ParseUint(os.Getenv("FIELDSYNC_E2E_SEED"), 10, 64)
	rng := rand.New(rand.NewPCG(seed, 3))
	open := func() (*fieldsync.Client, error) {
		return fieldsync.Open(os.Getenv("FIELDSYNC_E2E_DIR"), fieldsync.Options{ServerURL: os.Getenv("FIELDSYNC_E2E_URL"),
			DeviceName: "killed", MaxAttempts: 1000, PushBatch: 50, PullLimit: 100})
	}
	c, err := open()
	if err != nil {
		return err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	if !st.LoggedIn {
		if _, err := c.Login(ctx, os.Getenv("FIELDSYNC_E2E_USER"), userPassword); err != nil {
			return err
		}
	}
	recs, err := c.List(ctx, fieldsync.Query{Kind: model.KindIdentification})
	if err != nil {
		return err
	}
	var records []string
	for _, r := range recs {
		records = append(records, r.ID)
	}
	for len(records) < 3 {
		id, err := c.CreateIdentification(ctx, os.Getenv("FIELDSYNC_E2E_TEAM"), fieldsync.F("status", "potential"))
		if err != nil {
			return err
		}
		ops, err := c.History(ctx, id)
		if err != nil {
			return err
		}
		for _, op := range ops {
			fmt.Printf("ACK %s %s\n", id, op.ID)
		}
		records = append(records, id)
	}
	e := &editor{c: c, rng: rng, name: "killed"}
	edit := func() error {
		id := pick(rng, records)
		n := len(e.written)
		e.edit(childT{}, id)
		if len(e.written) > n {
			fmt.Printf("ACK %s %s\n", id, e.written[n])
		}
		return nil
	}
	switch mode {
	case "write":
		go func() {
			for {
				_ = c.Sync(ctx)
			}
		}()
		for {
			_ = edit()
		}
	case "sync":
		for range 150 {
			_ = edit()
		}
		fmt.Println("SYNC")
		for {
			_ = c.Sync(ctx)
		}
	case "reopen":
		fmt.Println("REOPEN")
		for {
			if err := c.Close(); err != nil {
				return err
			}
			if c, err = open(); err != nil {
				return err
			}
			e.c = c
			for range rng.IntN(4) {
				_ = edit()
			}
			_ = c.Sync(ctx)
		}
	}
	return fmt.Errorf("unknown mode %q", mode)
}

// childT lets the child reuse editor.edit: a failed edit ends the child
// with a message the parent sees on stderr.
type childT struct{ testing.TB }

func (childT) Helper() {}
func (childT) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(2)
}
