// Command fieldsync is the fieldsync server and its operator tools.
//
//	fieldsync serve [flags]                  run the sync server (see serve -h)
//	fieldsync audit verify --data DIR        verify the audit chain (server stopped)
//	fieldsync admin reset-password USER      set a lost password (server stopped)
//	fieldsync backup --data DIR --key F --out FILE
//	fieldsync restore --data NEWDIR --key F --in FILE
//	fieldsync backup-keygen FILE             create a backup key
//	fieldsync device <command>               play a tablet: login, teams, new-identification, sync...
//
// Every command and subcommand answers -h and --help with its usage on
// standard output, exit status 0, and does nothing else. An error is one
// line on standard error naming what to fix: exit status 2 for a command
// line that cannot be understood, 1 for anything else (a sync with
// rejected ops included).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/fieldsync/fieldsync/server"
)

const usage = `usage: fieldsync <command> [flags]

commands:
  serve          run the sync server (fieldsync serve -h for its flags)
  audit verify   verify the audit log's hash chain (with the server stopped)
  admin reset-password USER
                 set a user's password, e.g. a lost admin's (with the server stopped)
  backup         write an encrypted backup (with the server stopped)
  restore        restore an encrypted backup into a new data directory
  backup-keygen  create a backup key file (keep it apart from the data)
  retention --dry-run
                 list the records the retention rules expire (with the server stopped)
  purge          erase the records the retention rules expire (with the server stopped)
  device         play a tablet from a terminal (fieldsync device -h for its commands)

Every command answers -h with its usage.
`

// cli is one run of the command: its streams and environment (tests
// give their own).
type cli struct {
	out, errOut io.Writer
	in          io.Reader
	getenv      func(string) string
}

func main() {
	c := &cli{out: os.Stdout, errOut: os.Stderr, in: os.Stdin, getenv: os.Getenv}
	os.Exit(c.run(os.Args[1:]))
}

// errHelpShown is returned by a command that printed its usage for -h.
var errHelpShown = errors.New("help shown")

// usageError is a command line that cannot be understood (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// commands are fieldsync's commands by name.
var commands = map[string]func(c *cli, args []string) error{
	"serve":         (*cli).serve,
	"audit":         (*cli).audit,
	"admin":         (*cli).admin,
	"backup":        (*cli).backup,
	"restore":       (*cli).restore,
	"backup-keygen": (*cli).keygen,
	"device":        (*cli).device,
	"retention":     (*cli).retention,
	"purge":         (*cli).purge,
}

// run runs the command in args and returns the exit status.
func (c *cli) run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.errOut, usage)
		return 2
	}
	if isHelp(args[0]) || args[0] == "help" {
		fmt.Fprint(c.out, usage)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(c.errOut, "fieldsync: unknown command %q (fieldsync -h lists the commands)\n", args[0])
		return 2
	}
	err := cmd(c, args[1:])
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errHelpShown):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(c.errOut, "fieldsync: %v\n", err)
		return 2
	default:
		fmt.Fprintf(c.errOut, "fieldsync: %v\n", err)
		return 1
	}
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// parseFlags parses args with fs, printing help (for -h) on c.out as
// usage, the flags' defaults, and returning errHelpShown. Any other flag
// error is one line naming the flag.
func (c *cli) parseFlags(fs *flag.FlagSet, args []string, help string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(c.out, help)
		if hasFlags(fs) {
			fmt.Fprint(c.out, "\nflags:\n")
			fs.SetOutput(c.out)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
		return errHelpShown
	case err != nil:
		return usagef("%s: %v (fieldsync %s -h shows its usage)", fs.Name(), err, fs.Name())
	}
	return nil
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// serve runs the server until SIGINT or SIGTERM, then shuts down
// gracefully.
func (c *cli) serve(args []string) error {
	m := server.NewMain()
	m.Stdout = c.out
	err := m.ParseFlags(args, c.getenv)
	var help *server.HelpRequested
	switch {
	case errors.As(err, &help):
		fmt.Fprint(c.out, help.Text)
		return errHelpShown
	case err != nil:
		return usagef("serve: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		return err
	}
	select {
	case <-ctx.Done():
		m.Log.Info("shutting down")
	case err := <-waitErr(m):
		_ = m.Close()
		return err
	}
	return m.Close()
}

func waitErr(m *server.Main) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- m.Wait() }()
	return ch
}
