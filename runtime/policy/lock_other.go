//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package policy

import (
	"os"
	"sync"
)

// lockMu serialises UpdateGrants within this process where flock(2) is not
// available; separate processes are not excluded on these platforms.
var lockMu sync.Mutex

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	lockMu.Lock()
	return func() {
		lockMu.Unlock()
		_ = f.Close()
	}, nil
}
