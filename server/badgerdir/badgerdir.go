package badgerdir

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// Open opens (or creates) the badger database opt describes, as
// badger.Open does, after removing the empty files a killed badger process
// leaves (see the package doc). Each removed file is logged to log (nil:
// not logged).
func Open(opt badger.Options, log *slog.Logger) (*badger.DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !opt.InMemory && !opt.ReadOnly {
		if err := repair(opt, log); err != nil {
			return nil, err
		}
	}
	return badger.Open(opt)
}

// repair removes the 0-byte memtables of opt.Dir and the 0-byte value logs
// of opt.ValueDir, each under badger's lock on its directory.
func repair(opt badger.Options, log *slog.Logger) error {
	valueDir := opt.ValueDir
	if valueDir == "" {
		valueDir = opt.Dir
	}
	same, err := sameDir(opt.Dir, valueDir)
	if err != nil {
		return err
	}
	if same {
		return repairDir(opt.Dir, log, ".mem", ".vlog")
	}
	if err := repairDir(opt.Dir, log, ".mem"); err != nil {
		return err
	}
	return repairDir(valueDir, log, ".vlog")
}

func sameDir(a, b string) (bool, error) {
	absA, err := filepath.Abs(a)
	if err != nil {
		return false, fmt.Errorf("repair badger directory %s: %w", a, err)
	}
	absB, err := filepath.Abs(b)
	if err != nil {
		return false, fmt.Errorf("repair badger directory %s: %w", b, err)
	}
	return absA == absB, nil
}

// repairDir removes the 0-byte files of dir named <number><ext> for one of
// exts, while holding badger's lock on dir. A missing directory (a store
// not created yet) or one another process holds is left alone.
func repairDir(dir string, log *slog.Logger, exts ...string) error {
	unlock, err := lockDir(dir)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errLocked) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("repair badger directory %s: %w", dir, err)
	}
	defer unlock()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("repair badger directory %s: %w", dir, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !badgerLog(e.Name(), exts) {
			continue
		}
		if err := removeIfEmpty(dir, e, log); err != nil {
			return fmt.Errorf("repair badger directory %s: %w", dir, err)
		}
	}
	return nil
}

// badgerLog reports whether name is <number><ext>, the name of a badger
// memtable or value log, for one of exts.
func badgerLog(name string, exts []string) bool {
	for _, ext := range exts {
		stem, ok := strings.CutSuffix(name, ext)
		if !ok || stem == "" {
			continue
		}
		if _, err := strconv.ParseUint(stem, 10, 32); err == nil {
			return true
		}
	}
	return false
}

// removeIfEmpty removes the file of entry e when it has 0 bytes.
func removeIfEmpty(dir string, e fs.DirEntry, log *slog.Logger) error {
	info, err := e.Info()
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if info.Size() != 0 {
		return nil
	}
	if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
		return err
	}
	log.Warn("removed an empty badger file a killed process left behind (it held no data)", "dir", dir, "file", e.Name())
	return nil
}
