package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/fieldsync/fieldsync/server"
)

// target is the server under load.
type target struct {
	base          string
	adminPassword string
	inProcess     bool
	// dataDir is the in-process server's temporary directory.
	dataDir string
	close   func() error
}

// startTarget starts a server in-process on 127.0.0.1:0 over a temporary
// directory, or points at the running one cfg.addr names.
func startTarget(ctx context.Context, cfg config) (*target, error) {
	if cfg.addr != "" {
		base, err := loopbackURL(cfg.addr)
		if err != nil {
			return nil, err
		}
		return &target{base: base, adminPassword: cfg.adminPassword, close: func() error { return nil }}, nil
	}
	dir, err := os.MkdirTemp("", "fieldsync-load-server-")
	if err != nil {
		return nil, fmt.Errorf("create the server's data directory: %w", err)
	}
	password := randomHex(16)
	env := map[string]string{
		"FIELDSYNC_ADMIN_PASSWORD": password,
		"FIELDSYNC_LOG_LEVEL":      "error",
	}
	m := server.NewMain()
	m.Stdout = io.Discard
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--metrics-addr", "", "--data", dir}, func(k string) string { return env[k] }); err != nil {
		return nil, errors.Join(fmt.Errorf("configure the in-process server: %w", err), os.RemoveAll(dir))
	}
	if err := m.Run(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("start the in-process server: %w", err), m.Close(), os.RemoveAll(dir))
	}
	return &target{
		base: "http://" + m.Addr(), adminPassword: password, inProcess: true, dataDir: dir,
		close: func() error {
			err := m.Close()
			return errors.Join(err, os.RemoveAll(dir))
		},
	}, nil
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
