package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/runtime/engine/internal/interrupt"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

const wasiModule = wasi_snapshot_preview1.ModuleName

// Engine owns the wazero runtime, the host modules and the compiled-module
// cache. It is safe for concurrent use.
type Engine struct {
	cfg    Config
	rt     wazero.Runtime
	cache  wazero.CompilationCache
	logger *slog.Logger

	// imports maps "module\x00name" to the signature reef provides.
	imports map[string]signature
	// capability for each user function, for error documents.
	preopener  abi.Preopener
	extismHTTP abi.ExtismHTTP

	watch *watchdog

	mu       sync.Mutex
	compiled map[string]*compiledEntry // by digest
	plugins  map[*Plugin]struct{}

	calls, traps, timeouts atomic.Uint64
	instancesCreated       atomic.Uint64
}

type signature struct {
	params, results []api.ValueType
}

type compiledEntry struct {
	mod  wazero.CompiledModule
	refs int
	// minPages is the declared minimum memory (ok false: none found).
	minPages uint32
	hasMin   bool
}

// New builds the runtime and registers the Extism kernel, WASI preview 1
// and the configured capability modules.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	var rc wazero.RuntimeConfig
	if cfg.interpreter || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") {
		rc = wazero.NewRuntimeConfigInterpreter()
	} else {
		rc = wazero.NewRuntimeConfigCompiler()
	}
	e := &Engine{cfg: cfg, logger: cfg.logger, imports: map[string]signature{}, compiled: map[string]*compiledEntry{}, plugins: map[*Plugin]struct{}{}, watch: newWatchdog()}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.cacheDir != "" {
		if n, err := pruneCache(cfg.cacheDir, cfg.cacheLimit); err != nil {
			e.logger.Warn("pruning the compile cache failed", "dir", cfg.cacheDir, "err", err)
		} else if n > 0 {
			e.logger.Info("pruned the compile cache", "dir", cfg.cacheDir, "removed", n, "limit", cfg.cacheLimit)
		}
		c, err := wazero.NewCompilationCacheWithDir(cfg.cacheDir)
		if err != nil {
			return nil, fmt.Errorf("engine: compilation cache %s: %w", cfg.cacheDir, err)
		}
		e.cache = c
	} else {
		e.cache = wazero.NewCompilationCache()
	}
	// No CloseOnContextDone: every module is rewritten by
	// internal/interrupt so that its loops check a flag the watchdog sets.
	// wazero's own mechanism would start a goroutine per call (measured:
	// four allocations and ≈45% of a trivial call) and call a trampoline
	// at every loop iteration.
	rc = rc.WithCompilationCache(e.cache).WithCloseOnContextDone(false).WithMemoryLimitPages(65536)
	e.rt = wazero.NewRuntimeWithConfig(ctx, rc)

	if _, err := wasi_snapshot_preview1.Instantiate(ctx, e.rt); err != nil {
		return nil, fmt.Errorf("engine: wasi: %w", err)
	}
	for _, d := range e.rt.Module(wasiModule).ExportedFunctionDefinitions() {
		e.imports[wasiModule+"\x00"+d.Name()] = signature{d.ParamTypes(), d.ResultTypes()}
	}
	if err := e.instantiateEnv(ctx); err != nil {
		return nil, err
	}
	if err := e.instantiateUser(ctx, cfg.modules); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Engine) instantiateEnv(ctx context.Context) error {
	b := e.rt.NewHostModuleBuilder(abi.EnvModule)
	for _, f := range kernelFuncs(e) {
		b.NewFunctionBuilder().WithGoModuleFunction(f.fn, f.params, f.results).Export(f.name)
		e.imports[abi.EnvModule+"\x00"+f.name] = signature{f.params, f.results}
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("engine: %s: %w", abi.EnvModule, err)
	}
	return nil
}

