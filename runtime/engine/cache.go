package engine

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// pruneCache deletes the oldest compiled modules under dir until the total
// is at most limit bytes (CACHE_SIZE). wazero keys its files by module
// content and its own version, so a deleted entry is simply compiled again
// on next use. Entries modified in the last minute are kept: another reef
// process may be writing them.
func pruneCache(dir string, limit int64) (removed int, err error) {
	if limit <= 0 {
		return 0, nil
	}
	type entry struct {
		path string
		size int64
		mod  time.Time
	}
	var entries []entry
	var total int64
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() {
			return nil
		}
		entries = append(entries, entry{p, info.Size(), info.ModTime()})
		total += info.Size()
		return nil
	})
	if err != nil || total <= limit {
		return 0, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].mod.Before(entries[j].mod) })
	recent := time.Now().Add(-time.Minute)
	for _, e := range entries {
		if total <= limit {
			break
		}
		if e.mod.After(recent) {
			continue
		}
		if os.Remove(e.path) == nil {
			total -= e.size
			removed++
		}
	}
	return removed, nil
}
