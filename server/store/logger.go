package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// badgerLogger forwards badger's warnings and errors to slog and drops its
// info and debug chatter.
type badgerLogger struct{ log *slog.Logger }

// Errorf implements badger.Logger.
func (l badgerLogger) Errorf(format string, args ...any) {
	l.emit(slog.LevelError, format, args)
}

// Warningf implements badger.Logger.
func (l badgerLogger) Warningf(format string, args ...any) {
	l.emit(slog.LevelWarn, format, args)
}

// Infof implements badger.Logger (dropped).
func (badgerLogger) Infof(string, ...any) {}

// Debugf implements badger.Logger (dropped).
func (badgerLogger) Debugf(string, ...any) {}

func (l badgerLogger) emit(level slog.Level, format string, args []any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, strings.TrimSpace(fmt.Sprintf(format, args...)))
}
