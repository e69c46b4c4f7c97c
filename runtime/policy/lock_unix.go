//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package policy

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive flock(2) on path (created 0600 if missing)
// and returns the function that releases it. flock locks belong to the
// open file description, so two UpdateGrants in one process exclude each
// other as well as two reef processes do.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
