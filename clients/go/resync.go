package fieldsync

import (
	"fmt"
	"strings"
)

// startResync prepares a pull from an empty cursor after the server could
// no longer serve the cursor (410 resync_required): every local record is
// marked, the full pull unmarks each record it delivers, and endResync
// deletes the records still marked, which the device may no longer read.
// The marks are durable, so a resync interrupted by a crash completes.
func (c *Client) startResync() error {
	return c.update(func(t *tx) error {
		for _, k := range t.keys([]byte(prefixRecord)) {
			if err := t.set(resyncKey(strings.TrimPrefix(string(k), prefixRecord)), nil); err != nil {
				return err
			}
		}
		if err := t.set([]byte(keyResync), []byte{1}); err != nil {
			return err
		}
		if err := t.set([]byte(keyCursor), nil); err != nil {
			return err
		}
		t.after = append(t.after, func() { c.cursor, c.resyncing = "", true })
		return nil
	})
}

// endResync deletes the records the full pull did not deliver, keeping
// those with ops still in the outbox (written during the pull).
func (c *Client) endResync(t *tx) error {
	dropped := 0
	for _, k := range t.keys([]byte(prefixResync)) {
		id := strings.TrimPrefix(string(k), prefixResync)
		queued, err := outboxOf(t, id)
		if err != nil {
			return err
		}
		if err := t.del(k); err != nil {
			return err
		}
		if len(queued) > 0 {
			continue
		}
		if err := t.deleteRecord(id); err != nil {
			return fmt.Errorf("drop record %s after resync: %w", id, err)
		}
		dropped++
	}
	c.log.Info("resync complete", "dropped", dropped)
	t.after = append(t.after, func() { c.resyncing = false })
	return t.del([]byte(keyResync))
}
