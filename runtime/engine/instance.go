package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/runtime/engine/internal/interrupt"
	"github.com/reefhq/reef/runtime/engine/internal/kernel"
	"github.com/reefhq/reef/runtime/policy"
)

// instance is one guest module instance with its kernel state. It serves
// one call at a time.
type instance struct {
	p   *Plugin
	pol *policy.Policy
	mod api.Module
	fns map[string]export
	// lastFn and lastX are the most recently called function.
	lastFn string
	lastX  export
	cc     callCtx
	mem    linearMemory
	logw   [2]logWriter

	arena *kernel.Arena
	stack [2]uint64

	input     []byte
	output    []byte
	outH      uint64
	outLen    uint64
	outSet    bool
	outErr    error
	errMsg    string
	errSet    bool
	denial    error
	hostCalls int
	logBytes  int

	httpStatus  int32
	httpHeaders map[string]string

	// capCtx is the context capabilities see: a real context derived from
	// the caller's with the call deadline, created on first use and
	// canceled when the call ends, so anything a capability derives from it
	// (timers, AfterFuncs, goroutines) never touches the reused callCtx.
	capCtx    context.Context
	capCancel context.CancelFunc

	// deadline is the running call's deadline in nanoseconds since the
	// watchdog's epoch (monotonic), 0 when
	// idle, firedDeadline/firedCanceled once the watchdog or the caller's
	// cancellation ended the call. Whoever swaps it first wins, so a call
	// that finishes at its deadline is either complete or interrupted,
	// never both.
	deadline atomic.Int64
	done     chan struct{}
	// pctx is the running call's caller context if it can be canceled,
	// for the watchdog to poll; pmu guards it.
	pmu  sync.Mutex
	pctx context.Context
	// flag and fuel are the module's interrupt flag and loop budget (see
	// internal/interrupt): fire sets the flag and zeroes the budget, and
	// the guest traps at its next loop iteration.
	flag, fuel api.MutableGlobal

	broken  bool
	counted bool
}

// baseModuleConfig is what every instance shares; each wazero With…
// call copies the config, so it is built once.
var baseModuleConfig = wazero.NewModuleConfig().WithName("").WithStartFunctions().
	WithSysWalltime().WithSysNanotime().WithRandSource(rand.Reader)

func (p *Plugin) newInstance(ctx context.Context) (*instance, error) {
	pol := p.pol.Load()
	limit := uint64(pol.Limits.Memory)
	in := &instance{p: p, pol: pol, fns: map[string]export{}, arena: kernel.NewArena(limit), done: make(chan struct{})}
	in.cc.inst = in
	in.mem.limit = limit
	in.mem.pool = &p.memPool
	in.logw[0] = logWriter{in: in, level: slog.LevelInfo, stream: "stdout"}
	in.logw[1] = logWriter{in: in, level: slog.LevelWarn, stream: "stderr"}
	cfg := baseModuleConfig.WithStdout(&in.logw[0]).WithStderr(&in.logw[1]).WithNanosleep(in.sleep)
	if p.e.preopener != nil && len(pol.Mounts) > 0 {
		pre, err := p.e.preopener.Preopens(pol)
		if err != nil {
			return nil, fmt.Errorf("filesystem mounts: %w", err)
		}
		fc := wazero.NewFSConfig()
		for _, m := range pre {
			fc = fc.(sysfs.FSConfig).WithSysFSMount(m.FS, m.Guest)
		}
		cfg = cfg.WithFSConfig(fc)
	}
	mod, err := p.e.rt.InstantiateModule(experimental.WithMemoryAllocator(ctx, &in.mem), p.cm, cfg)
	if err != nil {
		return nil, fmt.Errorf("instantiate: %w", err)
	}
	in.mod = mod
	flag, ok1 := mod.ExportedGlobal(interrupt.Export).(api.MutableGlobal)
	fuel, ok2 := mod.ExportedGlobal(interrupt.FuelExport).(api.MutableGlobal)
	if !ok1 || !ok2 {
		_ = mod.Close(ctx)
		return nil, fmt.Errorf("instantiate: module has no interrupt flag")
	}
	in.flag, in.fuel = flag, fuel
	p.e.watch.add(in)
	p.e.instancesCreated.Add(1)
	p.mu.Lock()
	p.live++
	p.mu.Unlock()
	// The start function (moved out of instantiation by the rewrite) runs
	// first, under the same limits as any call.
	if p.hasStart {
		start := mod.ExportedFunction(interrupt.StartExport)
		if _, err := in.run(ctx, "start function", exportOf(start), nil); err != nil {
			in.p.discard(in)
			return nil, err
		}
	}
	if p.hasInit {
		init := mod.ExportedFunction("_initialize")
		if _, err := in.run(ctx, "_initialize", exportOf(init), nil); err != nil {
			in.p.discard(in)
			return nil, err
		}
	}
	return in, nil
}

