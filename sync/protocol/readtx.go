package protocol

import (
	"fmt"

	"github.com/fieldsync/fieldsync/sync/access"
)

// readTx is the writer's view while write describes an op. A record's
// scope is computed with a host-team lookup that cannot return an error,
// so readTx keeps the first failed read and check reports it: a store
// failure must reject the op as internal, never pass for "no host team"
// (which would answer forbidden, or compute the wrong scope).
type readTx struct {
	Tx
	err error
}

var _ Tx = (*readTx)(nil)

// HostTeam implements Tx and keeps the first failure.
func (t *readTx) HostTeam(week string) (string, error) {
	team, err := t.Tx.HostTeam(week)
	if err != nil && t.err == nil {
		t.err = fmt.Errorf("read host team: %w", err)
	}
	return team, err
}

// check returns write's result, with the first failed read as its error
// when write itself succeeded.
func (t *readTx) check(w access.Write, err error) (access.Write, error) {
	if err == nil {
		err = t.err
	}
	return w, err
}
