package skill

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// DigestCache remembers module digests by file identity, so a daemon start
// does not re-hash tens of megabytes of unchanged modules. It is only a
// shortcut for the start-up scan: the engine still re-reads a module and
// checks it against the digest before compiling it.
//
// An entry matches only if path, size, mtime and ctime (both in
// nanoseconds), inode and device all equal the open file's; anything else
// re-hashes. ctime cannot be set from user space and changes on every
// write, chmod or rename over the file. A file changed within the same
// timestamp tick as it was hashed could keep all of these, so entries are
// only stored for files whose mtime and ctime are at least RacyWindow
// older than the moment hashing started (git's "racily clean" rule), and
// only if the file's identity did not change while it was read. On
// platforms without inode and ctime in os.FileInfo nothing is cached.
type DigestCache struct {
	path string

	mu      sync.Mutex
	entries map[string]digestEntry
	dirty   bool
}

// RacyWindow is how old a file's timestamps must be for its digest to be
// cached.
const RacyWindow = 2 * time.Second

// fileIdentity is what must match for a cached digest to be used.
type fileIdentity struct {
	Size    int64  `json:"size"`
	MtimeNs int64  `json:"mtime_ns"`
	CtimeNs int64  `json:"ctime_ns"`
	Ino     uint64 `json:"ino"`
	Dev     uint64 `json:"dev"`
}

type digestEntry struct {
	fileIdentity
	Digest string `json:"digest"`
}

type digestFile struct {
	Version int                    `json:"version"`
	Entries map[string]digestEntry `json:"entries"`
}

const digestFileVersion = 1

// OpenDigestCache reads the cache file at path (missing or unreadable:
// an empty cache; it is only ever a shortcut).
func OpenDigestCache(path string) *DigestCache {
	c := &DigestCache{path: path, entries: map[string]digestEntry{}}
	b, err := os.ReadFile(path)
	if err != nil {
		return c
	}
	var f digestFile
	if json.Unmarshal(b, &f) == nil && f.Version == digestFileVersion && f.Entries != nil {
		c.entries = f.Entries
	}
	return c
}

// lookup returns the cached digest of the module at abs if id matches.
func (c *DigestCache) lookup(abs string, id fileIdentity) (string, bool) {
	if c == nil {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[abs]
	if !ok || e.fileIdentity != id || e.Digest == "" {
		return "", false
	}
	return e.Digest, true
}

// store remembers digest for abs if the file was stable: the same identity
// before and after hashing, and timestamps older than RacyWindow before
// hashing started.
func (c *DigestCache) store(abs string, before, after fileIdentity, started time.Time, digest string) {
	if c == nil || before != after {
		return
	}
	limit := started.Add(-RacyWindow).UnixNano()
	if before.MtimeNs > limit || before.CtimeNs > limit {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[abs]; ok && e.fileIdentity == before && e.Digest == digest {
		return
	}
	c.entries[abs] = digestEntry{fileIdentity: before, Digest: digest}
	c.dirty = true
}

// Retain drops every entry whose module path is not in keep (modules
// removed from the skill directory), so the file stays bounded by the
// skills present.
func (c *DigestCache) Retain(keep func(modulePath string) bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for p := range c.entries {
		if !keep(p) {
			delete(c.entries, p)
			c.dirty = true
		}
	}
}

// Save writes the cache if it changed: temp file, fsync, rename.
func (c *DigestCache) Save() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	if !c.dirty {
		c.mu.Unlock()
		return nil
	}
	b, err := json.Marshal(digestFile{Version: digestFileVersion, Entries: c.entries})
	c.dirty = false
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("digest cache: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return fmt.Errorf("digest cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".digests-*")
	if err != nil {
		return fmt.Errorf("digest cache: %w", err)
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), c.path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("digest cache: %w", err)
	}
	return nil
}
