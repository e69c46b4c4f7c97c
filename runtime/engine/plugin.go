package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/reefhq/reef/runtime/engine/internal/interrupt"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

// Plugin is one loaded skill version: its compiled module, its policy and a
// pool of warm instances. It is safe for concurrent use; each call takes an
// instance of its own.
type Plugin struct {
	e      *Engine
	skill  *skill.Skill
	cm     wazero.CompiledModule
	funcs  map[string]bool
	names  []string
	config map[string]string
	logger *slog.Logger

	pol atomic.Pointer[policy.Policy]

	varsMu   sync.Mutex
	vars     map[string][]byte
	varBytes int

	initMu   sync.Mutex
	initErr  error
	compiled atomic.Bool

	mu     sync.Mutex
	idle   []*instance
	busy   int
	live   int
	closed bool
	// warming is set while prewarm creates an instance.
	warming bool
	calls   atomic.Uint64
	// hasStart and hasInit record whether the module exports the moved
	// start function and _initialize (a failed export lookup allocates an
	// error, so instances do not probe).
	hasStart, hasInit bool
	// memPool keeps the linear memories of discarded instances.
	memPool sync.Pool
}

// maxVarBytes bounds the Extism vars of one plugin (Extism's default).
const maxVarBytes = 1 << 20

func newPlugin(e *Engine, s *skill.Skill, p *policy.Policy, config map[string]string) *Plugin {
	pl := &Plugin{e: e, skill: s, config: config, vars: map[string][]byte{}, funcs: map[string]bool{},
		logger: e.logger.With("skill", s.Name)}
	pl.pol.Store(p)
	return pl
}

// ensure compiles and validates the module on first use (lazy plugins) and
// returns the load error, if any, on every later use.
func (pl *Plugin) ensure(ctx context.Context) error {
	pl.initMu.Lock()
	defer pl.initMu.Unlock()
	if pl.cm != nil || pl.initErr != nil {
		return pl.initErr
	}
	ce, err := pl.e.compile(ctx, pl.skill)
	if err != nil {
		pl.initErr = err
		return err
	}
	if err := pl.bind(ce); err != nil {
		pl.e.release(pl.skill.Digest)
		pl.initErr = err
		return err
	}
	return nil
}

// bind checks the compiled module's exports and memory against the
// manifest and the policy's limits, and records the callable functions.
func (pl *Plugin) bind(ce *compiledEntry) error {
	s, p, cm := pl.skill, pl.pol.Load(), ce.mod
	exports := cm.ExportedFunctions()
	_, pl.hasStart = exports[interrupt.StartExport]
	_, pl.hasInit = exports["_initialize"]
	callable := func(d api.FunctionDefinition) bool {
		return len(d.ParamTypes()) == 0 && (len(d.ResultTypes()) == 0 || (len(d.ResultTypes()) == 1 && d.ResultTypes()[0] == api.ValueTypeI32))
	}
	var errs []error
	if s.Bare || len(s.Manifest.Functions) == 0 {
		for name, d := range exports {
			if name == "_initialize" || name == "_start" || len(name) >= 2 && name[:2] == "__" || !callable(d) {
				continue
			}
			pl.funcs[name] = true
		}
	} else {
		for _, f := range s.Manifest.Functions {
			d, ok := exports[f.Name]
			switch {
			case f.Name == interrupt.StartExport || f.Name == interrupt.Export:
				errs = append(errs, &LoadError{Skill: s.Name, Reason: fmt.Sprintf("function name %q is reserved by reef", f.Name)})
			case !ok:
				errs = append(errs, &LoadError{Skill: s.Name, Reason: fmt.Sprintf("function %q is declared in reef.yaml but not exported by %s", f.Name, s.Manifest.Wasm)})
			case !callable(d):
				errs = append(errs, &LoadError{Skill: s.Name, Reason: fmt.Sprintf("export %q has signature %s; skill functions take no parameters and return nothing or an i32", f.Name, sigString(d.ParamTypes(), d.ResultTypes()))})
			default:
				pl.funcs[f.Name] = true
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		pl.funcs = map[string]bool{}
		return err
	}
	for n := range pl.funcs {
		pl.names = append(pl.names, n)
	}
	sort.Strings(pl.names)
	if ce.hasMin && uint64(ce.minPages)*65536 > uint64(p.Limits.Memory) {
		return &LoadError{Skill: s.Name, Reason: fmt.Sprintf("module declares a minimum memory of %d bytes, over the skill's memory limit of %d bytes", uint64(ce.minPages)*65536, uint64(p.Limits.Memory))}
	}
	pl.cm = cm
	pl.compiled.Store(true)
	return nil
}

// Compiled reports whether the module has been compiled (lazy plugins
// compile on first use).
func (p *Plugin) Compiled() bool { return p.compiled.Load() }

// Skill returns the skill this plugin runs.
func (p *Plugin) Skill() *skill.Skill { return p.skill }

// Policy returns the current effective policy.
func (p *Plugin) Policy() *policy.Policy { return p.pol.Load() }

// Functions lists callable function names, sorted. A lazy plugin with a
// manifest answers from the manifest without compiling.
func (p *Plugin) Functions() []string {
	if !p.Compiled() && !p.skill.Bare && len(p.skill.Manifest.Functions) > 0 {
		names := make([]string, 0, len(p.skill.Manifest.Functions))
		for _, f := range p.skill.Manifest.Functions {
			names = append(names, f.Name)
		}
		sort.Strings(names)
		return names
	}
	if err := p.ensure(context.Background()); err != nil {
		return nil
	}
	return slices.Clone(p.names)
}

// Imports lists the module's imports as "module.name".
func (p *Plugin) Imports() []string {
	if err := p.ensure(context.Background()); err != nil {
		return nil
	}
	var out []string
	for _, f := range p.cm.ImportedFunctions() {
		m, n, _ := f.Import()
		out = append(out, m+"."+n)
	}
	sort.Strings(out)
	return out
}

// SetPolicy swaps the effective policy (a grants change). Idle instances
// are dropped so new calls get instances built under the new policy
// (mounts are fixed per instance); in-flight calls finish under the old.
func (p *Plugin) SetPolicy(np *policy.Policy) {
	p.pol.Store(np)
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, in := range idle {
		p.discard(in)
	}
}

// PluginStats is a snapshot of one plugin's pool.
type PluginStats struct {
	Idle, Busy int
	Calls      uint64
	// IdleMemoryBytes is the linear memory plus kernel arena held by idle
	// instances.
	IdleMemoryBytes uint64
}

// Stats returns the pool counters.
func (p *Plugin) Stats() PluginStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := PluginStats{Idle: len(p.idle), Busy: p.busy, Calls: p.calls.Load()}
	for _, in := range p.idle {
		st.IdleMemoryBytes += uint64(cap(in.mem.buf)) + in.arena.Cap()
	}
	return st
}

// Call runs function fn with input and returns its output. Errors are
// *CallError (or ctx errors before the call started).
func (p *Plugin) Call(ctx context.Context, fn string, input []byte) ([]byte, error) {
	if !p.compiled.Load() {
		if err := p.ensure(ctx); err != nil {
			return nil, &CallError{Skill: p.skill.Name, Function: fn, Kind: KindInstance, Err: err}
		}
	}
	if !p.funcs[fn] {
		return nil, &CallError{Skill: p.skill.Name, Function: fn, Kind: KindNotFound, Err: fmt.Errorf("exported functions: %v", p.names)}
	}
	in, err := p.get(ctx)
	if err != nil {
		return nil, err
	}
	p.calls.Add(1)
	p.e.calls.Add(1)
	out, err := in.call(ctx, fn, input)
	if in.broken || in.pol.Isolation == skill.IsolationCall {
		p.mu.Lock()
		p.busy--
		p.mu.Unlock()
		p.discard(in)
		if in.pol.Isolation == skill.IsolationCall {
			p.prewarm()
		}
	} else {
		p.put(in)
	}
	return out, err
}

func (p *Plugin) get(ctx context.Context) (*instance, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, &CallError{Skill: p.skill.Name, Kind: KindClosed, Err: errors.New("plugin closed")}
	}
	p.busy++
	if n := len(p.idle); n > 0 {
		in := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return in, nil
	}
	p.mu.Unlock()
	in, err := p.newInstance(ctx)
	if err != nil {
		p.mu.Lock()
		p.busy--
		p.mu.Unlock()
		return nil, &CallError{Skill: p.skill.Name, Kind: KindInstance, Err: err}
	}
	in.counted = true
	return in, nil
}

