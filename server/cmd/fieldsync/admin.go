package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/fieldsync/fieldsync/server"
)

const adminUsage = `usage: fieldsync admin reset-password USER [--data DIR] [--encryption-key-file F]

With the server stopped, sets USER's password to FIELDSYNC_NEW_PASSWORD or,
when that is unset, to a generated one printed once; enables the account if
it was disabled, ends its sessions, and writes the change to the audit log.`

// adminCmd runs the account tools that need access to the machine.
func adminCmd(args []string) error {
	if len(args) == 0 || args[0] != "reset-password" {
		return errors.New(adminUsage)
	}
	tf := newToolFlags("admin reset-password")
	if len(args) < 2 || len(args[1]) == 0 || args[1][0] == '-' {
		return errors.New(adminUsage)
	}
	user := args[1]
	if err := tf.fs.Parse(args[2:]); err != nil {
		return err
	}
	if tf.fs.NArg() > 0 {
		return errors.New(adminUsage)
	}
	res, err := server.ResetPassword(context.Background(), *tf.data, *tf.keyFile, user, os.Getenv("FIELDSYNC_NEW_PASSWORD"), toolLogger(), time.Now)
	if err != nil {
		return err
	}
	if res.Generated != "" {
		fmt.Printf("New password of %s (shown once): %s\n", user, res.Generated)
	} else {
		fmt.Printf("Set the password of %s from FIELDSYNC_NEW_PASSWORD.\n", user)
	}
	if res.Enabled {
		fmt.Printf("The account %s was disabled and is enabled again.\n", user)
	}
	fmt.Println("Its sessions have ended; the change is in the audit log.")
	return nil
}
