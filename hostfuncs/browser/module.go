package hostbrowser

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/reefhq/reef/hostfuncs/abi"
	hosthttp "github.com/reefhq/reef/hostfuncs/http"
	"github.com/reefhq/reef/runtime/policy"
)

// Defaults of Options.
const (
	DefaultMaxContexts    = 4
	DefaultQueueTimeout   = 10 * time.Second
	DefaultCallTimeout    = 30 * time.Second
	DefaultMaxOutputBytes = 16 << 20
	// DefaultMaxPages caps document loads per call: top-level navigations,
	// frames and every redirect hop of either.
	DefaultMaxPages = 20
	// DefaultMaxRequests caps the requests (documents, subresources,
	// XHR/fetch, websockets) one call's proxy forwards.
	DefaultMaxRequests = 1000
	// DefaultMaxSteps caps the actions of one run() call.
	DefaultMaxSteps = 100
	// DefaultSelectorTimeout bounds an element lookup.
	DefaultSelectorTimeout = 5 * time.Second
	// DefaultStartTimeout bounds starting (or connecting to) the browser.
	DefaultStartTimeout = 30 * time.Second
)

// DialFunc dials an outbound connection for a skill after checking it: it
// resolves the host itself, refuses addresses the policy does not allow
// (private, loopback and metadata ranges unless granted literally) and
// connects to the address it checked. hosthttp.Guard.DialContext is the
// implementation; capability is always policy.CapBrowser here.
type DialFunc func(ctx context.Context, p *policy.Policy, capability, network, addr string) (net.Conn, error)

// Options configure the browser module. Zero fields take the defaults.
type Options struct {
	// ExecPath is the Chromium binary. Empty: the first of chromium,
	// chromium-browser, google-chrome, google-chrome-stable, chrome and
	// headless-shell found on PATH. Ignored when RemoteURL is set.
	ExecPath string
	// RemoteURL is a Chrome DevTools endpoint to use instead of starting a
	// local browser (REEF_BROWSER_URL), e.g. ws://headless-shell:9222 or
	// http://127.0.0.1:9222. The remote browser must be able to reach this
	// process on 127.0.0.1 (same network namespace, e.g. a compose
	// sidecar sharing the network): every page request goes through a
	// per-call proxy that listens on 127.0.0.1 here.
	RemoteURL string
	// MaxContexts bounds concurrent calls (one incognito browser context
	// each). Default 4.
	MaxContexts int
	// QueueTimeout is how long a call waits for a free context before it
	// fails with code "unavailable" (bounded by the call deadline).
	// Default 10 s.
	QueueTimeout time.Duration
	// CallTimeout caps one call, page loads included; the guest call's
	// deadline bounds it further. Default 30 s.
	CallTimeout time.Duration
	// MaxOutputBytes caps what one call returns (text, HTML, PNG, PDF,
	// run() results). Default 16 MiB.
	MaxOutputBytes int
	// MaxPages caps document loads per call (see DefaultMaxPages).
	MaxPages int
	// MaxRequests caps proxied requests per call.
	MaxRequests int
	// MaxSteps caps the actions of one run() call.
	MaxSteps int
	// NoSandbox adds --no-sandbox. nil (the default): true only when reef
	// runs as root, because Chromium refuses to start its setuid/namespace
	// sandbox as root, and containers that run as root rarely grant the
	// user namespaces it needs. Run reef as a non-root user to keep the
	// sandbox; set it to &true explicitly for a non-root container without
	// user namespaces. The per-call proxy confines the network either way;
	// the sandbox confines a compromised renderer process.
	NoSandbox *bool
	// Dial dials every connection the per-call proxies make (nil:
	// (&hosthttp.Guard{}).DialContext, real DNS and the http capability's
	// address rules). Tests pass a Guard with a stub resolver and
	// internal/netguard's dialer.
	Dial DialFunc
	// Warm is how many confined contexts are kept ready (created, with no
	// policy, refusing everything) once the browser runs, so that a call
	// does not wait for a new context and tab; they are extra to
	// MaxContexts, and made after a call returns (never while one loads
	// its page). 0 means MaxContexts, so that a burst of MaxContexts
	// calls finds a context ready for each (≈ 11 MiB of browser memory
	// per ready context with the headless shell); negative disables
	// prewarming.
	Warm int
	// SelectorTimeout bounds how long an element lookup (html and
	// screenshot "selector", run's click/type/text/attr/screenshot) waits
	// for its element; run's "wait" waits until the call deadline.
	// Default 5 s.
	SelectorTimeout time.Duration
	// StartTimeout bounds starting the browser. Default 30 s.
	StartTimeout time.Duration
	// ExtraFlags are added to the Chromium command line (name without
	// "--" → value: string, or bool true for a bare flag). They cannot
	// remove the confinement flags.
	ExtraFlags map[string]any
	// Logger logs module events (nil: discard).
	Logger *slog.Logger
}

// Stats is a snapshot of the module's counters.
type Stats struct {
	// Running reports whether a browser is up (or connected).
	Running bool
	// PID is the local browser's process id (0: none, or remote).
	PID int
	// Starts counts browser starts, the first one included.
	Starts int
	// Active is the number of calls holding a browser context.
	Active int
	// Waiting is the number of calls queued for a context.
	Waiting int
	// FallbackHits counts connections that reached the launch-wide
	// fallback proxy: requests from a context that had no per-call proxy
	// (Chromium's own background traffic). They are always dropped.
	FallbackHits int64
}

