package hostbrowser

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/runtime/policy"
)

// cleanupTimeout bounds closing one call's tab and browser context.
const cleanupTimeout = 5 * time.Second

// session is one call's confined browser context: a fresh incognito
// BrowserContext whose only proxy is the call's callProxy, downloads
// denied, document requests checked through CDP Fetch interception, and
// popups closed. Sessions are created ahead of time (see Options.Warm)
// with no policy — their proxy and checks refuse everything — and bound to
// one call's policy and deadline just before it navigates; a session is
// never reused. CDP event callbacks run on chromedp's reader goroutine and
// hand work to new goroutines.
type session struct {
	m      *Module
	bp     *browserProc
	proxy  *callProxy
	bctxID cdp.BrowserContextID

	tabCtx    context.Context
	tabCancel context.CancelFunc

	// Set by bind, before the call loads anything. ctx is the context
	// every action runs with: the tab's context with the call deadline,
	// also cancelled when the guest call ends.
	pol       *policy.Policy
	ctx       context.Context
	cancel    context.CancelFunc
	stopAfter func() bool
	// bound is what event callbacks read (they run on other goroutines).
	bound atomic.Pointer[binding]

	// vw and vh are the viewport size set last.
	vw, vh int
	// prewarmed is set on a session made ahead of its call.
	prewarmed bool

	tgt    atomic.Pointer[chromedp.Target]
	pages  atomic.Int64
	popups sync.Map // target.ID -> struct{}

	mu      sync.Mutex
	denials []error
}

type binding struct {
	pol *policy.Policy
	ctx context.Context
}

// openSession returns a confined context bound to the call, with its
// viewport set: a warm one if available, else a new one. A browser that
// died since the last call is restarted, and the call retried once, as
// long as nothing of the call has run yet. The warm pool is refilled when
// the call ends (session.close), not here: creating a context (a new
// renderer process) while the call loads its page would stall the
// page's load on the browser's main thread and, on a small machine, on
// the CPU.
func (m *Module) openSession(c abi.Call, deadline time.Time, width, height int) (*session, error) {
	ctx, cancel := context.WithDeadline(c.Context(), deadline)
	defer cancel()
	for attempt := 0; ; attempt++ {
		s, bp, err := m.session(ctx)
		if err == nil {
			s.bind(c, deadline)
			if err = s.ready(width, height); err == nil {
				return s, nil
			}
			s.dispose()
		}
		if attempt == 0 && bp != nil && !bp.alive() && ctx.Err() == nil {
			m.log.Warn("browser: the browser died before the call started; restarting", "err", err)
			continue
		}
		return nil, m.browserError("open a browser context", bp, err)
	}
}

// ready makes sure the browser still answers (a prewarmed context may
// have outlived its browser, and chromedp notices a killed browser only a
// moment later) and sets the viewport.
func (s *session) ready(width, height int) error {
	if s.prewarmed {
		if _, err := cdp.Call(s.ctx, s.bp.browser, browser.GetVersion, cdp.Empty{}); err != nil {
			return err
		}
	}
	return s.viewport(width, height)
}

// session returns an unbound session: a warm one, the one a refill in
// progress is about to deliver (at most one call waits for it: finishing
// a context that is half made is faster than starting another, and
// cheaper for the machine), or a new one.
func (m *Module) session(ctx context.Context) (*session, *browserProc, error) {
	if s := m.takeWarm(); s != nil {
		return s, s.bp, nil
	}
	if s := m.awaitRefill(ctx); s != nil {
		return s, s.bp, nil
	}
	bp, err := m.browser(ctx)
	if err != nil {
		return nil, nil, err
	}
	s, err := m.newSession(ctx, bp)
	return s, bp, err
}

// awaitRefill waits for the context a refill in progress is creating, if
// there is one and no other call waits for it; nil otherwise, or when the
// refill ends without one.
func (m *Module) awaitRefill(ctx context.Context) *session {
	m.mu.Lock()
	done := m.refillDone
	if done == nil || m.refillAwaited {
		m.mu.Unlock()
		return nil
	}
	m.refillAwaited = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.refillAwaited = false
		m.mu.Unlock()
	}()
	for {
		select {
		case s := <-m.warm:
			if m.keep(s) {
				return s
			}
		case <-done:
			return m.takeWarm()
		case <-ctx.Done():
			return nil
		}
	}
}