func (in *instance) close() {
	in.p.e.watch.remove(in)
	if in.mod != nil {
		_ = in.mod.Close(context.Background())
	}
}

// call runs one exported function.
func (in *instance) call(ctx context.Context, fn string, input []byte) ([]byte, error) {
	// A skill is usually called with the same function again: remember the
	// last one and skip the map.
	if fn == in.lastFn && in.lastX.f != nil {
		return in.run(ctx, fn, in.lastX, input)
	}
	x, ok := in.fns[fn]
	if !ok {
		x = exportOf(in.mod.ExportedFunction(fn))
		in.fns[fn] = x
	}
	in.lastFn, in.lastX = fn, x
	return in.run(ctx, fn, x, input)
}

// export is a guest function and whether it returns an i32 status.
// Definition().ResultTypes() allocates, so it is asked once per instance.
type export struct {
	f      api.Function
	status bool
}

func exportOf(f api.Function) export {
	if f == nil {
		return export{}
	}
	return export{f: f, status: len(f.Definition().ResultTypes()) == 1}
}

func (in *instance) run(ctx context.Context, fn string, x export, input []byte) ([]byte, error) {
	f := x.f
	if f == nil {
		return nil, &CallError{Skill: in.p.skill.Name, Function: fn, Kind: KindNotFound, Err: errors.New("no such export")}
	}
	in.arena.Reset()
	in.input, in.output, in.outSet, in.outErr = input, nil, false, nil
	in.errMsg, in.errSet, in.denial = "", false, nil
	in.hostCalls, in.logBytes = 0, 0
	in.httpStatus, in.httpHeaders = 0, nil

	// Deadlines are monotonic nanoseconds since the engine's epoch: one
	// clock read per call (time.Now reads two clocks, ≈70 ns on the build
	// VM, a twentieth of a trivial call).
	epoch := in.p.e.watch.epoch
	now := time.Since(epoch)
	timeout := time.Duration(in.pol.Limits.Timeout)
	if dl, ok := ctx.Deadline(); ok {
		if r := dl.Sub(epoch) - now; r < timeout {
			timeout = r
		}
	}
	if err := ctx.Err(); err != nil {
		kind := KindCanceled
		if errors.Is(err, context.DeadlineExceeded) {
			kind = KindTimeout
		}
		return nil, &CallError{Skill: in.p.skill.Name, Function: fn, Kind: kind, Err: err}
	}
	cc := &in.cc
	cc.parent, cc.fn = ctx, fn
	dl := max(int64(now+timeout), 1)
	cc.deadline = epoch.Add(time.Duration(dl))
	in.deadline.Store(dl)
	// The watchdog also ends the call when the caller's context is done;
	// it polls (≤ 5 ms late) instead of a context.AfterFunc, which cost
	// four allocations per call for every cancellable caller (every HTTP
	// request).
	cancellable := ctx.Done() != nil
	if cancellable {
		in.pmu.Lock()
		in.pctx = ctx
		in.pmu.Unlock()
	}
	err := f.CallWithStack(cc, in.stack[:])
	if cancellable {
		in.pmu.Lock()
		in.pctx = nil
		in.pmu.Unlock()
	}
	var fired error
	if !in.deadline.CompareAndSwap(dl, 0) {
		fired = in.firedReason()
	}
	in.flushLogs()
	if in.capCancel != nil {
		in.capCancel()
		in.capCtx, in.capCancel = nil, nil
	}
	cc.parent = nil
	clear(cc.values) // drop the values, keep the array for the next call
	cc.values = cc.values[:0]
	in.input = nil // the caller may reuse its buffer once Call returns

	if fired != nil {
		in.broken = true
	}
	name := in.p.skill.Name
	if fired != nil {
		// The guest trapped on its interrupt flag, or returned after being
		// interrupted (e.g. from a sleep cut short): the interruption won,
		// so the call is a timeout or cancellation, never a result.
		if fired == context.DeadlineExceeded {
			in.p.e.timeouts.Add(1)
			return nil, &CallError{Skill: name, Function: fn, Kind: KindTimeout, Err: fmt.Errorf("exceeded its timeout of %s", timeout)}
		}
		return nil, &CallError{Skill: name, Function: fn, Kind: KindCanceled, Err: context.Canceled}
	}
	if err != nil {
		var exit *sys.ExitError
		if errors.As(err, &exit) {
			switch exit.ExitCode() {
			case 0:
				in.broken = true // proc_exit closed the module; the result stands
				return in.result(fn)
			default:
				in.broken = true
				return nil, &CallError{Skill: name, Function: fn, Kind: KindGuest, Code: exit.ExitCode(), Err: fmt.Errorf("exited with code %d%s", exit.ExitCode(), in.errSuffix())}
			}
		}
		in.broken = true
		in.p.e.traps.Add(1)
		if in.denial != nil {
			err = fmt.Errorf("%w\n%v", in.denial, err)
		}
		if in.outErr != nil {
			return nil, &CallError{Skill: name, Function: fn, Kind: KindOutput, Err: in.outErr}
		}
		return nil, &CallError{Skill: name, Function: fn, Kind: KindTrap, Err: err}
	}
	if in.outErr != nil {
		return nil, &CallError{Skill: name, Function: fn, Kind: KindOutput, Err: in.outErr}
	}
	if x.status {
		if rc := uint32(in.stack[0]); rc != 0 {
			msg := in.errMsg
			if !in.errSet || msg == "" {
				msg = fmt.Sprintf("returned code %d", rc)
			}
			return nil, &CallError{Skill: name, Function: fn, Kind: KindGuest, Code: rc, Err: guestError(msg, in.denial)}
		}
	}
	if in.errSet {
		return nil, &CallError{Skill: name, Function: fn, Kind: KindGuest, Err: guestError(in.errMsg, in.denial)}
	}
	return in.result(fn)
}

