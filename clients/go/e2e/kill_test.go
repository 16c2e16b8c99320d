package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	fieldsync "github.com/fieldsync/fieldsync/clients/go"

	"github.com/fieldsync/fieldsync/model"
)

// TestKilledDeviceLosesNothing runs the device as a child process and
// kills it with SIGKILL, many times, at random points during local writes,
// during syncs and while it opens and closes its replica; the next child
// must open the replica at its first try. Every write the SDK acknowledged survives every kill,
// and the device then converges with the server, each op held once.
func TestKilledDeviceLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	s := startServer(t, nil)
	s.user("fw", model.RoleFieldWorker, "north")
	s.user("sup", model.RoleSupervisor)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 7))
	acked := map[string]string{} // op -> record
	kills := 0
	for i := range 20 {
		mode := "write"
		switch {
		case i%4 == 3:
			mode = "reopen"
		case i%3 == 2:
			mode = "sync"
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "FIELDSYNC_E2E_CHILD="+mode, "FIELDSYNC_E2E_DIR="+dir, "FIELDSYNC_E2E_URL="+s.URL,
			"FIELDSYNC_E2E_USER=fw", "FIELDSYNC_E2E_TEAM="+s.team("north"), "FIELDSYNC_E2E_SEED="+strconv.Itoa(i))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 5 + rng.IntN(200) // acknowledged writes before the kill (mode write)
		sc := bufio.NewScanner(out)
		seen, killed := 0, false
		kill := func() {
			if !killed {
				killed = true
				_ = cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "ACK "):
				f := strings.Fields(line)
				acked[f[2]] = f[1]
				seen++
				if mode == "write" && seen >= killAfter {
					kill()
				}
			case line == "SYNC":
				// Kill somewhere inside the syncs that follow.
				time.AfterFunc(time.Duration(rng.IntN(40_000))*time.Microsecond, kill)
			case line == "REOPEN":
				// Kill somewhere inside the opens, edits, syncs and closes
				// that follow.
				time.AfterFunc(time.Duration(rng.IntN(1_000_000))*time.Microsecond, kill)
			}
		}
		err = cmd.Wait()
		if !killed {
			t.Fatalf("child %d (%s) ended by itself: %v", i, mode, err)
		}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("child %d: %v, want killed by SIGKILL", i, err)
		}
		kills++
	}
	t.Logf("%d kills, %d acknowledged writes", kills, len(acked))

	ctx := context.Background()
	c := openDevice(t, dir, s.URL)
	local := map[string]int{}
	records := map[string]bool{}
	for _, rec := range acked {
		records[rec] = true
	}
	for rec := range records {
		for _, op := range must[[]opRef](t)(history(c, rec)) {
			local[op.id]++
		}
	}
	for op, rec := range acked {
		if local[op] != 1 {
			t.Errorf("acknowledged op %s of record %s: held %d times after the kills, want 1", op, rec, local[op])
		}
	}
	if q := must[[]fieldsync.Rejected](t)(c.Quarantine(ctx)); len(q) != 0 {
		t.Errorf("quarantine holds %d ops, want none: %+v", len(q), q[0])
	}
	// The children synced between kills: the server already holds ops.
	sup := s.login("sup", userPassword).AccessToken
	before := 0
	for rec := range records {
		if status, data := s.do(http.MethodGet, "/v1/records/"+rec+"?history=true", sup, nil); status == http.StatusOK {
			var served struct {
				History []json.RawMessage `json:"history"`
			}
			mustUnmarshal(t, data, &served)
			before += len(served.History)
		}
	}
	if before == 0 {
		t.Fatal("the server holds no op before the final sync: the children never synced, the kills never hit a sync")
	}
	t.Logf("the server held %d ops before the final sync", before)
	syncOK(t, c)
	if st := must[fieldsync.Status](t)(c.Status(ctx)); st.Outbox != 0 {
		t.Fatalf("outbox %d after sync, want 0", st.Outbox)
	}
	held := map[string]int{}
	for _, rec := range slices.Sorted(maps.Keys(records)) {
		sameAsServer(t, s, sup, c, rec)
		var served struct {
			History []struct {
				ID string `json:"id"`
			} `json:"history"`
		}
		mustUnmarshal(t, s.record(sup, rec, true), &served)
		for _, op := range served.History {
			held[op.ID]++
		}
	}
	for op := range acked {
		if held[op] != 1 {
			t.Errorf("acknowledged op %s held %d times by the server, want 1", op, held[op])
		}
	}
}