// newSession creates an unbound session: browser context with its proxy,
// downloads denied, a tab with Fetch interception on.
func (m *Module) newSession(ctx context.Context, bp *browserProc) (_ *session, err error) {
	s := &session{m: m, bp: bp}
	s.proxy, err = newCallProxy(m.opts.Dial, m.log, m.opts.MaxRequests)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.dispose()
		}
	}()
	res, err := cdp.Call(ctx, bp.browser, target.CreateBrowserContext, target.CreateBrowserContextParams{
		DisposeOnDetach: new(true),
		ProxyServer:     s.proxy.URL(),
		// Without "<-loopback>", Chromium silently bypasses the proxy for
		// localhost and 127.0.0.0/8.
		ProxyBypassList: "<-loopback>",
	})
	if err != nil {
		return nil, fmt.Errorf("create browser context: %w", err)
	}
	s.bctxID = res.BrowserContextID
	if _, err := cdp.Call(ctx, bp.browser, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior:         browser.SetDownloadBehaviorBehaviorDeny,
		BrowserContextID: s.bctxID,
	}); err != nil {
		return nil, fmt.Errorf("deny downloads: %w", err)
	}
	s.tabCtx, s.tabCancel = chromedp.NewContext(bp.ctx, chromedp.WithExistingBrowserContext(s.bctxID), chromedp.WithListener(s.onEvent))
	// The first Run binds the tab's lifetime to the context it gets, so
	// it gets the tab context itself; ctx only bounds the wait.
	done := make(chan error, 1)
	go func() {
		_, err := chromedp.Run(s.tabCtx, func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
			s.tgt.Store(t)
			// Pause every document request (navigations, redirect hops,
			// frames in this process) so that its scheme, host and the
			// page cap are checked before it is sent. Subresources,
			// workers, out-of-process frames and popups are confined by
			// the proxy.
			if _, err := cdp.Call(ctx, t, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
				{URLPattern: "*", ResourceType: network.ResourceTypeDocument, RequestStage: fetch.RequestStageRequest},
			}}); err != nil {
				return chromedp.Void{}, err
			}
			// Most calls use the default viewport: set it now, off
			// the call's path.
			return chromedp.EmulateViewport(DefaultWidth, DefaultHeight)(ctx, t)
		})
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("open tab: %w", err)
	}
	s.vw, s.vh = DefaultWidth, DefaultHeight
	return s, nil
}

// bind gives the session to one call.
func (s *session) bind(c abi.Call, deadline time.Time) {
	s.pol = c.Policy()
	s.ctx, s.cancel = context.WithDeadline(s.tabCtx, deadline)
	s.stopAfter = context.AfterFunc(c.Context(), s.cancel)
	s.bound.Store(&binding{pol: s.pol, ctx: s.ctx})
	s.proxy.bind(s.pol, c.Logger())
}

// takeWarm returns a ready session of the running browser, or nil.
func (m *Module) takeWarm() *session {
	for {
		select {
		case s := <-m.warm:
			if m.keep(s) {
				return s
			}
		default:
			return nil
		}
	}
}

// keep reports whether a warm session taken from the pool is usable, and
// disposes of it in the background when not.
func (m *Module) keep(s *session) bool {
	if m.usable(s) {
		return true
	}
	go s.dispose()
	return false
}

// usable reports whether a warm session belongs to the running browser.
func (m *Module) usable(s *session) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return s.bp == m.cur && s.bp.alive()
}

// refill tops the warm pool up, in the calling goroutine, if the browser
// runs and no other refill is in progress.
func (m *Module) refill() {
	m.mu.Lock()
	if m.closed || m.refillDone != nil || m.opts.Warm <= 0 || len(m.warm) >= cap(m.warm) || m.cur == nil || !m.cur.alive() {
		m.mu.Unlock()
		return
	}
	done := make(chan struct{})
	m.refillDone = done
	bp := m.cur
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.refillDone = nil
		m.mu.Unlock()
		close(done)
	}()
	for len(m.warm) < cap(m.warm) && bp.alive() {
		ctx, cancel := context.WithTimeout(context.Background(), m.opts.StartTimeout)
		s, err := m.newSession(ctx, bp)
		cancel()
		if err != nil {
			m.log.Debug("browser: prewarm a context", "err", err)
			return
		}
		m.mu.Lock()
		closed := m.closed
		m.mu.Unlock()
		if closed {
			s.dispose()
			return
		}
		s.prewarmed = true
		select {
		case m.warm <- s:
		default:
			s.dispose()
			return
		}
	}
}

