package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// TestMain lets the test binary act as a server process for the SIGKILL
// test: with FIELDSYNC_TEST_CHILD set it serves until killed.
func TestMain(m *testing.M) {
	if os.Getenv("FIELDSYNC_TEST_CHILD") != "" {
		runChild()
		return
	}
	os.Exit(m.Run())
}

func runChild() {
	mn := server.NewMain()
	if err := mn.ParseFlags([]string{"--addr", "127.0.0.1:0", "--metrics-addr", "", "--data", os.Getenv("FIELDSYNC_DATA")}, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mn.Log = discardLogger()
	if err := mn.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("LISTENING %s\n", mn.Addr())
	_ = mn.Wait()
}

// child is a server subprocess.
type child struct {
	cmd  *exec.Cmd
	addr string
}

func startChild(t *testing.T, dir string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FIELDSYNC_TEST_CHILD=1", "FIELDSYNC_DATA="+dir)
	for k, v := range testEnv() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "LISTENING "); ok {
			go func() {
				for sc.Scan() {
				}
			}()
			return &child{cmd: cmd, addr: addr}
		}
	}
	_ = cmd.Process.Kill()
	t.Fatalf("server child did not start: %v", cmd.Wait())
	return nil
}

func (c *child) kill() {
	_ = c.cmd.Process.Kill() // SIGKILL
	_ = c.cmd.Wait()
}

// killRig is the setting of the SIGKILL tests: a server child process on
// its own data directory and three field workers of team north, whose
// work the server is killed under, round after round.
type killRig struct {
	t       *testing.T
	dir     string
	ch      *child
	h       *harness
	w       *world
	devices []*client // fw0, fw1, fw2, logged in to the current server
}

func newKillRig(t *testing.T) *killRig {
	t.Helper()
	k := &killRig{t: t, dir: t.TempDir()}
	k.ch = startChild(t, k.dir)
	k.h = &harness{t: t, base: "http://" + k.ch.addr, http: &http.Client{Timeout: 30 * time.Second}}
	k.w = newWorld(k.h, []string{"north"}, map[string]userSpec{
		"fw0": {role: model.RoleFieldWorker, teams: []string{"north"}},
		"fw1": {role: model.RoleFieldWorker, teams: []string{"north"}},
		"fw2": {role: model.RoleFieldWorker, teams: []string{"north"}},
	})
	k.devices = []*client{k.w.clients["fw0"], k.w.clients["fw1"], k.w.clients["fw2"]}
	return k
}

// work runs f for each device in its own goroutine; f returns when stop
// is closed (or earlier). wait waits for every f.
func (k *killRig) work(f func(i int, d *client, stop <-chan struct{})) (stop chan struct{}, wait func()) {
	stop = make(chan struct{})
	var wg sync.WaitGroup
	for i, d := range k.devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i, d, stop)
		}()
	}
	return stop, wg.Wait
}

// round runs f on every device for pause, SIGKILLs the server, stops and
// waits for f, then restarts the server on the same directory and logs
// every device in again.
func (k *killRig) round(pause time.Duration, f func(i int, d *client, stop <-chan struct{})) {
	stop, wait := k.work(f)
	time.Sleep(pause)
	k.ch.kill()
	close(stop)
	wait()

	k.ch = startChild(k.t, k.dir)
	k.h.base = "http://" + k.ch.addr
	for i, d := range k.devices {
		k.devices[i] = k.h.login(d.user.Username, userPassword, d.device)
	}
}

// TestSIGKILLMidPushLosesNoAcknowledgedOp kills the server with SIGKILL
// while devices push, 20 times, and after each restart finds every op the
// server had acknowledged.
func TestSIGKILLMidPushLosesNoAcknowledgedOp(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a server 20 times")
	}
	k := newKillRig(t)
	acked := map[string]bool{}
	var mu sync.Mutex
	for round := range 20 {
		k.round(time.Duration(100+round*17%150)*time.Millisecond, func(_ int, d *client, stop <-chan struct{}) {
			pushUntilDead(d, stop, func(ids []string) {
				mu.Lock()
				defer mu.Unlock()
				for _, id := range ids {
					acked[id] = true
				}
			})
		})
		ops, _, _ := k.devices[0].pullAll("", 5000)
		have := make(map[string]bool, len(ops))
		for _, raw := range ops {
			op, err := crdt.DecodeOp(raw)
			if err != nil {
				t.Fatal(err)
			}
			have[op.ID] = true
		}
		for id := range acked {
			if !have[id] {
				t.Fatalf("round %d: acknowledged op %s is gone after SIGKILL", round, id)
			}
		}
	}
	k.ch.kill()
	if len(acked) < 100 {
		t.Fatalf("only %d ops were acknowledged in 20 rounds; the test did not exercise the server", len(acked))
	}
}

// pushUntilDead pushes batches (each creating a record) until the server
// stops answering, reporting the ids of every applied op.
func pushUntilDead(c *client, stop <-chan struct{}, ackd func([]string)) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		rec := newID()
		ops := c.newIdentification(rec, c.user.Teams[0])
		for j := range 49 {
			ops = append(ops, c.op(rec, model.KindIdentification, "notes", "append", map[string]string{"text": fmt.Sprint(j)}))
		}
		body, _ := json.Marshal(api.PushRequest{Ops: ops})
		req, _ := http.NewRequest(http.MethodPost, c.h.base+"/v1/sync/push", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.h.http.Do(req)
		if err != nil {
			return
		}
		var res api.PushResponse
		err = json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return
		}
		ids := []string{}
		for _, r := range res.Results {
			if r.Status == "applied" || r.Status == "duplicate" {
				ids = append(ids, r.ID)
			}
		}
		ackd(ids)
	}
}
