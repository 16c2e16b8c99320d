package badgerdir_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/server/badgerdir"
)

// TestMain lets the test binary act as the killed process of
// TestKilledAnywhereOpensNextTime: with FIELDSYNC_BADGERDIR_CHILD set it
// opens, writes to and closes a store until it is killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("FIELDSYNC_BADGERDIR_CHILD"); dir != "" {
		if err := runChild(dir); err != nil {
			fmt.Println("FAILED", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// killProfile is one way of using badger: the SDK's (no synced writes, a
// Sync after each durable transaction) or the server's (synced writes,
// encrypted at rest).
type killProfile struct {
	name string
	sdk  bool
	key  []byte
}

var killProfiles = []killProfile{
	{name: "sdk", sdk: true},
	{name: "server", key: []byte("0123456789abcdef0123456789abcdef")},
}

// options are small badger options for profile p: memtables and value
// logs rotate every few hundred writes, so kills land in their creation.
func (p killProfile) options(dir string) badger.Options {
	o := badger.DefaultOptions(dir).
		WithLogger(nil).
		WithSyncWrites(!p.sdk).
		WithMemTableSize(256 << 10).
		WithValueLogFileSize(1 << 20).
		WithValueThreshold(512).
		WithBlockCacheSize(1 << 20).
		WithNumCompactors(2)
	if p.key != nil {
		o = o.WithEncryptionKey(p.key).WithIndexCacheSize(1 << 20)
	}
	return o
}

// value is the value written under key: size bytes derived from the key.
func value(key string, size int) []byte {
	sum := sha256.Sum256([]byte(key))
	return bytes.Repeat(sum[:], size/len(sum)+1)[:size]
}

// runChild opens the store in dir, writes a few keys, closes it, and
// again, until killed. It prints "OPEN" before each open and "ACK <key>
// <size>" once a write is durable.
func runChild(dir string) error {
	seed, _ := strconv.ParseUint(os.Getenv("FIELDSYNC_BADGERDIR_SEED"), 10, 64)
	p := killProfiles[seed%uint64(len(killProfiles))]
	rng := rand.New(rand.NewPCG(seed, 10))
	for cycle := 0; ; cycle++ {
		fmt.Println("OPEN")
		db, err := badgerdir.Open(p.options(dir), nil)
		if err != nil {
			return err
		}
		for i := range rng.IntN(40) {
			key := fmt.Sprintf("k/%d/%d/%d", seed, cycle, i)
			size := 16 + rng.IntN(400)
			if rng.IntN(3) == 0 {
				size = 2<<10 + rng.IntN(60<<10) // to the value log
			}
			if err := db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(key), value(key, size)) }); err != nil {
				return err
			}
			if p.sdk {
				if err := db.Sync(); err != nil {
					return err
				}
			}
			fmt.Println("ACK", key, size)
		}
		if err := db.Close(); err != nil {
			return err
		}
	}
}

// TestKilledAnywhereOpensNextTime kills a process that opens, writes to,
// syncs and closes a badger store with SIGKILL at random points, and
// opens the store after each kill: every open succeeds at the first try
// and holds every write acknowledged before. It kills 60 times, 30 with
// -short (FIELDSYNC_KILL_ROUNDS sets the count for a longer run;
// FIELDSYNC_KILL_SEED replays a run whose seed the log printed).
func TestKilledAnywhereOpensNextTime(t *testing.T) {
	rounds := 60
	if testing.Short() {
		rounds = 30
	}
	if s := os.Getenv("FIELDSYNC_KILL_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("FIELDSYNC_KILL_ROUNDS=%q: want a positive number", s)
		}
		rounds = n
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FIELDSYNC_KILL_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("FIELDSYNC_KILL_SEED=%q: want a number", s)
		}
		seed = n
	}
	t.Logf("seed %d (replay with FIELDSYNC_KILL_SEED=%d), %d rounds", seed, seed, rounds)
	rng := rand.New(rand.NewPCG(seed, 11))
	base := t.TempDir()
	acked := make([]map[string]int, len(killProfiles)) // key -> size, per profile
	for i := range acked {
		acked[i] = map[string]int{}
	}
	repaired := 0
	for round := range rounds {
		childSeed := seed + uint64(round)
		pi := int(childSeed % uint64(len(killProfiles)))
		p := killProfiles[pi]
		dir := filepath.Join(base, p.name)
		killChild(t, dir, childSeed, time.Duration(rng.IntN(150_000))*time.Microsecond, acked[pi])

		var logs bytes.Buffer
		db, err := badgerdir.Open(p.options(dir), slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatalf("round %d (%s, child seed %d): the open after the kill failed: %v", round, p.name, childSeed, err)
		}
		if logs.Len() > 0 {
			repaired++
			t.Logf("round %d (%s): %s", round, p.name, strings.TrimSpace(logs.String()))
		}
		checkAcked(t, db, acked[pi], round)
		if err := db.Close(); err != nil {
			t.Fatalf("round %d: close: %v", round, err)
		}
	}
	total := len(acked[0]) + len(acked[1])
	t.Logf("%d kills, %d repaired at open, %d acknowledged writes", rounds, repaired, total)
	if total == 0 {
		t.Fatal("no write was acknowledged: the kills came before any write")
	}
}

// killChild runs a child on dir and kills it with SIGKILL after delay
// from its first open, recording its acknowledged writes in acked.
func killChild(t *testing.T, dir string, seed uint64, delay time.Duration, acked map[string]int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FIELDSYNC_BADGERDIR_CHILD="+dir, "FIELDSYNC_BADGERDIR_SEED="+strconv.FormatUint(seed, 10))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var timer *time.Timer
	var failed string
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 1 && f[0] == "OPEN" && timer == nil:
			timer = time.AfterFunc(delay, func() { _ = cmd.Process.Signal(syscall.SIGKILL) })
		case len(f) == 3 && f[0] == "ACK":
			size, _ := strconv.Atoi(f[2])
			acked[f[1]] = size
		case len(f) > 0 && f[0] == "FAILED":
			failed = sc.Text()
		}
	}
	err = cmd.Wait()
	if failed != "" {
		t.Fatalf("child (seed %d): %s", seed, failed)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child (seed %d): %v, want killed by SIGKILL", seed, err)
	}
}

// checkAcked fails unless db holds every acknowledged write.
func checkAcked(t *testing.T, db *badger.DB, acked map[string]int, round int) {
	t.Helper()
	err := db.View(func(txn *badger.Txn) error {
		for key, size := range acked {
			item, err := txn.Get([]byte(key))
			if err != nil {
				return fmt.Errorf("acknowledged key %s: %w", key, err)
			}
			got, err := item.ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("acknowledged key %s: %w", key, err)
			}
			if !bytes.Equal(got, value(key, size)) {
				return fmt.Errorf("acknowledged key %s holds %d other bytes, want %d", key, len(got), size)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
}