// drainWarm disposes the warm sessions (Close).
func (m *Module) drainWarm() {
	for {
		select {
		case s := <-m.warm:
			s.dispose()
		default:
			return
		}
	}
}

// onEvent runs on chromedp's reader goroutine: it must not block or send
// commands itself.
func (s *session) onEvent(ev any) {
	switch ev := ev.(type) {
	case *fetch.EventRequestPaused:
		go s.decideRequest(ev)
	case *target.EventTargetCreated:
		s.closePopup(ev.TargetInfo)
	case *target.EventTargetInfoChanged:
		s.closePopup(ev.TargetInfo)
	}
}

// decideRequest continues or fails one paused document request.
func (s *session) decideRequest(ev *fetch.EventRequestPaused) {
	t := s.tgt.Load()
	if t == nil {
		return
	}
	// An unbound session has no policy: everything is refused.
	b := s.bound.Load()
	if b == nil {
		b = &binding{ctx: s.tabCtx}
	}
	raw := ev.Request.URL + ev.Request.URLFragment
	var err error
	if n := s.pages.Add(1); n > int64(s.m.opts.MaxPages) {
		err = b.pol.Deny(policy.CapBrowser, clipValue(raw), fmt.Sprintf("more than %d page loads in one call", s.m.opts.MaxPages))
	} else {
		_, err = checkURL(b.pol, raw)
	}
	if err != nil {
		s.noteDenial(err)
		_, _ = cdp.Call(b.ctx, t, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonBlockedByClient})
		return
	}
	_, _ = cdp.Call(b.ctx, t, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
}

// closePopup closes every other page of the call's browser context: a
// call drives one tab, and a popup is only a way to load something the
// call cannot see. Its requests would still go through the proxy.
func (s *session) closePopup(info *target.Info) {
	t := s.tgt.Load()
	if info == nil || t == nil || info.Type != "page" || info.BrowserContextID != s.bctxID || info.TargetID == t.TargetID {
		return
	}
	if _, loaded := s.popups.LoadOrStore(info.TargetID, struct{}{}); loaded {
		return
	}
	var pol *policy.Policy
	if b := s.bound.Load(); b != nil {
		pol = b.pol
	}
	s.noteDenial(pol.Deny(policy.CapBrowser, clipValue(info.URL), "popup windows are not allowed (closed)"))
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		_, _ = cdp.Call(ctx, s.bp.browser, target.CloseTarget, target.CloseTargetParams{TargetID: info.TargetID})
	}()
}

func (s *session) noteDenial(err error) {
	s.mu.Lock()
	if len(s.denials) < 64 {
		s.denials = append(s.denials, err)
	}
	s.mu.Unlock()
}

// firstDenial returns the first denial recorded by Fetch interception or
// the proxy since mark (see denialMark), or nil.
func (s *session) firstDenial(mark denialMark) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.denials) > mark.session {
		return s.denials[mark.session]
	}
	if d := s.proxy.Denials(); len(d) > mark.proxy {
		return d[mark.proxy]
	}
	return nil
}

type denialMark struct{ session, proxy int }

func (s *session) mark() denialMark {
	s.mu.Lock()
	defer s.mu.Unlock()
	return denialMark{session: len(s.denials), proxy: len(s.proxy.Denials())}
}

// close releases the session in the background: the tab, the browser
// context (cookies, storage, cache) and the proxy go away; the context
// slot is released only afterwards, so MaxContexts bounds what is alive.
// The warm pool is refilled first, so that a call that follows at once
// gets its context as early as possible — unless a call is queued for the
// slot, which then gets the slot first, or other calls still hold
// contexts: a new context, or disposing of this one, would compete with
// their pages for the CPU, so the session is parked and the last of them
// to finish refills and cleans up.
func (s *session) close() {
	// Detach from the call's context now, while the call is still
	// running: the engine reuses that context for the instance's next
	// call, so touching it from the background cleanup is a data race.
	if s.stopAfter != nil {
		s.stopAfter()
		s.stopAfter = nil
	}
	// Stop the call's actions and its tab now; the rest can wait.
	if s.cancel != nil {
		s.cancel()
	}
	s.m.calls.Go(func() {
		if s.m.queued() {
			// A call waits for this slot: free it first, and the
			// parked ones' slots too.
			s.dispose()
			s.m.release()
			s.m.flushParked()
			s.m.refill()
			return
		}
		if s.m.park(s) {
			return
		}
		// The last call holding a context: the next call's context first,
		// then the cleanup.
		s.m.refill()
		s.m.flushParked()
		s.dispose()
		s.m.release()
	})
}

