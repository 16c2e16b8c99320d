// Command fieldsync is the fieldsync server and its operator tools.
//
//	fieldsync serve [flags]                  run the sync server (see serve -h)
//	fieldsync audit verify --data DIR        verify the audit chain (server stopped)
//	fieldsync admin reset-password USER      set a lost password (server stopped)
//	fieldsync backup --data DIR --key F --out FILE
//	fieldsync restore --data NEWDIR --key F --in FILE
//	fieldsync backup-keygen FILE             create a backup key
//	fieldsync device <command>               play a tablet: login, new-identification, set, sync...
package main

import (
	"context"
	"fmt"
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
  device         play a tablet from a terminal (fieldsync device for its commands)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "audit":
		err = auditCmd(os.Args[2:])
	case "admin":
		err = adminCmd(os.Args[2:])
	case "backup":
		err = backupCmd(os.Args[2:])
	case "restore":
		err = restoreCmd(os.Args[2:])
	case "backup-keygen":
		err = keygenCmd(os.Args[2:])
	case "device":
		err = deviceCmd(os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "fieldsync: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "fieldsync: %v\n", err)
		os.Exit(1)
	}
}

// serve runs the server until SIGINT or SIGTERM, then shuts down
// gracefully.
func serve(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := server.NewMain()
	if err := m.ParseFlags(args, os.Getenv); err != nil {
		return err
	}
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
