package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/store"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// TestMain lets the test binary play a restore that kills itself (see
// TestRestoreKilledLeavesNothingServeOpens).
func TestMain(m *testing.M) {
	if os.Getenv("FIELDSYNC_TEST_RESTORE_CHILD") == "1" {
		os.Exit(restoreChild())
	}
	os.Exit(m.Run())
}

// restoreChild restores FIELDSYNC_TEST_FROM into FIELDSYNC_TEST_DATA and
// kills itself (SIGKILL: no deferred cleanup runs) at step number
// FIELDSYNC_TEST_KILL_AT.
func restoreChild() int {
	killAt, _ := strconv.Atoi(os.Getenv("FIELDSYNC_TEST_KILL_AT"))
	steps := 0
	_, err := Restore(context.Background(), RestoreOptions{
		DataDir: os.Getenv("FIELDSYNC_TEST_DATA"), From: os.Getenv("FIELDSYNC_TEST_FROM"), KeyFile: os.Getenv("FIELDSYNC_TEST_KEY"),
		step: func(string) {
			if steps++; steps == killAt {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				time.Sleep(time.Hour)
			}
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	return 0
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func testOp(t *testing.T, n int, record, field string, action model.Action, value any) protocol.Pending {
	t.Helper()
	js, err := json.Marshal(map[string]any{
		"id": newID(), "record": record, "kind": model.KindIdentification, "field": field, "action": string(action),
		"hlc": hlc.New(1_700_000_000_000+int64(n), 0).String(), "device": "6f1c1b1e-0000-4000-8000-000000000001",
		"user": "6f1c1b1e-0000-4000-8000-000000000002", "value": value,
	})
	if err != nil {
		t.Fatal(err)
	}
	op, err := crdt.DecodeOp(js)
	if err != nil {
		t.Fatal(err)
	}
	if err := crdt.Validate(model.DefaultSchema(), &op); err != nil {
		t.Fatal(err)
	}
	return protocol.Pending{Op: op}
}

func applyAll(tx protocol.Tx, p *protocol.Pending) protocol.Decision {
	effects, err := (&protocol.Service{Schema: model.DefaultSchema()}).Plan(tx, &p.Op)
	if err != nil {
		panic(err)
	}
	return protocol.Decision{Result: protocol.Result{ID: p.Op.ID, Status: protocol.StatusApplied, HLC: p.Op.HLC.String()}, Effects: effects}
}

// fixture is a backup of a store with records, notes and an audit chain.
type fixture struct {
	backup, key string
	// keys is the backup of the store's data keys.
	keys string
	want Manifest
}

func newFixture(t *testing.T, records int) fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "db"), store.Options{GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	note := map[string]string{"text": strings.Repeat("a statement that must come back whole ", 100)}
	for i := range records {
		rec := newID()
		ops := []protocol.Pending{
			testOp(t, 3*i, rec, model.FieldTeam, model.ActionSet, newID()),
			testOp(t, 3*i+1, rec, model.FieldStatus, model.ActionSet, "potential"),
			testOp(t, 3*i+2, rec, "notes", model.ActionAppend, note),
		}
		if _, err := db.Commit(ctx, ops, applyAll); err != nil {
			t.Fatal(err)
		}
	}
	log := audit.NewLog(db, func() time.Time { return time.Unix(1_700_000_000, 0).UTC() })
	for range 5 {
		if err := log.Record(ctx, audit.Event{Actor: "admin", Action: audit.ActionUserCreated}); err != nil {
			t.Fatal(err)
		}
	}
	f := fixture{backup: filepath.Join(dir, "fieldsync.backup"), key: filepath.Join(dir, "backup.key")}
	if _, err := GenerateKey(f.key); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(f.backup)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := Write(ctx, db, out, f.key); err != nil {
		t.Fatal(err)
	}
	f.keys = f.backup + ".datakeys"
	kout, err := os.Create(f.keys)
	if err != nil {
		t.Fatal(err)
	}
	defer kout.Close()
	if err := WriteKeys(db, kout, f.key); err != nil {
		t.Fatal(err)
	}
	if f.want, err = manifestOf(ctx, db); err != nil {
		t.Fatal(err)
	}
	return f
}

// restoreGuarded runs Restore with a generous hang guard, reporting the
// time it took (never asserting it).
func restoreGuarded(t *testing.T, o RestoreOptions) (Manifest, error) {
	t.Helper()
	type result struct {
		m   Manifest
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		m, err := Restore(context.Background(), o)
		done <- result{m, err}
	}()
	select {
	case r := <-done:
		t.Logf("restore returned in %v: %v", time.Since(start), r.err)
		return r.m, r.err
	case <-time.After(3 * time.Minute):
		t.Fatalf("restore of %s hung for 3 minutes", o.From)
		return Manifest{}, nil
	}
}

// assertNotOpenable checks that nothing a server would open is left in
// dataDir: no store, and CheckComplete refuses it.
func assertNotOpenable(t *testing.T, dataDir string) {
	t.Helper()
	if err := CheckComplete(dataDir); err == nil {
		if _, serr := os.Stat(dataDir); serr == nil {
			t.Fatalf("%s is left without the incomplete-restore marker", dataDir)
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, storeDir)); err == nil && CheckComplete(dataDir) == nil {
		t.Fatalf("%s holds a store a server would open", dataDir)
	}
}

func TestRestoreRoundTripChecksManifest(t *testing.T) {
	f := newFixture(t, 30)
	data := filepath.Join(t.TempDir(), "data")
	got, err := restoreGuarded(t, RestoreOptions{DataDir: data, From: f.backup, KeyFile: f.key})
	if err != nil {
		t.Fatal(err)
	}
	if got != f.want || got.Records != 30 || got.AuditSeq != 5 {
		t.Fatalf("manifest %+v, want %+v", got, f.want)
	}
	if err := CheckComplete(data); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(data)
	if len(entries) != 1 || entries[0].Name() != storeDir {
		t.Fatalf("data directory holds %v, want only %s", entries, storeDir)
	}
	if _, err := Restore(context.Background(), RestoreOptions{DataDir: data, From: f.backup, KeyFile: f.key}); err == nil || !strings.Contains(err.Error(), "already holds a store") {
		t.Fatalf("restore over a store: %v", err)
	}
}

// TestRestoreOfDamagedBackupFailsInOneLine truncates the backup at 10
// offsets and flips bytes in it: every restore must fail with one line
// naming the problem and leave nothing a server would open. (Before, a
// cut at 50-97% hung forever, and a killed restore left an empty store.)
func TestRestoreOfDamagedBackupFailsInOneLine(t *testing.T) {
	f := newFixture(t, 150)
	full, err := os.ReadFile(f.backup)
	if err != nil {
		t.Fatal(err)
	}
	type damaged struct {
		name string
		data []byte
		want string
	}
	var cases []damaged
	for _, pct := range []int{1, 10, 20, 30, 50, 60, 75, 90, 97, 99} {
		n := len(full) * pct / 100
		cases = append(cases, damaged{fmt.Sprintf("cut at %d%%", pct), full[:n], "damaged"})
	}
	for _, pct := range []int{0, 5, 50, 99} {
		b := bytes.Clone(full)
		i := len(b) * pct / 100
		if pct == 0 {
			i = len("age-encryption.org/v1\n-> X25519 ") + 3
		}
		b[i] ^= 0x20
		cases = append(cases, damaged{fmt.Sprintf("byte %d flipped", i), b, ""})
	}
	cases = append(cases, damaged{"empty", nil, "damaged"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			from := filepath.Join(dir, "damaged.backup")
			if err := os.WriteFile(from, c.data, 0o600); err != nil {
				t.Fatal(err)
			}
			data := filepath.Join(dir, "data")
			_, err := restoreGuarded(t, RestoreOptions{DataDir: data, From: from, KeyFile: f.key})
			if err == nil {
				t.Fatal("restore of a damaged backup succeeded")
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, c.want) {
				t.Fatalf("error %q: want one line containing %q", msg, c.want)
			}
			assertNotOpenable(t, data)
		})
	}
	t.Run("wrong key", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "other.key")
		if _, err := GenerateKey(other); err != nil {
			t.Fatal(err)
		}
		data := filepath.Join(t.TempDir(), "data")
		_, err := restoreGuarded(t, RestoreOptions{DataDir: data, From: f.backup, KeyFile: other})
		if !errors.Is(err, ErrWrongKey) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("wrong key: %v, want one line with ErrWrongKey", err)
		}
		assertNotOpenable(t, data)
		// The same directory then takes a good restore.
		if _, err := restoreGuarded(t, RestoreOptions{DataDir: data, From: f.backup, KeyFile: f.key}); err != nil {
			t.Fatal(err)
		}
		if err := CheckComplete(data); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRestoreKilledLeavesNothingServeOpens kills a restore (SIGKILL, in a
// child process) at 20 random steps: marking, reading the backup, loading,
// checking, renaming. Each time the directory must be refused by
// CheckComplete (as serve and every tool call it), and a new restore into
// it must then complete.
func TestRestoreKilledLeavesNothingServeOpens(t *testing.T) {
	f := newFixture(t, 150)
	steps := 0
	count := RestoreOptions{DataDir: filepath.Join(t.TempDir(), "data"), From: f.backup, KeyFile: f.key, step: func(string) { steps++ }}
	if _, err := Restore(context.Background(), count); err != nil {
		t.Fatal(err)
	}
	seed, _ := rand.Int(rand.Reader, big.NewInt(1<<32))
	rng := mrand.New(mrand.NewPCG(seed.Uint64(), 1))
	t.Logf("%d steps per restore; seed %d", steps, seed)
	runs := 20
	if testing.Short() {
		runs = 8
	}
	for i := range runs {
		killAt := 1 + rng.IntN(steps)
		data := filepath.Join(t.TempDir(), "data")
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "FIELDSYNC_TEST_RESTORE_CHILD=1", "FIELDSYNC_TEST_KILL_AT="+strconv.Itoa(killAt),
			"FIELDSYNC_TEST_DATA="+data, "FIELDSYNC_TEST_FROM="+f.backup, "FIELDSYNC_TEST_KEY="+f.key)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != -1 {
			t.Fatalf("run %d: the child killed at step %d ended with %v: %s", i, killAt, err, out)
		}
		assertNotOpenable(t, data)
		if CheckComplete(data) == nil {
			t.Fatalf("run %d: killed at step %d of %d, %s is not marked incomplete", i, killAt, steps, data)
		}
		if _, err := restoreGuarded(t, RestoreOptions{DataDir: data, From: f.backup, KeyFile: f.key}); err != nil {
			t.Fatalf("run %d: restore after a kill at step %d: %v", i, killAt, err)
		}
		if err := CheckComplete(data); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRestoreOfFormatOneBackup: a backup written before manifests (only
// badger's stream) still restores, its audit chain verified.
func TestRestoreOfFormatOneBackup(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "db"), store.Options{GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	ops := []protocol.Pending{testOp(t, 1, newID(), model.FieldTeam, model.ActionSet, newID())}
	if _, err := db.Commit(ctx, ops, applyAll); err != nil {
		t.Fatal(err)
	}
	key, from := filepath.Join(dir, "backup.key"), filepath.Join(dir, "old.backup")
	if _, err := GenerateKey(key); err != nil {
		t.Fatal(err)
	}
	var sealed bytes.Buffer
	if err := Encrypt(&sealed, key, func(w io.Writer) error { return db.Backup(ctx, w) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(from, sealed.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if _, err := restoreGuarded(t, RestoreOptions{DataDir: data, From: from, KeyFile: key}); err != nil {
		t.Fatal(err)
	}
	restored, err := store.Open(filepath.Join(data, storeDir), store.Options{GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	if n, err := restored.RecordCount(ctx); err != nil || n != 1 {
		t.Fatalf("restored %d records (%v), want 1", n, err)
	}
}
