package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// world is the server and the team the figures are measured on.
type world struct {
	base     string
	admin    string // admin access token
	team     string
	password string
	// lead wrote every record; fresh devices log in as worker.
	lead, worker string
	records      []string
	open         int // open cases among records
	ops          int
	close        func() error
}

// startServer starts a server in-process on 127.0.0.1:0 over a temporary
// directory, with no per-user rate limit (devices here fetch at loopback
// speed whatever link time is computed).
func startServer(ctx context.Context) (*world, error) {
	dir, err := os.MkdirTemp("", "fieldsync-link-")
	if err != nil {
		return nil, fmt.Errorf("create the server's data directory: %w", err)
	}
	w := &world{password: "pw-" + randomHex(12)}
	env := map[string]string{"FIELDSYNC_ADMIN_PASSWORD": w.password, "FIELDSYNC_LOG_LEVEL": "error",
		"FIELDSYNC_USER_RATE": "100000", "FIELDSYNC_USER_BURST": "100000"}
	m := server.NewMain()
	m.Stdout = io.Discard
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--metrics-addr", "", "--data", dir}, func(k string) string { return env[k] }); err != nil {
		return nil, errors.Join(fmt.Errorf("configure the in-process server: %w", err), os.RemoveAll(dir))
	}
	if err := m.Run(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("start the in-process server: %w", err), m.Close(), os.RemoveAll(dir))
	}
	w.base = "http://" + m.Addr()
	w.close = func() error { return errors.Join(m.Close(), os.RemoveAll(dir)) }
	return w, nil
}

// call sends a JSON request with token and decodes a want answer into out.
func (w *world) call(ctx context.Context, method, path, token string, in any, want int, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, w.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: HTTP %d: %.300s", method, path, resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

func (w *world) login(ctx context.Context, user, password string) (api.TokenResponse, error) {
	var tr api.TokenResponse
	err := w.call(ctx, http.MethodPost, "/v1/auth/login", "", api.LoginRequest{Username: user, Password: password, DeviceName: "fieldsync-link"}, http.StatusOK, &tr)
	return tr, err
}

// setup creates the team, its lead and a field worker.
func (w *world) setup(ctx context.Context) error {
	admin, err := w.login(ctx, "admin", w.password)
	if err != nil {
		return err
	}
	w.admin = admin.AccessToken
	var t model.Team
	if err := w.call(ctx, http.MethodPost, "/v1/admin/teams", w.admin, api.CreateTeamRequest{Name: "Mobile team Sliven", Region: "Sliven"}, http.StatusCreated, &t); err != nil {
		return err
	}
	w.team, w.lead, w.worker = t.ID, "lead", "worker"
	for name, role := range map[string]model.Role{w.lead: model.RoleTeamLead, w.worker: model.RoleFieldWorker} {
		req := api.CreateUserRequest{Username: name, Password: w.password, Role: role, Teams: []string{t.ID}}
		if err := w.call(ctx, http.MethodPost, "/v1/admin/users", w.admin, req, http.StatusCreated, nil); err != nil {
			return err
		}
	}
	return nil
}

// words is the vocabulary of note texts: every note is 14 to 30 words
// drawn at random, so no note repeats another (compression is measured on
// text, not on repeated strings).
var words = strings.Fields(`met near the bus station with two others says employer keeps her passport and she owes money
for trip speaks little of local language a man waited outside during whole conversation called twice was promised work
in hotel abroad on arrival had to bar hand over all tips sleeps at workplace six works fourteen hours day has not been
paid months came back from last week recruiter still messages debt grown follow-up call agreed meet social worker
tomorrow community centre asked help get identity card landlord who also arranged job second meeting more ease confirmed
withheld documents hotline herself this morning place shelter is being arranged brother cousin acquaintance did come
appointment team will try phone number again car wash ring road seasonal farm camp railway waiting room market van`)

// note returns a unique note text.
func note(r *mrand.Rand, i int) string {
	n := 14 + r.IntN(17)
	out := make([]string, n)
	for j := range out {
		out[j] = words[r.IntN(len(words))]
	}
	return fmt.Sprintf("%s (visit %d)", strings.Join(out, " "), i)
}

// fill writes ops over records identifications of the team, as the lead,
// in pushes of 1000: a record's team, status, code, region, location,
// sex, age and an indicator, then notes (unique texts) up to its share of
// the ops. openShare of the records are open cases (potential or
// presumed); the others were withdrawn.
func (w *world) fill(ctx context.Context, records, ops int, openShare float64, progress io.Writer) error {
	tok, err := w.login(ctx, w.lead, w.password)
	if err != nil {
		return err
	}
	r := mrand.New(mrand.NewPCG(13, 37))
	clock := hlc.NewClock(time.Now, 0)
	var batch [][]byte
	push := func() error {
		if len(batch) == 0 {
			return nil
		}
		body := append([]byte(`{"ops":[`), bytes.Join(batch, []byte(","))...)
		body = append(body, "]}"...)
		var res api.PushResponse
		if err := w.call(ctx, http.MethodPost, "/v1/sync/push", tok.AccessToken, json.RawMessage(body), http.StatusOK, &res); err != nil {
			return err
		}
		for _, x := range res.Results {
			if x.Status != "applied" {
				return fmt.Errorf("op %s was not applied: %s %s", x.ID, x.Code, x.Message)
			}
		}
		w.ops += len(res.Results)
		batch = batch[:0]
		return nil
	}
	add := func(id, field string, action model.Action, value any) error {
		op, err := crdt.NewOp(crdt.Op{ID: uuid.Must(uuid.NewV7()).String(), Record: id, Kind: model.KindIdentification, Field: field,
			Action: action, HLC: clock.Now(), Device: tok.DeviceID}, value)
		if err != nil {
			return err
		}
		batch = append(batch, op.AppendJSON(nil))
		if len(batch) == 1000 {
			return push()
		}
		return nil
	}
	fmt.Fprintf(progress, "fill: %d ops over %d records of one team\n", ops, records)
	for i := range records {
		id := uuid.Must(uuid.NewV7()).String()
		w.records = append(w.records, id)
		status := "withdrawn"
		if r.Float64() < openShare {
			status = []string{"potential", "presumed"}[r.IntN(2)]
			w.open++
		}
		n := ops / records
		if i < ops%records {
			n++
		}
		fields := []struct {
			f      string
			action model.Action
			v      any
		}{{model.FieldTeam, model.ActionSet, w.team}, {model.FieldStatus, model.ActionSet, status}, {"code", model.ActionSet, fmt.Sprintf("SL-%05d", i+1)},
			{"region", model.ActionSet, "Sliven"}, {"location", model.ActionSet, fmt.Sprintf("outreach point %d", r.IntN(400))},
			{"sex", model.ActionSet, []string{"female", "male", "unknown"}[r.IntN(3)]}, {"age_estimate", model.ActionSet, 14 + r.IntN(40)},
			{"indicators", model.ActionAdd, indicators[r.IntN(len(indicators))]}}
		for j := range n {
			var err error
			if j < len(fields) {
				err = add(id, fields[j].f, fields[j].action, fields[j].v)
			} else {
				err = add(id, "notes", model.ActionAppend, map[string]any{"text": note(r, j)})
			}
			if err != nil {
				return err
			}
		}
	}
	return push()
}

var indicators = model.DefaultCatalogue().Codes()

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
