package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// EnsurePrivateDir creates dir readable by its owner only (0700), or takes
// group and other permissions off an existing one: the data directory holds
// the store (flow configs with their credentials, rejected records), the
// admin token and run state.
func EnsurePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory %s: %w", dir, err)
	}
	return restrict(dir)
}

// EnsurePrivateFile creates path, if missing, as an empty file readable and
// writable by its owner only (0600), or takes group and other permissions off
// an existing one.
func EnsurePrivateFile(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return restrict(path)
}

func restrict(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("check the mode of %s: %w", path, err)
	}
	if mode := st.Mode().Perm(); mode&0o077 != 0 {
		if err := os.Chmod(path, mode&^0o077); err != nil && !errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("make %s private (mode %o): %w", path, mode&^0o077, err)
		} else if err != nil {
			return fmt.Errorf("make %s private (mode %o): %w; change its owner or mode, or use another data directory", path, mode&^0o077, err)
		}
	}
	return nil
}