// Module is the browser capability. It is safe for concurrent use. The
// browser starts on the first call, not in New.
type Module struct {
	opts Options
	log  *slog.Logger
	sem  chan struct{}

	mu      sync.Mutex
	cur     *browserProc
	starts  int
	waiting int
	closed  bool

	calls    sync.WaitGroup
	fallback *fallbackProxy
	warm     chan *session
	// refillDone is non-nil while a refill runs, closed when it ends;
	// refillAwaited is set while a call waits for that refill.
	refillDone    chan struct{}
	refillAwaited bool
	// parked are sessions of finished calls awaiting disposal (see park);
	// each still holds its slot in sem.
	parked []*session

	// cdpDebugf, when set before the browser starts, receives every CDP
	// message (tests and benchmarks trace phases with it).
	cdpDebugf func(string, ...any)
}

// New returns the module. It starts nothing.
func New(opts Options) *Module {
	if opts.MaxContexts <= 0 {
		opts.MaxContexts = DefaultMaxContexts
	}
	if opts.QueueTimeout <= 0 {
		opts.QueueTimeout = DefaultQueueTimeout
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.MaxOutputBytes <= 0 {
		opts.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if opts.MaxPages <= 0 {
		opts.MaxPages = DefaultMaxPages
	}
	if opts.MaxRequests <= 0 {
		opts.MaxRequests = DefaultMaxRequests
	}
	if opts.MaxSteps <= 0 {
		opts.MaxSteps = DefaultMaxSteps
	}
	if opts.Warm == 0 {
		opts.Warm = opts.MaxContexts
	}
	if opts.SelectorTimeout <= 0 {
		opts.SelectorTimeout = DefaultSelectorTimeout
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	if opts.Dial == nil {
		g := &hosthttp.Guard{Logger: opts.Logger}
		opts.Dial = g.DialContext
	}
	if opts.NoSandbox == nil {
		root := os.Geteuid() == 0
		opts.NoSandbox = &root
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Module{opts: opts, log: log, sem: make(chan struct{}, opts.MaxContexts), warm: make(chan *session, max(opts.Warm, 0))}
}

// Name implements abi.Module.
func (m *Module) Name() string { return policy.CapBrowser }

// Funcs implements abi.Module.
func (m *Module) Funcs() []abi.Func {
	return []abi.Func{
		{Name: abi.BrowserText, Handler: m.handle(opText)},
		{Name: abi.BrowserHTML, Handler: m.handle(opHTML)},
		{Name: abi.BrowserScreenshot, Handler: m.handle(opScreenshot)},
		{Name: abi.BrowserPDF, Handler: m.handle(opPDF)},
		{Name: abi.BrowserRun, Handler: m.handle(opRun)},
	}
}

// Stats returns a snapshot of the module's counters.
func (m *Module) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Stats{Starts: m.starts, Active: len(m.sem), Waiting: m.waiting}
	if m.cur != nil && m.cur.alive() {
		s.Running = true
		s.PID = m.cur.pid
	}
	if m.fallback != nil {
		s.FallbackHits = m.fallback.hits.Load()
	}
	return s
}

// Close stops the browser (or disconnects from a remote one) after the
// calls in flight have finished cleaning up. Calls after Close fail with
// code "unavailable".
func (m *Module) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	m.calls.Wait()
	m.flushParked()
	m.drainWarm()
	m.mu.Lock()
	defer m.mu.Unlock()
	var err error
	if m.cur != nil {
		err = m.cur.stop()
		m.cur = nil
	}
	if m.fallback != nil {
		err = errors.Join(err, m.fallback.Close())
		m.fallback = nil
	}
	return err
}

// acquire takes a context slot, waiting at most QueueTimeout (and never
// past ctx's deadline).
func (m *Module) acquire(ctx context.Context) error {
	select {
	case m.sem <- struct{}{}:
		return nil
	default:
	}
	m.mu.Lock()
	m.waiting++
	flush := len(m.parked) > 0
	m.mu.Unlock()
	if flush {
		// Slots held by parked sessions are freed now.
		m.calls.Go(m.flushParked)
	}
	defer func() {
		m.mu.Lock()
		m.waiting--
		m.mu.Unlock()
	}()
	t := time.NewTimer(m.opts.QueueTimeout)
	defer t.Stop()
	select {
	case m.sem <- struct{}{}:
		return nil
	case <-t.C:
		return abi.Errorf(abi.CodeUnavailable, "browser: all %d browser contexts stayed busy for %s; try again later", m.opts.MaxContexts, m.opts.QueueTimeout)
	case <-ctx.Done():
		return abi.Errorf(abi.CodeTimeout, "browser: call deadline reached while waiting for one of %d busy browser contexts: %v", m.opts.MaxContexts, ctx.Err())
	}
}

func (m *Module) release() { <-m.sem }

// callDeadline is the call's deadline: CallTimeout from now, or the guest
// call's deadline if that is earlier.
func (m *Module) callDeadline(ctx context.Context) time.Time {
	d := time.Now().Add(m.opts.CallTimeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	return d
}

// errClosed is returned by calls after Close.
var errClosed = abi.Errorf(abi.CodeUnavailable, "browser: module closed")

// outputLimit returns a CodeLimit error when n exceeds the output cap.
func (m *Module) outputLimit(what string, n int) error {
	if n > m.opts.MaxOutputBytes {
		return abi.Errorf(abi.CodeLimit, "browser: %s is %d bytes, over the %d-byte output limit", what, n, m.opts.MaxOutputBytes)
	}
	return nil
}

// Interface guards.
var (
	_ abi.Module = (*Module)(nil)
	_ abi.Closer = (*Module)(nil)
)
