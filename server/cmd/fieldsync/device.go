package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	fieldsync "github.com/fieldsync/fieldsync/clients/go"
	"github.com/fieldsync/fieldsync/model"
)

const deviceUsage = `usage: fieldsync device <command> [--dir DIR] [--server URL] [args]

Plays a tablet from a terminal: a local replica in --dir (FIELDSYNC_DEVICE_DIR,
default ./device) that works offline and syncs with --server (FIELDSYNC_SERVER,
default http://127.0.0.1:8080). Against a server with a self-signed certificate
(serve --tls-self-signed), pass the fingerprint it prints as --server-cert
(FIELDSYNC_SERVER_CERT_SHA256). fieldsync device <command> -h shows one
command's usage.

commands:
  login USERNAME                 log in (password from FIELDSYNC_PASSWORD or a prompt)
  teams                          the user's teams, names and ids
  new-identification TEAM [FIELD=VALUE...]
                                 create an identification offline (TEAM: a name or an id)
  set RECORD FIELD VALUE         set a register (VALUE is JSON if it parses, else a string)
  add RECORD FIELD ELEMENT       add to a set
  remove RECORD FIELD ELEMENT    remove from a set
  note RECORD TEXT               append a note
  show RECORD                    the merged record (with conflicts)
  attach RECORD FILE [--caption TEXT]
                                 attach a file; the next sync uploads it before the entry
  fetch RECORD DIGEST OUT        download an attached file into OUT
  list [KIND]                    records held locally
  conflicts                      records with concurrent values
  sync                           push the outbox, then pull; says what was pushed,
                                 pulled and rejected (exit status 1 if anything was)
  status                         outbox, quarantine, last sync
  quarantine [list]              the ops the server rejected, one sentence each
  quarantine show OP             one rejected op in full
  quarantine resend OP|RECORD [FIELD=VALUE...]
                                 write rejected ops again, with fixed values, for the next sync
  quarantine drop OP|RECORD      give up rejected ops for good
`

// deviceCommand is one device command: its arguments, what it does, and
// the code.
type deviceCommand struct {
	args, doc string
	run       func(d *deviceRun, ctx context.Context, args []string) error
}

// deviceRun is one device command's run: the replica, the cli, and the
// flags of commands that have their own (deviceFlags).
type deviceRun struct {
	*cli
	c *fieldsync.Client

	caption      string
	keepMetadata bool
}

// deviceFlags declares the flags of the commands that have their own.
var deviceFlags = map[string]func(fs *flag.FlagSet, d *deviceRun){
	"attach": func(fs *flag.FlagSet, d *deviceRun) {
		fs.StringVar(&d.caption, "caption", "", "the attachment's caption")
		fs.BoolVar(&d.keepMetadata, "keep-metadata", false, "keep a photo's location and device metadata (removed by default)")
	},
}

var deviceCommands map[string]deviceCommand

func init() {
	deviceCommands = map[string]deviceCommand{
		"login":              {"USERNAME", "Logs USERNAME in on this device (the password comes from FIELDSYNC_PASSWORD, or\na prompt) and prints the user's teams.", (*deviceRun).login},
		"teams":              {"", "Prints the user's teams, names and ids, as of the last login (works offline).", (*deviceRun).teams},
		"new-identification": {"TEAM [FIELD=VALUE...]", "Creates an identification offline and prints its id. TEAM is one of the user's\nteams, by id or by name (when no other team has that name).", (*deviceRun).newIdentification},
		"set":                {"RECORD FIELD VALUE", "Sets a register field (VALUE is JSON if it parses, else a string).", (*deviceRun).set},
		"add":                {"RECORD FIELD ELEMENT", "Adds ELEMENT to a set field.", (*deviceRun).add},
		"remove":             {"RECORD FIELD ELEMENT", "Removes ELEMENT from a set field.", (*deviceRun).remove},
		"note":               {"RECORD TEXT", "Appends a note to the record.", (*deviceRun).note},
		"show":               {"RECORD", "Prints the merged record, with its conflicts.", (*deviceRun).show},
		"attach": {"RECORD FILE [--caption TEXT] [--keep-metadata]", "Attaches FILE (a photo, scan, PDF or voice note) to the record offline and prints\n" +
			"its digest. The next sync uploads it, resuming after cuts, before the entry that\n" +
			"names it. Photos (JPEG, PNG) lose their location and device metadata first.", (*deviceRun).attach},
		"fetch": {"RECORD DIGEST OUT", "Downloads the file DIGEST attached to RECORD into the file OUT (from this\n" +
			"device's cache when it holds it). The server serves it only to a user who may\nread the record.", (*deviceRun).fetch},
		"list":      {"[KIND]", "Lists the records held on this device.", (*deviceRun).list},
		"conflicts": {"", "Lists the records with concurrent values.", (*deviceRun).conflicts},
		"sync":      {"", "Pushes the outbox, then pulls to the end, and says what was pushed, pulled and\nrejected. Exits 1 when the server rejected anything (see quarantine).", (*deviceRun).sync},
		"status":    {"", "Prints the outbox, the quarantine and the last sync.", (*deviceRun).status},
		"quarantine": {"[list | show OP | resend OP|RECORD [FIELD=VALUE...] | drop OP|RECORD]",
			"The ops the server rejected, kept on this device and no longer in its records.\n" +
				"  list                  one sentence per op (the default)\n" +
				"  show OP               one op in full, with how to fix it\n" +
				"  resend OP|RECORD ...  write the ops again (RECORD: all of its rejected ops), as new\n" +
				"                        ops, replacing the value of each FIELD=VALUE given; the next\n" +
				"                        sync sends them\n" +
				"  drop OP|RECORD        give the ops up for good", (*deviceRun).quarantine},
	}
}

