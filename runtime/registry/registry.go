package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

// SkillLoadError says why a skill in the directory could not be loaded.
type SkillLoadError struct {
	Skill string
	Path  string
	Time  time.Time
	Err   error
}

func (e *SkillLoadError) Error() string {
	return fmt.Sprintf("skill %q (%s): %v", e.Skill, e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *SkillLoadError) Unwrap() error { return e.Err }

// Options configures a Registry. Zero values are documented per field.
type Options struct {
	// Dir is the skill directory.
	Dir string
	// Engine compiles and runs skills; nil makes a list-only registry
	// (reef list never starts wazero).
	Engine *engine.Engine
	// Grants is the initial grants (nil: nothing granted).
	Grants *policy.Grants
	// Recorder receives policy decisions (audit, metrics).
	Recorder policy.Recorder
	// Config returns the Extism config for a skill (nil: none).
	Config func(skill string) map[string]string
	// OnLoadError is called for every failed load (metrics).
	OnLoadError func(skill string, err error)
	// OnSwap is called after a skill version is swapped in or removed.
	OnSwap func(skill string, removed bool)
	// Logger (nil: discard).
	Logger *slog.Logger
	// Lazy makes Scan defer each skill's compilation to its first call, so
	// a daemon with many skills is ready at once and holds compiled code
	// only for skills in use; a broken module then fails its first call
	// (with the load error) instead of the scan. Reload — hot reload of a
	// changed skill — always validates eagerly, so a broken upload never
	// replaces a working version.
	Lazy bool
	// Digests remembers module digests across starts, so a lazy scan does
	// not re-hash unchanged modules (see skill.DigestCache); it is saved
	// after each Scan. nil: every module is hashed.
	Digests *skill.DigestCache
}

// Registry is safe for concurrent use.
type Registry struct {
	opts Options
	log  *slog.Logger

	mu      sync.RWMutex
	grants  *policy.Grants
	entries map[string]*Entry
	errs    map[string]*SkillLoadError
}

// Entry is one loaded skill version.
type Entry struct {
	Skill  *skill.Skill
	Policy *policy.Policy
	// Plugin is nil in a list-only registry.
	Plugin *engine.Plugin
	Loaded time.Time

	mu sync.Mutex // guards Policy
	// state counts leases in its low bits; retiredBit marks a version
	// swapped out or removed. Whoever moves it to exactly retiredBit (no
	// lease left, retired) closes the plugin: the last Release, or retire
	// itself when no lease was out. Atomic, so a call's lease costs no
	// lock on the entry every call shares.
	state atomic.Int64
}

const retiredBit = int64(1) << 62

// New returns an empty registry; call Scan to load the directory.
func New(opts Options) *Registry {
	r := &Registry{opts: opts, log: opts.Logger, grants: opts.Grants, entries: map[string]*Entry{}, errs: map[string]*SkillLoadError{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.grants == nil {
		r.grants = &policy.Grants{}
	}
	return r
}

// Scan loads every skill in the directory: folders holding SKILL.md and
// top-level .wasm files. It returns every SkillLoadError joined; the skills
// that loaded are served regardless.
func (r *Registry) Scan(ctx context.Context) error {
	paths, err := r.candidates()
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for name := range paths {
		seen[name] = true
	}
	errs := r.loadAll(ctx, paths)
	r.mu.Lock()
	var gone []*Entry
	for name, e := range r.entries {
		if !seen[name] {
			gone = append(gone, e)
			delete(r.entries, name)
		}
	}
	for name := range r.errs {
		if !seen[name] {
			delete(r.errs, name)
		}
	}
	r.mu.Unlock()
	for _, e := range gone {
		e.retire()
	}
	if d := r.opts.Digests; d != nil {
		r.mu.RLock()
		keep := make(map[string]bool, len(r.entries))
		for _, e := range r.entries {
			keep[e.Skill.WasmPath] = true
		}
		r.mu.RUnlock()
		d.Retain(func(p string) bool { return keep[p] })
		if err := d.Save(); err != nil {
			r.log.Warn("module digest cache not saved; the next start hashes every module", "err", err)
		}
	}
	return errors.Join(errs...)
}

// loadAll loads every candidate, on up to GOMAXPROCS goroutines: reading,
// hashing and parsing skills are independent, and start-up waits for all
// of them. The errors come back sorted by skill name.
func (r *Registry) loadAll(ctx context.Context, paths map[string]string) []error {
	names := make([]string, 0, len(paths))
	for name := range paths {
		names = append(names, name)
	}
	sort.Strings(names)
	errs := make([]error, len(names))
	workers := min(runtime.GOMAXPROCS(0), len(names))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(names) {
					return
				}
				errs[i] = r.load(ctx, names[i], paths[names[i]], r.opts.Lazy)
			}
		}()
	}
	wg.Wait()
	out := errs[:0]
	for _, err := range errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// candidates maps skill names to paths in the directory.
func (r *Registry) candidates() (map[string]string, error) {
	ents, err := os.ReadDir(r.opts.Dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return map[string]string{}, nil
		}
		return nil, fmt.Errorf("skill directory: %w", err)
	}
	out := map[string]string{}
	for _, de := range ents {
		name := de.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		p := filepath.Join(r.opts.Dir, name)
		switch {
		case de.IsDir():
			if _, err := os.Stat(filepath.Join(p, "SKILL.md")); err == nil {
				out[name] = p
			}
		case strings.HasSuffix(name, ".wasm"):
			n := strings.TrimSuffix(name, ".wasm")
			if _, dup := out[n]; !dup {
				out[n] = p
			}
		}
	}
	return out, nil
}

