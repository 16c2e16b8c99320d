package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	fieldsync "github.com/fieldsync/fieldsync/clients/go"
)

const deviceUsage = `usage: fieldsync device <command> [--dir DIR] [--server URL] [args]

Plays a tablet from a terminal: a local replica in --dir (FIELDSYNC_DEVICE_DIR,
default ./device) that works offline and syncs with --server (FIELDSYNC_SERVER,
default http://127.0.0.1:8080). Against a server with a self-signed certificate
(serve --tls-self-signed), pass the fingerprint it prints as --server-cert
(FIELDSYNC_SERVER_CERT_SHA256).

commands:
  login USERNAME                 log in (password from FIELDSYNC_PASSWORD or a prompt)
  new-identification TEAM_ID [FIELD=VALUE...]   create an identification offline
  set RECORD FIELD VALUE         set a register (VALUE is JSON if it parses, else a string)
  add RECORD FIELD ELEMENT       add to a set
  remove RECORD FIELD ELEMENT    remove from a set
  note RECORD TEXT               append a note
  show RECORD                    the merged record (with conflicts)
  list [KIND]                    records held locally
  conflicts                      records with concurrent values
  sync                           push the outbox, then pull to the end
  status                         outbox, quarantine, last sync
`

func deviceCmd(args []string) error {
	if len(args) == 0 {
		return errors.New(deviceUsage)
	}
	cmd := args[0]
	fs := flag.NewFlagSet("device "+cmd, flag.ContinueOnError)
	dir := fs.String("dir", envOr("FIELDSYNC_DEVICE_DIR", "./device"), "the device's local replica")
	server := fs.String("server", envOr("FIELDSYNC_SERVER", "http://127.0.0.1:8080"), "the fieldsync server")
	pin := fs.String("server-cert", envOr("FIELDSYNC_SERVER_CERT_SHA256", ""), "SHA-256 fingerprint of the server's self-signed certificate, to trust it alone")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	run, ok := deviceCommands[cmd]
	if !ok {
		return fmt.Errorf("unknown device command %q\n\n%s", cmd, deviceUsage)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := fieldsync.Open(*dir, fieldsync.Options{ServerURL: *server, ServerCertSHA256: *pin, DeviceName: "fieldsync device CLI", Logger: log})
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	return run(ctx, c, fs.Args())
}

type deviceCommand func(ctx context.Context, c *fieldsync.Client, args []string) error

var deviceCommands = map[string]deviceCommand{
	"login":              deviceLogin,
	"new-identification": deviceNew,
	"set":                deviceSet,
	"add": func(ctx context.Context, c *fieldsync.Client, a []string) error {
		return deviceElement(ctx, c, a, c.Add)
	},
	"remove": func(ctx context.Context, c *fieldsync.Client, a []string) error {
		return deviceElement(ctx, c, a, c.Remove)
	},
	"note":      deviceNote,
	"show":      deviceShow,
	"list":      deviceList,
	"conflicts": deviceConflicts,
	"sync":      deviceSync,
	"status":    deviceStatus,
}

func needArgs(args []string, n int, usage string) error {
	if len(args) != n {
		return fmt.Errorf("usage: fieldsync device %s", usage)
	}
	return nil
}

func deviceLogin(ctx context.Context, c *fieldsync.Client, args []string) error {
	if err := needArgs(args, 1, "login USERNAME"); err != nil {
		return err
	}
	password := os.Getenv("FIELDSYNC_PASSWORD")
	if password == "" {
		fmt.Fprint(os.Stderr, "password: ")
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil {
			return fmt.Errorf("read password: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	u, err := c.Login(ctx, args[0], password)
	if err != nil {
		return err
	}
	fmt.Printf("Logged in as %s (%s) on device %s; teams %v\n", u.Username, u.Role, c.DeviceID(), u.Teams)
	return nil
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

func deviceNew(ctx context.Context, c *fieldsync.Client, args []string) error {
	if len(args) < 1 {
		return errors.New("usage: fieldsync device new-identification TEAM_ID [FIELD=VALUE...]")
	}
	var fields []fieldsync.FieldValue
	for _, kv := range args[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("%q is not FIELD=VALUE", kv)
		}
		fields = append(fields, fieldsync.F(k, parseValue(v)))
	}
	id, err := c.CreateIdentification(ctx, args[0], fields...)
	if err != nil {
		return err
	}
	fmt.Println(id)
	return nil
}

func deviceSet(ctx context.Context, c *fieldsync.Client, args []string) error {
	if err := needArgs(args, 3, "set RECORD FIELD VALUE"); err != nil {
		return err
	}
	_, err := c.Set(ctx, args[0], args[1], parseValue(args[2]))
	return err
}

func deviceElement(ctx context.Context, c *fieldsync.Client, args []string, do func(context.Context, string, string, string) (string, error)) error {
	if err := needArgs(args, 3, "add|remove RECORD FIELD ELEMENT"); err != nil {
		return err
	}
	_, err := do(ctx, args[0], args[1], args[2])
	return err
}

func deviceNote(ctx context.Context, c *fieldsync.Client, args []string) error {
	if err := needArgs(args, 2, "note RECORD TEXT"); err != nil {
		return err
	}
	_, err := c.Append(ctx, args[0], "notes", map[string]string{"text": args[1]})
	return err
}

func deviceShow(ctx context.Context, c *fieldsync.Client, args []string) error {
	if err := needArgs(args, 1, "show RECORD"); err != nil {
		return err
	}
	r, err := c.Record(ctx, args[0])
	if err != nil {
		return err
	}
	var pretty any
	if err := json.Unmarshal(r.Canonical(), &pretty); err != nil {
		return err
	}
	out, _ := json.MarshalIndent(pretty, "", "  ")
	fmt.Println(string(out))
	return nil
}

func deviceList(ctx context.Context, c *fieldsync.Client, args []string) error {
	q := fieldsync.Query{}
	if len(args) > 0 {
		q.Kind = args[0]
	}
	return printRecords(c.List(ctx, q))
}

func deviceConflicts(ctx context.Context, c *fieldsync.Client, _ []string) error {
	return printRecords(c.Conflicts(ctx))
}

func printRecords(recs []*fieldsync.Record, err error) error {
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
		fmt.Println(line)
	}
	fmt.Printf("%d records\n", len(recs))
	return nil
}

func deviceSync(ctx context.Context, c *fieldsync.Client, _ []string) error {
	if err := c.Sync(ctx); err != nil {
		return err
	}
	return deviceStatus(ctx, c, nil)
}

func deviceStatus(ctx context.Context, c *fieldsync.Client, _ []string) error {
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	last := "never"
	if !st.LastSync.IsZero() {
		last = st.LastSync.Format(time.RFC3339)
	}
	fmt.Printf("device %s, user %s (logged in: %v)\nrecords %d, outbox %d, quarantine %d, last sync %s\n",
		st.DeviceID, st.User.Username, st.LoggedIn, st.Records, st.Outbox, st.Quarantine, last)
	if st.Quarantine > 0 {
		q, err := c.Quarantine(ctx)
		if err != nil {
			return err
		}
		for _, r := range q {
			fmt.Printf("  rejected: %+v\n", r)
		}
	}
	return nil
}