func (c *cli) device(args []string) error {
	if len(args) == 0 {
		return usagef("device: name a command (fieldsync device -h lists them)")
	}
	if isHelp(args[0]) || args[0] == "help" {
		fmt.Fprint(c.out, deviceUsage)
		return errHelpShown
	}
	name := args[0]
	cmd, ok := deviceCommands[name]
	if !ok {
		return usagef("unknown device command %q (fieldsync device -h lists them)", name)
	}
	fs := flag.NewFlagSet("device "+name, flag.ContinueOnError)
	dir := fs.String("dir", c.envOr("FIELDSYNC_DEVICE_DIR", "./device"), "the device's local replica (FIELDSYNC_DEVICE_DIR)")
	server := fs.String("server", c.envOr("FIELDSYNC_SERVER", "http://127.0.0.1:8080"), "the fieldsync server (FIELDSYNC_SERVER)")
	pin := fs.String("server-cert", c.envOr("FIELDSYNC_SERVER_CERT_SHA256", ""), "SHA-256 fingerprint of the server's self-signed certificate, to trust it alone (FIELDSYNC_SERVER_CERT_SHA256)")
	help := fmt.Sprintf("%s\n\n%s\n", strings.TrimSpace("usage: fieldsync device "+name+" [--dir DIR] [--server URL] "+cmd.args), cmd.doc)
	run := &deviceRun{cli: c}
	if flags := deviceFlags[name]; flags != nil {
		flags(fs, run)
	}
	rest, err := c.parseInterspersed(fs, args[1:], help)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(c.errOut, &slog.HandlerOptions{Level: slog.LevelError}))
	client, err := fieldsync.Open(*dir, fieldsync.Options{ServerURL: *server, ServerCertSHA256: *pin, DeviceName: "fieldsync device CLI", Logger: log})
	if err != nil {
		return err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	run.c = client
	return cmd.run(run, ctx, rest)
}

// parseInterspersed parses flags placed anywhere among the arguments
// (device quarantine show --dir tab1 OP) and returns the others; after
// "--" every argument is positional.
func (c *cli) parseInterspersed(fs *flag.FlagSet, args []string, help string) ([]string, error) {
	var pos []string
	for {
		if err := c.parseFlags(fs, args, help); err != nil {
			return nil, err
		}
		left := fs.Args()
		if len(left) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(left); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, left...), nil
		}
		pos, args = append(pos, left[0]), left[1:]
	}
}

func needArgs(args []string, n int, usage string) error {
	if len(args) != n {
		return usagef("usage: fieldsync device %s", usage)
	}
	return nil
}

