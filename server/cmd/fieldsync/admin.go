package main

import (
	"context"
	"fmt"
	"time"

	"github.com/fieldsync/fieldsync/server"
)

const adminUsage = `usage: fieldsync admin reset-password USER [--data DIR] [--encryption-key-file F]

With the server stopped, sets USER's password to FIELDSYNC_NEW_PASSWORD or,
when that is unset, to a generated one printed once; enables the account if
it was disabled, ends its sessions, and writes the change to the audit log.
`

// admin runs the account tools that need access to the machine.
func (c *cli) admin(args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprint(c.out, adminUsage)
		return errHelpShown
	}
	if len(args) == 0 || args[0] != "reset-password" {
		return usagef("admin: the only admin command is reset-password (fieldsync admin -h shows its usage)")
	}
	tf := c.newToolFlags("admin reset-password")
	rest := args[1:]
	var user string
	if len(rest) > 0 && len(rest[0]) > 0 && rest[0][0] != '-' {
		user, rest = rest[0], rest[1:]
	}
	if err := c.parseFlags(tf.fs, rest, adminUsage); err != nil {
		return err
	}
	if user == "" && tf.fs.NArg() == 1 {
		user = tf.fs.Arg(0)
	} else if err := noArgs(tf.fs); err != nil {
		return err
	}
	if user == "" {
		return usagef("admin reset-password: name the user (fieldsync admin -h shows its usage)")
	}
	res, err := server.ResetPassword(context.Background(), *tf.data, *tf.keyFile, user, c.getenv("FIELDSYNC_NEW_PASSWORD"), c.toolLogger(), time.Now)
	if err != nil {
		return err
	}
	if res.Generated != "" {
		fmt.Fprintf(c.out, "New password of %s (shown once): %s\n", user, res.Generated)
	} else {
		fmt.Fprintf(c.out, "Set the password of %s from FIELDSYNC_NEW_PASSWORD.\n", user)
	}
	if res.Enabled {
		fmt.Fprintf(c.out, "The account %s was disabled and is enabled again.\n", user)
	}
	fmt.Fprintln(c.out, "Its sessions have ended; the change is in the audit log.")
	return nil
}
