package main

import (
	"context"
	"time"

	"github.com/fieldsync/fieldsync/server"
	"github.com/fieldsync/fieldsync/server/retention"
)

const retentionUsage = `usage: fieldsync retention --dry-run [--data DIR] [--retention RULES]
       fieldsync purge [--data DIR] [--retention RULES]

With the server stopped, applies the retention rules (--retention, or
FIELDSYNC_RETENTION; ` + retention.Syntax + `).
"retention --dry-run" lists the records they expire now (id, kind, rule;
never content) and changes nothing. "purge" erases them at once, as the
server's schedule would: each record's ops, state and indexes are deleted
and its data keys destroyed, a tombstone keeps its ops from coming back,
devices are told to drop it at their next pull, and each erasure is
audited. A record under legal hold is never erased.
`

func (c *cli) retention(args []string) error { return c.runRetention("retention", args, false) }

func (c *cli) purge(args []string) error { return c.runRetention("purge", args, true) }

func (c *cli) runRetention(name string, args []string, erase bool) error {
	tf := c.newToolFlags(name)
	rules := tf.fs.String("retention", c.getenv("FIELDSYNC_RETENTION"), "retention rules (FIELDSYNC_RETENTION)")
	var dryRun *bool
	if !erase {
		dryRun = tf.fs.Bool("dry-run", false, "list what would be erased; change nothing (required)")
	}
	if err := c.parseFlags(tf.fs, args, retentionUsage); err != nil {
		return err
	}
	if err := noArgs(tf.fs); err != nil {
		return err
	}
	if !erase && !*dryRun {
		return usagef("retention: only --dry-run is a retention command; \"fieldsync purge\" erases")
	}
	rs, err := retention.Parse(*rules)
	if err != nil {
		return usagef("%s: --retention: %v", name, err)
	}
	return server.Purge(context.Background(), *tf.data, *tf.keyFile, rs, time.Now(), !erase, c.toolLogger(), c.out)
}
