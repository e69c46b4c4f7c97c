package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
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

	mu      sync.Mutex
	refs    int
	retired bool
}

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
	var errs []error
	for name, path := range paths {
		seen[name] = true
		if err := r.load(ctx, name, path, r.opts.Lazy); err != nil {
			errs = append(errs, err)
		}
	}
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
	return errors.Join(errs...)
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
	s, err := skill.Load(path)
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
		e.mu.Lock()
		e.refs++
		e.mu.Unlock()
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
		e.mu.Lock()
		e.refs--
		closeNow := e.retired && e.refs == 0
		e.mu.Unlock()
		if closeNow && e.Plugin != nil {
			e.Plugin.Close(context.Background())
		}
	})
}

func (e *Entry) retire() {
	e.mu.Lock()
	e.retired = true
	closeNow := e.refs == 0
	e.mu.Unlock()
	if closeNow && e.Plugin != nil {
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