// park sets s aside, its slot still held, when other calls still hold
// contexts: disposing of a context is ~50 ms of browser work, which would
// compete with their pages. Its proxy is closed at once, so the page can
// no longer reach anything. The last call to finish disposes of the
// parked sessions (flushParked), as does a call that finds no free slot,
// and Close.
func (m *Module) park(s *session) bool {
	m.mu.Lock()
	busy := !m.closed && m.waiting == 0 && len(m.sem)-len(m.parked) > 1
	m.mu.Unlock()
	if !busy {
		return false
	}
	if s.proxy != nil {
		_ = s.proxy.Close()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.waiting > 0 || len(m.sem)-len(m.parked) <= 1 {
		return false
	}
	m.parked = append(m.parked, s)
	return true
}

// flushParked disposes of the parked sessions and frees their slots.
func (m *Module) flushParked() {
	m.mu.Lock()
	ps := m.parked
	m.parked = nil
	m.mu.Unlock()
	for _, s := range ps {
		s.dispose()
		m.release()
	}
}

// queued reports whether a call waits for a context slot.
func (m *Module) queued() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.waiting > 0
}

func (s *session) dispose() {
	if s.stopAfter != nil {
		s.stopAfter()
	}
	if s.cancel != nil {
		s.cancel()
	}
	if s.tabCancel != nil {
		s.tabCancel()
	}
	if s.bctxID != "" && s.bp.alive() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		if _, err := cdp.Call(ctx, s.bp.browser, target.DisposeBrowserContext, target.DisposeBrowserContextParams{BrowserContextID: s.bctxID}); err != nil {
			s.m.log.Debug("browser: dispose browser context", "err", err)
		}
		cancel()
	}
	if s.proxy != nil {
		_ = s.proxy.Close()
	}
}

// checkURL decides a URL the call is about to load (or a page asked to
// load): only http and https, no credentials, and a host the policy
// admits. Allows are not recorded here — the proxy records each request
// it forwards; denials are.
func checkURL(p *policy.Policy, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, p.Deny(policy.CapBrowser, clipValue(raw), "malformed URL")
	}
	scheme := strings.ToLower(u.Scheme)
	switch scheme {
	case "http", "https":
	case "":
		return nil, p.Deny(policy.CapBrowser, clipValue(raw), "URL has no scheme (use http:// or https://)")
	default:
		return nil, p.Deny(policy.CapBrowser, clipValue(raw), "scheme "+scheme+": is not allowed (only http and https)")
	}
	if u.User != nil {
		return nil, p.Deny(policy.CapBrowser, clipValue(u.Redacted()), "credentials in URLs are not allowed")
	}
	if u.Host == "" {
		return nil, p.Deny(policy.CapBrowser, clipValue(raw), "URL has no host")
	}
	def := 80
	if scheme == "https" {
		def = 443
	}
	host, port, err := splitTarget(u.Host, def)
	if err != nil {
		return nil, p.Deny(policy.CapBrowser, clipValue(raw), err.Error())
	}
	if p != nil && p.Browser.Allows(scheme, host, port) {
		return u, nil
	}
	return nil, p.CheckBrowser(scheme, host, port)
}

// clipValue keeps audit values short (a data: URL can be megabytes).
func clipValue(s string) string {
	const max = 200
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// browserError converts an error from the browser into the guest's error:
// deadline → timeout, a browser that died → unavailable.
func (m *Module) browserError(what string, bp *browserProc, err error) error {
	var ae *abi.Error
	var d *policy.Denial
	switch {
	case errors.As(err, &ae), errors.As(err, &d):
		return err
	case bp != nil && !bp.alive():
		return abi.Errorf(abi.CodeUnavailable, "browser: %s: the browser exited or disconnected during the call (it restarts on the next call): %v", what, err)
	case errors.Is(err, context.DeadlineExceeded):
		return abi.Errorf(abi.CodeTimeout, "browser: %s: call time limit reached: %v", what, err)
	case errors.Is(err, context.Canceled):
		return abi.Errorf(abi.CodeTimeout, "browser: %s: call cancelled: %v", what, err)
	}
	return fmt.Errorf("browser: %s: %w", what, err)
}