func (d *deviceRun) login(ctx context.Context, args []string) error {
	if err := needArgs(args, 1, "login USERNAME"); err != nil {
		return err
	}
	password := d.getenv("FIELDSYNC_PASSWORD")
	if password == "" {
		fmt.Fprint(d.errOut, "password: ")
		line, err := bufio.NewReader(d.in).ReadString('\n')
		if err != nil {
			return fmt.Errorf("read password: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	u, err := d.c.Login(ctx, args[0], password)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "Logged in as %s (%s) on device %s.\n", u.Username, u.Role, d.c.DeviceID())
	return d.printTeams()
}

func (d *deviceRun) teams(_ context.Context, args []string) error {
	if err := needArgs(args, 0, "teams"); err != nil {
		return err
	}
	if _, err := d.loggedInUser(); err != nil {
		return err
	}
	return d.printTeams()
}

func (d *deviceRun) printTeams() error {
	teams := d.c.Teams()
	if len(teams) == 0 {
		fmt.Fprintln(d.out, "No teams.")
		return nil
	}
	fmt.Fprintln(d.out, "Teams:")
	for _, t := range teams {
		name := t.Name
		if name == "" {
			name = "(unnamed)"
		}
		fmt.Fprintf(d.out, "  %-24s %s\n", name, t.ID)
	}
	return nil
}

// loggedInUser returns the user of this replica, or says to log in.
func (d *deviceRun) loggedInUser() (fieldsync.Status, error) {
	st, err := d.c.Status(context.Background())
	if err != nil {
		return st, err
	}
	if st.User.ID == "" {
		return st, errors.New("no one has logged in on this device: run fieldsync device login USERNAME first")
	}
	return st, nil
}

// resolveTeam finds arg among the user's teams, by id or by name (exact,
// then ignoring case). A user without teams (a national supervisor) may
// name any team id; the server decides.
func (d *deviceRun) resolveTeam(arg string) (string, error) {
	st, err := d.loggedInUser()
	if err != nil {
		return "", err
	}
	teams := d.c.Teams()
	if len(teams) == 0 {
		if st.User.Role == model.RoleSupervisor {
			return arg, nil
		}
		return "", fmt.Errorf("%s has no team, so cannot create an identification", st.User.Username)
	}
	for _, t := range teams {
		if t.ID == arg {
			return t.ID, nil
		}
	}
	var byName []fieldsync.Team
	for _, t := range teams {
		if t.Name == arg || strings.EqualFold(t.Name, arg) {
			byName = append(byName, t)
		}
	}
	switch len(byName) {
	case 1:
		return byName[0].ID, nil
	case 0:
		return "", fmt.Errorf("%q is not one of %s's teams (fieldsync device teams lists them)", arg, st.User.Username)
	}
	ids := make([]string, len(byName))
	for i, t := range byName {
		ids[i] = t.ID
	}
	return "", fmt.Errorf("%q names %d of your teams (%s): give the id", arg, len(byName), strings.Join(ids, ", "))
}

// parseValue reads a command-line value as JSON when it parses, else as
// a string (so 17 is a number, true a bool, and Shkodër a string).
func parseValue(s string) any {
	var v any
	if json.Unmarshal([]byte(s), &v) == nil {
		return v
	}
	return s
}

// fieldValues reads FIELD=VALUE arguments; a team is resolved by name.
func (d *deviceRun) fieldValues(args []string) ([]fieldsync.FieldValue, error) {
	var fields []fieldsync.FieldValue
	for _, kv := range args {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("%q is not FIELD=VALUE", kv)
		}
		if k == "team" {
			id, err := d.resolveTeam(v)
			if err != nil {
				return nil, err
			}
			fields = append(fields, fieldsync.F(k, id))
			continue
		}
		fields = append(fields, fieldsync.F(k, parseValue(v)))
	}
	return fields, nil
}

func (d *deviceRun) newIdentification(ctx context.Context, args []string) error {
	if len(args) < 1 {
		return usagef("usage: fieldsync device new-identification TEAM [FIELD=VALUE...]")
	}
	team, err := d.resolveTeam(args[0])
	if err != nil {
		return err
	}
	fields, err := d.fieldValues(args[1:])
	if err != nil {
		return err
	}
	id, err := d.c.CreateIdentification(ctx, team, fields...)
	if err != nil {
		return err
	}
	fmt.Fprintln(d.out, id)
	return nil
}

func (d *deviceRun) set(ctx context.Context, args []string) error {
	if err := needArgs(args, 3, "set RECORD FIELD VALUE"); err != nil {
		return err
	}
	fields, err := d.fieldValues([]string{args[1] + "=" + args[2]})
	if err != nil {
		return err
	}
	_, err = d.c.Set(ctx, args[0], args[1], fields[0].Value)
	return d.notFound(ctx, args[0], err)
}

func (d *deviceRun) add(ctx context.Context, args []string) error {
	if err := needArgs(args, 3, "add RECORD FIELD ELEMENT"); err != nil {
		return err
	}
	_, err := d.c.Add(ctx, args[0], args[1], args[2])
	return d.notFound(ctx, args[0], err)
}

func (d *deviceRun) remove(ctx context.Context, args []string) error {
	if err := needArgs(args, 3, "remove RECORD FIELD ELEMENT"); err != nil {
		return err
	}
	_, err := d.c.Remove(ctx, args[0], args[1], args[2])
	return d.notFound(ctx, args[0], err)
}

func (d *deviceRun) note(ctx context.Context, args []string) error {
	if err := needArgs(args, 2, "note RECORD TEXT"); err != nil {
		return err
	}
	_, err := d.c.Append(ctx, args[0], "notes", map[string]string{"text": args[1]})
	return d.notFound(ctx, args[0], err)
}

func (d *deviceRun) attach(ctx context.Context, args []string) error {
	if err := needArgs(args, 2, "attach RECORD FILE [--caption TEXT] [--keep-metadata]"); err != nil {
		return err
	}
	f, err := os.Open(args[1])
	var info os.FileInfo
	if err == nil {
		defer f.Close()
		info, err = f.Stat()
	}
	if err != nil {
		return fmt.Errorf("attach: cannot read %s: %w", args[1], errors.Unwrap(err))
	}
	// Streamed into the replica a chunk at a time, never read whole.
	a, err := d.c.AttachFrom(ctx, args[0], f, info.Size(), fieldsync.AttachOptions{Name: filepath.Base(args[1]), Caption: d.caption, KeepMetadata: d.keepMetadata})
	if err != nil {
		return d.notFound(ctx, args[0], err)
	}
	fmt.Fprintf(d.out, "%s (%s, %d bytes): uploaded by the next sync\n", a.Digest, a.MediaType, a.Size)
	return nil
}

func (d *deviceRun) fetch(ctx context.Context, args []string) error {
	if err := needArgs(args, 3, "fetch RECORD DIGEST OUT"); err != nil {
		return err
	}
	n, err := fetchFile(ctx, d.c, args[0], args[1], args[2])
	if err != nil {
		return d.notFound(ctx, args[0], err)
	}
	fmt.Fprintf(d.out, "%d bytes written to %s\n", n, args[2])
	return nil
}

// fetcher writes an attached file to w (fieldsync.Client.FetchTo).
type fetcher interface {
	FetchTo(ctx context.Context, record, digest string, w io.Writer) (int64, error)
}

var _ fetcher = (*fieldsync.Client)(nil)

// fetchFile streams a fetched file into a temporary file beside out and
// renames it to out only once FetchTo verified the whole file: out is
// never left half-written or holding bytes that failed their digest (an
// out that existed is left as it was), and the temporary file is removed.
func fetchFile(ctx context.Context, c fetcher, record, digest, out string) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".fetch-*")
	if err != nil {
		return 0, fmt.Errorf("fetch: cannot write beside %s: %w", out, errors.Unwrap(err))
	}
	n, err := c.FetchTo(ctx, record, digest, tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if err = os.Rename(tmp.Name(), out); err != nil {
			err = fmt.Errorf("fetch: cannot write %s: %w", out, errors.Unwrap(err))
		}
	}
	if err != nil {
		os.Remove(tmp.Name())
		return 0, err
	}
	return n, nil
}