// guestError keeps a denial the guest ran into reachable through
// errors.As, so callers can tell "denied" from other guest errors. The
// message is the guest's own (PDKs usually include the denial text).
func guestError(msg string, denial error) error {
	if denial != nil {
		if strings.Contains(msg, denial.Error()) {
			return &wrappedError{msg: msg, err: denial}
		}
		return fmt.Errorf("%s: %w", msg, denial)
	}
	return errors.New(msg)
}

// wrappedError is a message that already contains its cause's text.
type wrappedError struct {
	msg string
	err error
}

func (e *wrappedError) Error() string { return e.msg }
func (e *wrappedError) Unwrap() error { return e.err }

func (in *instance) errSuffix() string {
	if in.errSet {
		return ": " + in.errMsg
	}
	return ""
}

func (in *instance) result(fn string) ([]byte, error) {
	if in.outSet {
		b, ok := in.arena.Range(in.outH, in.outLen)
		if !ok {
			return nil, &CallError{Skill: in.p.skill.Name, Function: fn, Kind: KindTrap, Err: errors.New("output_set points outside kernel memory")}
		}
		out := make([]byte, len(b))
		copy(out, b)
		return out, nil
	}
	return in.output, nil
}

const (
	firedDeadline = -1
	firedCanceled = -2
)

// fire ends the call whose deadline is dl (if it is still running): it
// sets the module's interrupt flag (the guest traps at its next loop
// iteration) and closes done (a WASI sleep ends, capabilities see it).
func (in *instance) fire(dl int64, reason error) {
	v := int64(firedCanceled)
	if reason == context.DeadlineExceeded {
		v = firedDeadline
	}
	if dl > 0 && in.deadline.CompareAndSwap(dl, v) {
		in.flag.Set(1)
		in.fuel.Set(0)
		close(in.done)
	}
}

// sleep serves WASI sleeps (poll_oneoff with a clock). Unlike
// time.Sleep it ends when the call is interrupted: a guest sleeping in a
// host call never reaches a loop header, so the flag alone would not stop
// it before its sleep ends.
func (in *instance) sleep(ns int64) {
	if ns <= 0 {
		return
	}
	t := time.NewTimer(time.Duration(ns))
	select {
	case <-t.C:
	case <-in.done:
		t.Stop()
	}
}

// canceled reports why the running call's caller context is done (nil:
// it is not).
func (in *instance) canceled() error {
	in.pmu.Lock()
	c := in.pctx
	in.pmu.Unlock()
	if c == nil {
		return nil
	}
	return c.Err()
}

func (in *instance) firedReason() error {
	switch in.deadline.Load() {
	case firedDeadline:
		return context.DeadlineExceeded
	case firedCanceled:
		return context.Canceled
	}
	return nil
}

// setOutput checks the output limit before anything is copied.
func (in *instance) checkOutput(n uint64) bool {
	if limit := uint64(in.pol.Limits.Output); n > limit {
		in.outErr = fmt.Errorf("output of %d bytes exceeds the limit of %d bytes", n, limit)
		return false
	}
	return true
}

type instKey struct{}

// callCtx is the context a guest call runs under. It is embedded in the
// instance and reused, so a call allocates no context: Done is the
// instance's channel, closed when the watchdog interrupts the call.
type callCtx struct {
	inst     *instance
	parent   context.Context
	deadline time.Time
	fn       string
	// values is the call's abi.Call.Value state: a handful of keys at
	// most, so a slice searched in order (reused across calls) rather
	// than a map made for every call that has any.
	values []callValue
}

type callValue struct{ key, val any }

func (c *callCtx) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *callCtx) Done() <-chan struct{}       { return c.inst.done }
func (c *callCtx) Err() error {
	select {
	case <-c.inst.done:
		return c.inst.firedReason()
	default:
		return nil
	}
}