func (e *Engine) instantiateUser(ctx context.Context, mods []abi.Module) error {
	b := e.rt.NewHostModuleBuilder(abi.UserModule)
	seen := map[string]string{}
	i64 := api.ValueTypeI64
	for _, m := range mods {
		if p, ok := m.(abi.Preopener); ok {
			e.preopener = p
		}
		if h, ok := m.(abi.ExtismHTTP); ok {
			e.extismHTTP = h
		}
		for _, f := range m.Funcs() {
			if other, dup := seen[f.Name]; dup {
				return fmt.Errorf("engine: function %s registered by both %s and %s", f.Name, other, m.Name())
			}
			seen[f.Name] = m.Name()
			b.NewFunctionBuilder().WithGoModuleFunction(userFunc(m.Name(), f.Handler), []api.ValueType{i64, i64}, []api.ValueType{i64}).Export(f.Name)
			e.imports[abi.UserModule+"\x00"+f.Name] = signature{[]api.ValueType{i64, i64}, []api.ValueType{i64}}
		}
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("engine: %s: %w", abi.UserModule, err)
	}
	return nil
}

// LoadOptions are per-load settings.
type LoadOptions struct {
	// Config is the skill's Extism-style config (config_get).
	Config map[string]string
	// Lazy defers compilation and validation to the first call: a daemon
	// with many skills starts at once and holds compiled code only for the
	// skills in use. Load errors then surface from that first call.
	Lazy bool
}

// Load compiles (or reuses) the skill's module, checks its imports,
// exports and memory against what reef provides and the policy's limits,
// and returns a Plugin that serves calls. The first instance is created
// eagerly so a module whose start function traps fails here.
func (e *Engine) Load(ctx context.Context, s *skill.Skill, p *policy.Policy, opts LoadOptions) (*Plugin, error) {
	if p == nil {
		var err error
		if p, err = policy.Compute(s, nil, e.cfg.recorder); err != nil {
			return nil, err
		}
	}
	pl := newPlugin(e, s, p, maps.Clone(opts.Config))
	if !opts.Lazy {
		if err := pl.ensure(ctx); err != nil {
			return nil, err
		}
		inst, err := pl.newInstance(ctx)
		if err != nil {
			e.release(s.Digest)
			return nil, &LoadError{Skill: s.Name, Reason: "first instance failed", Err: err}
		}
		pl.put(inst)
	}
	e.mu.Lock()
	e.plugins[pl] = struct{}{}
	e.mu.Unlock()
	return pl, nil
}

func (e *Engine) compile(ctx context.Context, s *skill.Skill) (*compiledEntry, error) {
	e.mu.Lock()
	if ce, ok := e.compiled[s.Digest]; ok && s.Digest != "" {
		ce.refs++
		e.mu.Unlock()
		return ce, nil
	}
	e.mu.Unlock()
	wasm, err := moduleBytes(s)
	if err != nil {
		return nil, err
	}
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return nil, &LoadError{Skill: s.Name, Reason: "not a WebAssembly module (bad magic header)"}
	}
	inst, err := interrupt.Instrument(wasm)
	if err != nil {
		// Prefer wazero's diagnosis for modules that are simply invalid.
		if cm, cerr := e.rt.CompileModule(ctx, wasm); cerr != nil {
			return nil, &LoadError{Skill: s.Name, Reason: "invalid WebAssembly module", Err: cerr}
		} else {
			_ = cm.Close(ctx)
		}
		return nil, &LoadError{Skill: s.Name, Reason: "module cannot be made interruptible (uses a WebAssembly feature reef does not enable)", Err: err}
	}
	cm, err := e.rt.CompileModule(ctx, inst)
	if err != nil {
		return nil, &LoadError{Skill: s.Name, Reason: "invalid WebAssembly module", Err: err}
	}
	if err := e.checkImports(s.Name, cm); err != nil {
		_ = cm.Close(ctx)
		return nil, err
	}
	entry := &compiledEntry{mod: cm, refs: 1}
	entry.minPages, entry.hasMin = memoryMinPages(wasm)
	e.mu.Lock()
	defer e.mu.Unlock()
	if ce, ok := e.compiled[s.Digest]; ok { // lost a race: keep the first
		_ = cm.Close(ctx)
		ce.refs++
		return ce, nil
	}
	e.compiled[s.Digest] = entry
	return entry, nil
}