// notFound explains a record missing from the device: when its ops are
// in the quarantine, that is why.
func (d *deviceRun) notFound(ctx context.Context, record string, err error) error {
	if !errors.Is(err, fieldsync.ErrNotFound) {
		return err
	}
	q, qerr := d.c.Quarantine(ctx)
	if qerr != nil {
		return err
	}
	n := 0
	for _, r := range q {
		if r.Op.Record == record {
			n++
		}
	}
	if n > 0 {
		return fmt.Errorf("record %s is not on this device: the server rejected %d of its ops (fieldsync device quarantine lists them)", record, n)
	}
	return fmt.Errorf("record %s is not on this device (fieldsync device list shows those that are)", record)
}

func (d *deviceRun) show(ctx context.Context, args []string) error {
	if err := needArgs(args, 1, "show RECORD"); err != nil {
		return err
	}
	r, err := d.c.Record(ctx, args[0])
	if err != nil {
		return d.notFound(ctx, args[0], err)
	}
	var pretty any
	if err := json.Unmarshal(r.Canonical(), &pretty); err != nil {
		return err
	}
	out, _ := json.MarshalIndent(pretty, "", "  ")
	fmt.Fprintln(d.out, string(out))
	return nil
}

func (d *deviceRun) list(ctx context.Context, args []string) error {
	q := fieldsync.Query{}
	if len(args) > 1 {
		return usagef("usage: fieldsync device list [KIND]")
	}
	if len(args) == 1 {
		q.Kind = args[0]
	}
	return d.printRecords(d.c.List(ctx, q))
}