func (c *callCtx) Value(key any) any {
	if key == (instKey{}) {
		return c.inst
	}
	if c.parent == nil {
		return nil
	}
	return c.parent.Value(key)
}

// hostCall is the abi.Call handed to capability handlers.
type hostCall struct{ in *instance }

func (h hostCall) Context() context.Context {
	in := h.in
	if in.capCtx == nil {
		in.capCtx, in.capCancel = context.WithDeadline(in.cc.parent, in.cc.deadline)
	}
	return in.capCtx
}
func (h hostCall) Skill() string          { return h.in.p.skill.Name }
func (h hostCall) Function() string       { return h.in.cc.fn }
func (h hostCall) Policy() *policy.Policy { return h.in.pol }
func (h hostCall) Logger() *slog.Logger   { return h.in.p.logger.With("function", h.in.cc.fn) }

// Value implements abi.Call: per-call state, dropped when the call ends.
func (h hostCall) Value(key any, init func() any) any {
	c := &h.in.cc
	for i := range c.values {
		if c.values[i].key == key {
			return c.values[i].val
		}
	}
	if init == nil {
		return nil
	}
	v := init()
	c.values = append(c.values, callValue{key, v})
	return v
}

var _ abi.Call = hostCall{}

// instOf finds the instance a host function serves.
func instOf(ctx context.Context) *instance {
	if c, ok := ctx.(*callCtx); ok {
		return c.inst
	}
	if in, ok := ctx.Value(instKey{}).(*instance); ok {
		return in
	}
	panic(errors.New("reef: host function called outside a reef call"))
}

// linearMemory backs a guest memory and refuses to grow past the limit.
type linearMemory struct {
	buf   []byte
	limit uint64
	pool  *sync.Pool // of *[]byte, the plugin's
}

func (m *linearMemory) Allocate(capacity, max uint64) experimental.LinearMemory {
	return m
}

// Reallocate grows to size bytes; nil (memory.grow returns -1 in the
// guest) past the limit. The first allocation is never refused: the
// module's declared minimum was checked at load.
func (m *linearMemory) Reallocate(size uint64) []byte {
	if size > m.limit && m.buf != nil {
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	if m.buf == nil && m.pool != nil {
		if b, ok := m.pool.Get().(*[]byte); ok && uint64(cap(*b)) >= size {
			// A discarded instance's memory: zeroed whole, so growing
			// within its capacity later exposes nothing either.
			buf := (*b)[:cap(*b)]
			clear(buf)
			m.buf = buf[:size]
			return m.buf
		}
	}
	c := size
	if dbl := uint64(cap(m.buf)) * 2; dbl > c {
		c = min(dbl, max(m.limit, size))
	}
	nb := make([]byte, size, c)
	copy(nb, m.buf)
	m.buf = nb
	return nb
}

// maxPooledMemory bounds the guest memories kept for reuse: instances of
// small skills are created often (isolation call), big ones rarely.
const maxPooledMemory = 1 << 20

// Free is called by wazero when the module is closed: the memory goes back
// to the plugin's pool for the next instance (fresh instances of a C skill
// otherwise allocate and collect ~130 KiB each).
func (m *linearMemory) Free() {
	if m.pool != nil && m.buf != nil && cap(m.buf) <= maxPooledMemory {
		b := m.buf
		m.pool.Put(&b)
	}
	m.buf = nil
}

// logWriter forwards guest stdout/stderr lines to the log, within the
// per-call guest log budget.
type logWriter struct {
	in     *instance
	level  slog.Level
	stream string
	line   []byte
}

func (w *logWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		w.line = append(w.line, b[:i]...)
		if len(w.line) > 4096 {
			w.line = w.line[:4096]
		}
		if i < len(b) {
			w.in.guestLog(w.level, string(w.line), "stream", w.stream)
			w.line = w.line[:0]
			i++
		}
		b = b[i:]
	}
	return n, nil
}

func (in *instance) flushLogs() {
	for i := range in.logw {
		if w := &in.logw[i]; len(w.line) > 0 {
			in.guestLog(w.level, string(w.line), "stream", w.stream)
			w.line = w.line[:0]
		}
	}
}

func (in *instance) guestLog(level slog.Level, msg string, attrs ...any) {
	if level < in.p.e.cfg.guestLogLvl {
		return
	}
	max := in.p.e.cfg.guestLogMax
	if in.logBytes > max {
		return
	}
	in.logBytes += len(msg)
	if in.logBytes > max {
		in.p.logger.Warn("guest log budget exhausted; dropping the rest of this call's logs", "function", in.cc.fn, "limit", max)
		return
	}
	in.p.logger.Log(context.Background(), level, msg, append(attrs, "function", in.cc.fn)...)
}