// Reload reloads one skill by name from the directory (or removes it if it
// is gone). A broken new version keeps the old one serving.
func (r *Registry) Reload(ctx context.Context, name string) error {
	paths, err := r.candidates()
	if err != nil {
		return err
	}
	path, ok := paths[name]
	if !ok {
		r.remove(name)
		return nil
	}
	return r.load(ctx, name, path, false)
}

func (r *Registry) remove(name string) {
	r.mu.Lock()
	e := r.entries[name]
	delete(r.entries, name)
	delete(r.errs, name)
	r.mu.Unlock()
	if e != nil {
		e.retire()
		r.log.Info("skill removed", "skill", name)
		if r.opts.OnSwap != nil {
			r.opts.OnSwap(name, true)
		}
	}
}

func (r *Registry) fail(name, path string, err error) error {
	le := &SkillLoadError{Skill: name, Path: path, Time: time.Now(), Err: err}
	r.mu.Lock()
	r.errs[name] = le
	_, serving := r.entries[name]
	r.mu.Unlock()
	r.log.Error("SkillLoadError", "skill", name, "path", path, "err", err, "old_version_serving", serving)
	if r.opts.OnLoadError != nil {
		r.opts.OnLoadError(name, err)
	}
	return le
}

func (r *Registry) load(ctx context.Context, name, path string, lazy bool) error {
	// A lazy load keeps no module bytes: they are hashed as they stream,
	// and the engine re-reads and checks them against the digest when it
	// compiles.
	noWasm := lazy && r.opts.Engine != nil
	s, err := skill.LoadWith(path, skill.LoadOptions{NoWasm: noWasm, Digests: r.opts.Digests})
	if err != nil {
		return r.fail(name, path, err)
	}
	r.mu.RLock()
	old := r.entries[name]
	g := r.grants.Skills[s.Name]
	r.mu.RUnlock()
	if old != nil && old.Skill.Digest == s.Digest && sameManifest(old.Skill, s) {
		r.mu.Lock()
		delete(r.errs, name)
		r.mu.Unlock()
		return nil // unchanged (e.g. touched)
	}
	pol, err := policy.Compute(s, g, r.opts.Recorder)
	if err != nil {
		return r.fail(name, path, err)
	}
	e := &Entry{Skill: s, Policy: pol, Loaded: time.Now()}
	if r.opts.Engine != nil {
		var cfg map[string]string
		if r.opts.Config != nil {
			cfg = r.opts.Config(s.Name)
		}
		if lazy && s.WasmPath != "" {
			// The engine re-reads (and checks) the file when it compiles;
			// holding every module's bytes would dominate idle memory.
			light := *s
			light.Wasm = nil
			s = &light
			e.Skill = s
		}
		pl, err := r.opts.Engine.Load(ctx, s, pol, engine.LoadOptions{Config: cfg, Lazy: lazy})
		if err != nil {
			return r.fail(name, path, err)
		}
		e.Plugin = pl
	}
	r.mu.Lock()
	old = r.entries[name]
	r.entries[name] = e
	delete(r.errs, name)
	r.mu.Unlock()
	if old != nil {
		old.retire()
		r.log.Info("skill swapped", "skill", name, "version", s.Version(), "digest", s.Digest)
	} else {
		r.log.Debug("skill loaded", "skill", name, "version", s.Version())
	}
	if r.opts.OnSwap != nil {
		r.opts.OnSwap(name, false)
	}
	return nil
}