func (d *deviceRun) conflicts(ctx context.Context, args []string) error {
	if err := needArgs(args, 0, "conflicts"); err != nil {
		return err
	}
	return d.printRecords(d.c.Conflicts(ctx))
}

func (d *deviceRun) printRecords(recs []*fieldsync.Record, err error) error {
	if err != nil {
		return err
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })
	for _, r := range recs {
		code := ""
		if f, ok := r.Fields["code"]; ok {
			code = string(f.Value)
		}
		line := fmt.Sprintf("%s  %-14s %s", r.ID, r.Kind, code)
		if len(r.Conflicts) > 0 {
			line += fmt.Sprintf("  conflicts: %s", strings.Join(r.Conflicts, ", "))
		}
		fmt.Fprintln(d.out, line)
	}
	fmt.Fprintf(d.out, "%d records\n", len(recs))
	return nil
}

// rejectedError ends a sync whose push had ops rejected (exit status 1).
type rejectedError struct{ n int }

func (e rejectedError) Error() string {
	return fmt.Sprintf("the server rejected %s: fix or drop with fieldsync device quarantine", plural(e.n, "op"))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func (d *deviceRun) sync(ctx context.Context, args []string) error {
	if err := needArgs(args, 0, "sync"); err != nil {
		return err
	}
	before, err := d.c.Quarantine(ctx)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, r := range before {
		known[r.Op.ID] = true
	}
	syncErr := d.c.Sync(ctx)
	st, err := d.c.Status(ctx)
	if err != nil {
		return errors.Join(syncErr, err)
	}
	after, err := d.c.Quarantine(ctx)
	if err != nil {
		return errors.Join(syncErr, err)
	}
	var fresh []fieldsync.Rejected
	for _, r := range after {
		if !known[r.Op.ID] {
			fresh = append(fresh, r)
		}
	}
	if syncErr == nil || st.Pushed+st.Pulled+len(fresh) > 0 {
		fmt.Fprintf(d.out, "Pushed %s (accepted by the server), pulled %s, %s rejected.\n", plural(st.Pushed, "op"), plural(st.Pulled, "op"), plural(len(fresh), "op"))
	}
	for _, r := range fresh {
		fmt.Fprintln(d.out, "  "+rejection(r))
	}
	if syncErr != nil {
		return syncErr
	}
	d.printState(st)
	if len(fresh) > 0 {
		return rejectedError{len(fresh)}
	}
	return nil
}

// rejection is one rejected op as a sentence: what it did, to which
// record and field, the code and the server's message (never its value).
func rejection(r fieldsync.Rejected) string {
	msg := strings.TrimSpace(r.Message)
	if msg != "" && !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return strings.TrimSpace(fmt.Sprintf("Op %s (%s %s of %s %s) was rejected: %s. %s", r.Op.ID, r.Op.Action, r.Op.Field, r.Op.Kind, r.Op.Record, r.Code, msg))
}

func (d *deviceRun) printState(st fieldsync.Status) {
	last := "never"
	if !st.LastSync.IsZero() {
		last = st.LastSync.Format(time.RFC3339)
	}
	fmt.Fprintf(d.out, "Device %s of %s (logged in: %v): %s held, %s in the outbox, %s in the quarantine; last sync %s.\n",
		st.DeviceID, orNone(st.User.Username), st.LoggedIn, plural(st.Records, "record"), plural(st.Outbox, "op"), plural(st.Quarantine, "op"), last)
}

func orNone(s string) string {
	if s == "" {
		return "no one"
	}
	return s
}

func (d *deviceRun) status(ctx context.Context, args []string) error {
	if err := needArgs(args, 0, "status"); err != nil {
		return err
	}
	st, err := d.c.Status(ctx)
	if err != nil {
		return err
	}
	d.printState(st)
	if st.Quarantine > 0 {
		fmt.Fprintln(d.out, "fieldsync device quarantine lists the rejected ops.")
	}
	return nil
}

func (d *deviceRun) quarantine(ctx context.Context, args []string) error {
	sub := "list"
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "list":
		if len(args) > 0 {
			return usagef("usage: fieldsync device quarantine list")
		}
		return d.quarantineList(ctx)
	case "show":
		if err := needArgs(args, 1, "quarantine show OP"); err != nil {
			return err
		}
		return d.quarantineShow(ctx, args[0])
	case "drop":
		if len(args) < 1 {
			return usagef("usage: fieldsync device quarantine drop OP|RECORD...")
		}
		return d.quarantineDrop(ctx, args)
	case "resend":
		if len(args) < 1 {
			return usagef("usage: fieldsync device quarantine resend OP|RECORD [FIELD=VALUE...]")
		}
		return d.quarantineResend(ctx, args[0], args[1:])
	}
	return usagef("unknown quarantine command %q: list, show, resend or drop", sub)
}

