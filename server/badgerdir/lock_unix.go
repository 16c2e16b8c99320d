//go:build !windows && !plan9 && !js && !wasip1 && !aix

package badgerdir

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// errLocked is lockDir's error when another process holds the lock.
var errLocked = errors.New("the directory is locked by another process")

// lockDir takes the lock badger takes on dir (an exclusive flock on the
// directory itself) and returns its release.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, err
	}
	return func() { _ = f.Close() }, nil // closing the descriptor releases the flock
}