func sameManifest(a, b *skill.Skill) bool {
	return reflect.DeepEqual(a.Manifest, b.Manifest) && reflect.DeepEqual(a.Meta, b.Meta) && a.Docs == b.Docs
}

// SetGrants installs new grants and recomputes every skill's policy;
// in-flight calls finish under the old policy.
func (r *Registry) SetGrants(g *policy.Grants) []error {
	if g == nil {
		g = &policy.Grants{}
	}
	r.mu.Lock()
	r.grants = g
	entries := make([]*Entry, 0, len(r.entries))
	for _, e := range r.entries {
		entries = append(entries, e)
	}
	r.mu.Unlock()
	var errs []error
	for _, e := range entries {
		pol, err := policy.Compute(e.Skill, g.Skills[e.Skill.Name], r.opts.Recorder)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		e.mu.Lock()
		e.Policy = pol
		e.mu.Unlock()
		if e.Plugin != nil {
			e.Plugin.SetPolicy(pol)
		}
	}
	return errs
}

// Grants returns the current grants.
func (r *Registry) Grants() *policy.Grants {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.grants
}

// ErrNotFound is returned by Acquire for an unknown skill.
var ErrNotFound = errors.New("no such skill")

// Lease pins one skill version for the duration of a call.
type Lease struct {
	*Entry
	once sync.Once
}

// Acquire returns a lease on the current version of name. Release it when
// the call ends.
func (r *Registry) Acquire(name string) (*Lease, error) {
	// The reference is taken under the registry lock, so a concurrent swap
	// (which retires the old entry under the write lock) either sees this
	// lease or happens before it.
	r.mu.RLock()
	e := r.entries[name]
	le := r.errs[name]
	if e != nil {
		e.state.Add(1)
	}
	r.mu.RUnlock()
	if e == nil {
		if le != nil {
			return nil, le
		}
		return nil, fmt.Errorf("skill %q: %w", name, ErrNotFound)
	}
	return &Lease{Entry: e}, nil
}

// Release ends the lease; the last release of a retired version closes it.
func (l *Lease) Release() {
	l.once.Do(func() {
		e := l.Entry
		if e.state.Add(-1) == retiredBit && e.Plugin != nil {
			e.Plugin.Close(context.Background())
		}
	})
}

func (e *Entry) retire() {
	if e.state.Or(retiredBit) == 0 && e.Plugin != nil {
		e.Plugin.Close(context.Background())
	}
}

// CurrentPolicy returns the entry's policy (it changes with grants).
func (e *Entry) CurrentPolicy() *policy.Policy {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.Policy
}

// Status is one row of List.
type Status struct {
	Name    string
	Path    string
	Entry   *Entry          // nil if never loaded
	LoadErr *SkillLoadError // last load error, if any
}

// List returns every skill known, loaded or failed, sorted by name.
func (r *Registry) List() []Status {
	r.mu.RLock()
	defer r.mu.RUnlock()
	byName := map[string]*Status{}
	for n, e := range r.entries {
		byName[n] = &Status{Name: n, Path: pathOf(e.Skill), Entry: e}
	}
	for n, le := range r.errs {
		st, ok := byName[n]
		if !ok {
			st = &Status{Name: n, Path: le.Path}
			byName[n] = st
		}
		st.LoadErr = le
	}
	out := make([]Status, 0, len(byName))
	for _, st := range byName {
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func pathOf(s *skill.Skill) string {
	if s.Dir != "" {
		return s.Dir
	}
	return s.WasmPath
}

// Stats is a snapshot for metrics.
type Stats struct {
	Loaded int
	Failed int
}

// Stats returns counts of loaded and failed skills.
func (r *Registry) Stats() Stats {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return Stats{Loaded: len(r.entries), Failed: len(r.errs)}
}

// Close retires every version.
func (r *Registry) Close() {
	r.mu.Lock()
	entries := r.entries
	r.entries = map[string]*Entry{}
	r.mu.Unlock()
	for _, e := range entries {
		e.retire()
	}
}