func (d *deviceRun) quarantineList(ctx context.Context) error {
	q, err := d.c.Quarantine(ctx)
	if err != nil {
		return err
	}
	if len(q) == 0 {
		fmt.Fprintln(d.out, "The quarantine is empty.")
		return nil
	}
	fmt.Fprintf(d.out, "%s in the quarantine (undone in this device's records until re-sent):\n", plural(len(q), "rejected op"))
	for _, r := range q {
		fmt.Fprintln(d.out, "  "+rejection(r))
	}
	fmt.Fprintln(d.out, "fieldsync device quarantine show OP shows one; resend writes them again after a fix; drop gives them up.")
	return nil
}

// selectQuarantined returns the quarantined ops named by arg: an op id,
// or a record id (all of its ops).
func (d *deviceRun) selectQuarantined(ctx context.Context, arg string) ([]fieldsync.Rejected, error) {
	q, err := d.c.Quarantine(ctx)
	if err != nil {
		return nil, err
	}
	var out []fieldsync.Rejected
	for _, r := range q {
		if r.Op.ID == arg || r.Op.Record == arg {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no op or record %s in the quarantine (fieldsync device quarantine lists it)", arg)
	}
	return out, nil
}

func (d *deviceRun) quarantineShow(ctx context.Context, arg string) error {
	sel, err := d.selectQuarantined(ctx, arg)
	if err != nil {
		return err
	}
	for _, r := range sel {
		base := "none"
		if len(r.Op.Base) > 0 {
			base = strings.Join(r.Op.Base, ", ")
		}
		fmt.Fprintf(d.out, "op       %s\nrecord   %s (%s)\nwrite    %s %s = %s\nbase     %s\nwritten  %s\nrejected %s: %s (%s)\n",
			r.Op.ID, r.Op.Record, r.Op.Kind, r.Op.Action, r.Op.Field, r.Op.Value, base, r.Op.HLC.Time().UTC().Format(time.RFC3339), r.Code, r.Message, r.At.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(d.out, "To write it again after a fix: fieldsync device quarantine resend %s [FIELD=VALUE...]\nTo give it up: fieldsync device quarantine drop %s\n", arg, arg)
	return nil
}

func (d *deviceRun) quarantineDrop(ctx context.Context, args []string) error {
	var ids []string
	for _, arg := range args {
		sel, err := d.selectQuarantined(ctx, arg)
		if err != nil {
			return err
		}
		for _, r := range sel {
			ids = append(ids, r.Op.ID)
		}
	}
	if err := d.c.Dismiss(ctx, ids...); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "Dropped %s from the quarantine for good.\n", plural(len(ids), "op"))
	return nil
}

func (d *deviceRun) quarantineResend(ctx context.Context, arg string, fixArgs []string) error {
	sel, err := d.selectQuarantined(ctx, arg)
	if err != nil {
		return err
	}
	fix, err := d.fieldValues(fixArgs)
	if err != nil {
		return err
	}
	ids := make([]string, len(sel))
	for i, r := range sel {
		ids[i] = r.Op.ID
	}
	made, err := d.c.Resend(ctx, ids, fix...)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "Wrote %s again, under new op ids; fieldsync device sync sends them.\n", plural(len(made), "op"))
	return nil
}