// prewarm creates a fresh instance in the background for isolation "call",
// so the next call does not wait for instantiation. Only never-used
// instances sit idle under that isolation.
func (p *Plugin) prewarm() {
	p.mu.Lock()
	if p.closed || p.warming || len(p.idle) > 0 {
		p.mu.Unlock()
		return
	}
	p.warming = true
	p.mu.Unlock()
	go func() {
		in, err := p.newInstance(context.Background())
		p.mu.Lock()
		p.warming = false
		p.mu.Unlock()
		if err != nil {
			p.logger.Warn("prewarming an instance failed", "err", err)
			return
		}
		p.put(in)
	}()
}

// put returns a healthy instance to the pool (called with busy counted,
// or from Load for the first instance).
func (p *Plugin) put(in *instance) {
	p.mu.Lock()
	if in.counted {
		p.busy--
	}
	in.counted = true
	if p.closed || len(p.idle) >= p.e.cfg.maxIdle || in.pol != p.pol.Load() {
		p.mu.Unlock()
		p.discard(in)
		return
	}
	p.idle = append(p.idle, in)
	p.mu.Unlock()
}

func (p *Plugin) discard(in *instance) {
	in.close()
	p.mu.Lock()
	p.live--
	last := p.closed && p.live == 0
	p.mu.Unlock()
	if last {
		p.e.release(p.skill.Digest)
	}
}

// Close stops new calls, closes idle instances and, once in-flight calls
// finish, releases the compiled module.
func (p *Plugin) Close(ctx context.Context) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	idle := p.idle
	p.idle = nil
	none := p.live == 0
	p.mu.Unlock()
	for _, in := range idle {
		p.discard(in)
	}
	if none && p.Compiled() {
		p.e.release(p.skill.Digest)
	}
	p.e.mu.Lock()
	delete(p.e.plugins, p)
	p.e.mu.Unlock()
}

// memoryMinPages reads the minimum page count of the first memory defined
// in the module's memory section, so a module asking for more than its
// limit is refused before anything is allocated.
func memoryMinPages(b []byte) (uint32, bool) {
	if len(b) < 8 {
		return 0, false
	}
	i := 8
	for i < len(b) {
		id := b[i]
		i++
		size, n := binary.Uvarint(b[i:])
		if n <= 0 || size > uint64(len(b)) {
			return 0, false
		}
		i += n
		end := i + int(size)
		if end > len(b) {
			return 0, false
		}
		if id == 5 {
			count, n := binary.Uvarint(b[i:end])
			if n <= 0 || count == 0 {
				return 0, false
			}
			j := i + n
			if j >= end {
				return 0, false
			}
			j++ // limits flags
			min, n := binary.Uvarint(b[j:end])
			if n <= 0 || min > 1<<32 {
				return 0, false
			}
			return uint32(min), true
		}
		i = end
	}
	return 0, false
}

var _ = time.Second