// moduleBytes returns the skill's module: the bytes it holds, or, for a
// skill whose bytes were dropped to save memory (a lazily loaded daemon
// skill), the file re-read and checked against the digest it was loaded
// with.
func moduleBytes(s *skill.Skill) ([]byte, error) {
	if s.Wasm != nil || s.WasmPath == "" {
		return s.Wasm, nil
	}
	b, err := os.ReadFile(s.WasmPath)
	if err != nil {
		return nil, &LoadError{Skill: s.Name, Reason: "reading the module", Err: err}
	}
	sum := sha256.Sum256(b)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != s.Digest {
		return nil, &LoadError{Skill: s.Name, Reason: fmt.Sprintf("module changed on disk since it was loaded (digest %s, loaded %s); it will be reloaded", got, s.Digest)}
	}
	return b, nil
}

func (e *Engine) release(digest string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ce, ok := e.compiled[digest]
	if !ok {
		return
	}
	if ce.refs--; ce.refs <= 0 {
		delete(e.compiled, digest)
		_ = ce.mod.Close(context.Background())
	}
}

func (e *Engine) checkImports(name string, cm wazero.CompiledModule) error {
	var errs []error
	for _, f := range cm.ImportedFunctions() {
		mod, fn, _ := f.Import()
		sig, ok := e.imports[mod+"\x00"+fn]
		if !ok {
			reason := fmt.Sprintf("imports %s.%s, which reef does not provide", mod, fn)
			if mod == abi.UserModule {
				reason += " (unknown capability function, or its capability is not enabled in this reef)"
			}
			errs = append(errs, &LoadError{Skill: name, Reason: reason})
			continue
		}
		if !sameTypes(sig.params, f.ParamTypes()) || !sameTypes(sig.results, f.ResultTypes()) {
			errs = append(errs, &LoadError{Skill: name, Reason: fmt.Sprintf("imports %s.%s with signature %s, reef provides %s",
				mod, fn, sigString(f.ParamTypes(), f.ResultTypes()), sigString(sig.params, sig.results))})
		}
	}
	for _, m := range cm.ImportedMemories() {
		mod, n, _ := m.Import()
		errs = append(errs, &LoadError{Skill: name, Reason: fmt.Sprintf("imports memory %s.%s; skills must define their own memory", mod, n)})
	}
	return errors.Join(errs...)
}

func sameTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sigString(params, results []api.ValueType) string {
	s := "("
	for i, p := range params {
		if i > 0 {
			s += ","
		}
		s += api.ValueTypeName(p)
	}
	s += ")->("
	for i, r := range results {
		if i > 0 {
			s += ","
		}
		s += api.ValueTypeName(r)
	}
	return s + ")"
}

// Stats is a snapshot of engine counters, read at scrape time by
// runtime/metrics.
type Stats struct {
	Plugins          int
	CompiledModules  int
	IdleInstances    int
	BusyInstances    int
	IdleMemoryBytes  uint64
	InstancesCreated uint64
	Calls            uint64
	Traps            uint64
	Timeouts         uint64
}

// Stats returns current counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	s := Stats{Plugins: len(e.plugins), CompiledModules: len(e.compiled)}
	plugins := make([]*Plugin, 0, len(e.plugins))
	for p := range e.plugins {
		plugins = append(plugins, p)
	}
	e.mu.Unlock()
	for _, p := range plugins {
		ps := p.Stats()
		s.IdleInstances += ps.Idle
		s.BusyInstances += ps.Busy
		s.IdleMemoryBytes += ps.IdleMemoryBytes
	}
	s.InstancesCreated = e.instancesCreated.Load()
	s.Calls, s.Traps, s.Timeouts = e.calls.Load(), e.traps.Load(), e.timeouts.Load()
	return s
}

// Close closes every plugin and the runtime.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	plugins := make([]*Plugin, 0, len(e.plugins))
	for p := range e.plugins {
		plugins = append(plugins, p)
	}
	e.mu.Unlock()
	for _, p := range plugins {
		p.Close(ctx)
	}
	e.watch.close()
	err := e.rt.Close(ctx)
	if cerr := e.cache.Close(ctx); err == nil {
		err = cerr
	}
	return err
}
