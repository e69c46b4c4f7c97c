package hostfs

import (
	"context"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

// rescanEvery bounds how often a write that would exceed a quota re-walks
// the mounts to correct a stale count.
const rescanEvery = time.Second

// usage is the measured use of one skill's read-write mounts. It starts
// unmeasured; the first reservation walks the mounts.
type usage struct {
	skill string
	hosts []string
	opts  *Options

	mu        sync.Mutex
	measured  bool
	scannedAt time.Time
	bytes     int64
	files     int64
}

// usageFor returns the usage tracker of p's read-write mounts, or nil when
// no quota is configured or the skill has no read-write mount.
func (m *Module) usageFor(p *policy.Policy) *usage {
	if m.opts.QuotaBytes <= 0 && m.opts.QuotaFiles <= 0 {
		return nil
	}
	var hosts []string
	for _, mt := range p.Mounts {
		if mt.Mode == skill.ReadWrite {
			hosts = append(hosts, mt.Host)
		}
	}
	if len(hosts) == 0 {
		return nil
	}
	slices.Sort(hosts)
	hosts = slices.Compact(hosts)
	key := p.Skill + "\x00" + strings.Join(hosts, "\x00")
	m.usageMu.Lock()
	defer m.usageMu.Unlock()
	u, ok := m.usage[key]
	if !ok {
		u = &usage{skill: p.Skill, hosts: hosts, opts: &m.opts}
		m.usage[key] = u
	}
	return u
}

// reserve accounts for a change of dBytes bytes and dFiles files (either
// may be negative) if it fits the quotas, and returns a *QuotaError if it
// does not. Only growth is checked: shrinking always succeeds. A nil usage
// accepts everything.
func (u *usage) reserve(dBytes, dFiles int64) error {
	if u == nil {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.measured {
		if err := u.scanLocked(); err != nil {
			return err
		}
	}
	err := u.fitsLocked(dBytes, dFiles)
	if err != nil && time.Since(u.scannedAt) >= rescanEvery {
		// The count may be stale (files removed on the host): measure
		// again before refusing.
		if serr := u.scanLocked(); serr != nil {
			return serr
		}
		err = u.fitsLocked(dBytes, dFiles)
	}
	if err != nil {
		return err
	}
	u.bytes = max(0, u.bytes+dBytes)
	u.files = max(0, u.files+dFiles)
	return nil
}

// release undoes a reservation (or records a shrink).
func (u *usage) release(dBytes, dFiles int64) {
	if u == nil {
		return
	}
	u.mu.Lock()
	u.bytes = max(0, u.bytes-dBytes)
	u.files = max(0, u.files-dFiles)
	u.mu.Unlock()
}

func (u *usage) fitsLocked(dBytes, dFiles int64) error {
	if q := u.opts.QuotaBytes; q > 0 && dBytes > 0 && u.bytes+dBytes > q {
		return &QuotaError{Skill: u.skill, Kind: "bytes", Limit: q, Want: u.bytes + dBytes}
	}
	if q := int64(u.opts.QuotaFiles); q > 0 && dFiles > 0 && u.files+dFiles > q {
		return &QuotaError{Skill: u.skill, Kind: "files", Limit: q, Want: u.files + dFiles}
	}
	return nil
}

// scanLocked walks every read-write mount: bytes is the sum of regular
// file sizes, files the number of entries of any kind below the mount
// roots (directories and links included).
func (u *usage) scanLocked() error {
	var bytes, files int64
	for _, h := range u.hosts {
		b, f, err := measure(h)
		if err != nil {
			return err
		}
		bytes += b
		files += f
	}
	u.bytes, u.files, u.measured, u.scannedAt = bytes, files, true, time.Now()
	return nil
}

// measure walks one host directory through os.Root (symbolic links are
// counted, never followed).
func measure(host string) (bytes, files int64, err error) {
	r, err := os.OpenRoot(host)
	if err != nil {
		return 0, 0, &mountError{guest: "(quota)", err: err}
	}
	defer r.Close()
	return measureIn(r, ".")
}

// measureIn walks rel inside r (rel itself not counted).
func measureIn(r *os.Root, rel string) (bytes, files int64, err error) {
	err = walk(context.Background(), r, rel, func(_ string, fi fs.FileInfo) error {
		files++
		if fi.Mode().IsRegular() {
			bytes += fi.Size()
		}
		return nil
	})
	return bytes, files, err
}

// invalidate forgets the measurement (after a change whose effect is not
// known exactly); the next reservation walks again.
func (u *usage) invalidate() {
	if u == nil {
		return
	}
	u.mu.Lock()
	u.measured = false
	u.mu.Unlock()
}
