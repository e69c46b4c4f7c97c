package registry

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long a skill's files must be quiet before it is
// reloaded: long enough to coalesce an editor's write-rename-chmod burst
// and a copy of several files, short enough to feel instant.
const DefaultDebounce = 250 * time.Millisecond

// WatchOptions configures Watch.
type WatchOptions struct {
	// Debounce (0: DefaultDebounce).
	Debounce time.Duration
	// GrantsFile, if set, is watched too; OnGrants is called when it
	// changes (the caller reloads and calls SetGrants).
	GrantsFile string
	OnGrants   func()
}

// Watch reloads skills when their files change until ctx is done. It
// watches the skill directory and each skill folder (fsnotify is not
// recursive; new folders are added as they appear).
func (r *Registry) Watch(ctx context.Context, opts WatchOptions) error {
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer w.Close()
	dir := filepath.Clean(r.opts.Dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	addTree := func(p string) {
		_ = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = w.Add(path)
			}
			return nil
		})
	}
	ents, _ := os.ReadDir(dir)
	for _, de := range ents {
		if de.IsDir() {
			addTree(filepath.Join(dir, de.Name()))
		}
	}
	grantsFile, grantsDir := "", ""
	if opts.GrantsFile != "" {
		grantsFile = filepath.Clean(opts.GrantsFile)
		grantsDir = filepath.Dir(grantsFile)
		if grantsDir != dir {
			_ = os.MkdirAll(grantsDir, 0o700)
			if err := w.Add(grantsDir); err != nil {
				return fmt.Errorf("watch %s: %w", grantsDir, err)
			}
		}
	}

	var mu sync.Mutex
	timers := map[string]*time.Timer{}
	schedule := func(key string, fn func()) {
		mu.Lock()
		defer mu.Unlock()
		if t, ok := timers[key]; ok {
			t.Reset(opts.Debounce)
			return
		}
		timers[key] = time.AfterFunc(opts.Debounce, func() {
			mu.Lock()
			delete(timers, key)
			mu.Unlock()
			if ctx.Err() == nil {
				fn()
			}
		})
	}
	defer func() {
		mu.Lock()
		for _, t := range timers {
			t.Stop()
		}
		mu.Unlock()
	}()

	for {
		select {
		case <-ctx.Done():
			return nil
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			r.log.Warn("skill watcher error", "err", err)
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			p := filepath.Clean(ev.Name)
			if grantsFile != "" && p == grantsFile {
				if opts.OnGrants != nil {
					schedule("\x00grants", opts.OnGrants)
				}
				continue
			}
			rel, err := filepath.Rel(dir, p)
			if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
				continue
			}
			first := strings.Split(rel, string(filepath.Separator))[0]
			if strings.HasPrefix(first, ".") {
				continue
			}
			if ev.Has(fsnotify.Create) {
				if fi, err := os.Stat(p); err == nil && fi.IsDir() {
					addTree(p)
				}
			}
			name := strings.TrimSuffix(first, ".wasm")
			schedule(name, func() {
				if err := r.Reload(ctx, name); err != nil {
					r.log.Debug("reload failed", "skill", name, "err", err)
				}
			})
		}
	}
}
