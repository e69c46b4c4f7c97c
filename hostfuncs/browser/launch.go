package hostbrowser

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"

	"github.com/reefhq/reef/hostfuncs/abi"
)

// execCandidates are the browser names looked up on PATH, in order. The
// headless shell comes first: reef only ever runs Chromium headless, and
// the shell (Chromium's headless-only build, Debian's
// chromium-headless-shell, the chromedp/headless-shell image) opens no
// browser window per context. Measured back to back on 2 cores: a text()
// call 89–118 ms against 322 ms with the full browser, 40% of the CPU
// per call, half the memory (docs/benchmarks.md).
var execCandidates = []string{"chromium-headless-shell", "headless-shell", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"}

// browserProc is one running (or connected) browser.
type browserProc struct {
	ctx         context.Context // chromedp root context: done when the browser is gone
	cancel      context.CancelFunc
	allocCancel context.CancelFunc
	browser     *chromedp.Browser
	pid         int
	remote      bool
	stopOnce    sync.Once
}

// alive reports whether the browser still answers. chromedp closes
// LostConnection before a call fails with "lost the connection", but
// cancels the browser's context from another goroutine a moment later;
// checking only the context let a call that saw the connection drop
// (a browser killed just before it) take the browser for alive, and fail
// instead of restarting it.
func (bp *browserProc) alive() bool {
	if bp.ctx.Err() != nil {
		return false
	}
	if bp.browser != nil {
		select {
		case <-bp.browser.LostConnection:
			return false
		default:
		}
	}
	return true
}

// stop closes the browser (gracefully for a local one, up to 5 s) or the
// connection to a remote one, and frees its temporary profile.
func (bp *browserProc) stop() error {
	var err error
	bp.stopOnce.Do(func() {
		if bp.alive() && !bp.remote {
			tctx, cancel := context.WithTimeout(bp.ctx, 5*time.Second)
			err = chromedp.Cancel(tctx)
			cancel()
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				err = nil
			}
		}
		bp.cancel()
		bp.allocCancel()
	})
	return err
}

// browser returns the running browser, starting it (or restarting it after
// it died) if needed.
func (m *Module) browser(ctx context.Context) (*browserProc, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errClosed
	}
	if m.cur != nil && m.cur.alive() {
		return m.cur, nil
	}
	if old := m.cur; old != nil {
		m.log.Warn("browser: the browser exited or disconnected; starting a new one", "pid", old.pid)
		m.cur = nil
		go old.stop()
	}
	bp, err := m.start(ctx)
	if err != nil {
		return nil, err
	}
	m.cur = bp
	m.starts++
	return bp, nil
}

// execPath finds the browser binary.
func (m *Module) execPath() (string, error) {
	if p := m.opts.ExecPath; p != "" {
		found, err := exec.LookPath(p)
		if err != nil {
			return "", abi.Errorf(abi.CodeUnavailable, "browser: configured browser %q is not an executable file (%v): fix browser.exec_path, install Chromium (Debian/Ubuntu: apt-get install chromium-headless-shell), or set REEF_BROWSER_URL to a DevTools endpoint", p, err)
		}
		return found, nil
	}
	for _, name := range execCandidates {
		if p, err := exec.LookPath(name); err == nil {
			return unwrapLauncher(p), nil
		}
	}
	return "", abi.Errorf(abi.CodeUnavailable, "browser: no Chromium found on PATH (looked for %s): install it (Debian/Ubuntu: apt-get install chromium-headless-shell, or chromium; Alpine: apk add chromium; Fedora: dnf install chromium), set browser.exec_path, or set REEF_BROWSER_URL to a DevTools endpoint such as ws://headless-shell:9222", strings.Join(execCandidates, ", "))
}

// packagedDir is where Debian's and Alpine's chromium packages put the
// real binaries; /usr/bin/chromium and /usr/bin/chromium-headless-shell
// are shell launchers in front of them.
const packagedDir = "/usr/lib/chromium"

// unwrapLauncher returns the real browser binary when p is a
// distribution's shell launcher for it, else p. The launcher adds flags
// from /etc/chromium.d (Debian's add --enable-gpu-rasterization, which in
// a GPU-less headless browser means rasterizing through SwiftShader, and
// extension options), so a browser started through it costs more CPU per
// page, and its command line is not the one reef chose.
func unwrapLauncher(p string) string { return unwrapLauncherIn(packagedDir, p) }

func unwrapLauncherIn(dir, p string) string {
	b := make([]byte, 2)
	f, err := os.Open(p)
	if err != nil {
		return p
	}
	_, err = io.ReadFull(f, b)
	_ = f.Close()
	if err != nil || string(b) != "#!" {
		return p
	}
	// The binary of the launcher's own name, else the full browser
	// (Alpine's chromium-browser launcher runs .../chromium).
	for _, name := range []string{filepath.Base(p), "chromium"} {
		if real, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
			return real
		}
	}
	return p
}

// perfFlags are the Chromium flags that make a headless browser lean:
// no first-run work, no background networking, no browser UI that a
// headless window never shows. reef's browser and the benchmarks' plain
// chromedp baseline both use them.
func perfFlags() []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.Flag("headless", "new"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("disable-gpu", true),
		// No GPU, so no GPU rasterization either (Debian's launcher
		// turns it on; it would run on SwiftShader).
		chromedp.Flag("disable-gpu-rasterization", true),
		// /dev/shm is 64 MB in a default Docker container; Chromium
		// crashes when it fills up.
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		// WebUIOmniboxPopup and WebUIOmniboxAimPopup: every new window
		// (each call's browser context opens one) preloads two omnibox
		// popup WebUIs in a renderer process of their own, about 40% of
		// the browser's CPU time per call; a headless window never shows
		// an omnibox.
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication,InterestFeedContentSuggestions,WebUIOmniboxPopup,WebUIOmniboxAimPopup"),
		chromedp.Flag("enable-features", "NetworkServiceInProcess2"),
		chromedp.Flag("disable-hang-monitor", true),
		chromedp.Flag("disable-prompt-on-repost", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("force-color-profile", "srgb"),
	}
}

// launchFlags are the Chromium flags reef always sets: perfFlags and the
// confinement flags. fallbackAddr is the launch-wide proxy: any request
// from a context that has no per-call proxy (Chromium's own background
// traffic, or a context reef failed to confine) goes there and is
// dropped, so nothing leaves the machine unchecked.
func launchFlags(fallbackAddr string, noSandbox bool) []chromedp.ExecAllocatorOption {
	return append(perfFlags(),
		// Confinement. Every context reef creates has its own proxy; this
		// one catches everything else.
		chromedp.Flag("proxy-server", "http://"+fallbackAddr),
		chromedp.Flag("proxy-bypass-list", "<-loopback>"),
		// Chromium never needs DNS itself (the proxies resolve names), so
		// make every lookup fail: a request that somehow skipped a proxy
		// cannot reach a named host.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		// WebRTC may only use proxied TCP, never direct UDP.
		chromedp.Flag("force-webrtc-ip-handling-policy", "disable_non_proxied_udp"),
		chromedp.Flag("webrtc-ip-handling-policy", "disable_non_proxied_udp"),
		chromedp.Flag("no-sandbox", noSandbox),
	)
}

// start starts a local browser or connects to the remote one. The start
// is bounded by StartTimeout and by ctx.
func (m *Module) start(ctx context.Context) (*browserProc, error) {
	var allocCtx context.Context
	var allocCancel context.CancelFunc
	isRemote := m.opts.RemoteURL != ""
	if isRemote {
		allocCtx, allocCancel = remote.NewAllocator(context.Background(), m.opts.RemoteURL)
	} else {
		path, err := m.execPath()
		if err != nil {
			return nil, err
		}
		if m.fallback == nil {
			fb, err := newFallbackProxy(m.log)
			if err != nil {
				return nil, fmt.Errorf("browser: fallback proxy: %w", err)
			}
			m.fallback = fb
		}
		opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(path)}
		for name, v := range m.opts.ExtraFlags {
			opts = append(opts, chromedp.Flag(name, v))
		}
		opts = append(opts, launchFlags(m.fallback.addr(), *m.opts.NoSandbox)...)
		allocCtx, allocCancel = chromedp.NewExecAllocator(context.Background(), opts...)
	}
	logf := func(format string, args ...any) { m.log.Debug("chromedp: " + fmt.Sprintf(format, args...)) }
	ctxOpts := []chromedp.ContextOption{chromedp.WithLogf(logf), chromedp.WithErrorf(logf)}
	if m.cdpDebugf != nil {
		ctxOpts = append(ctxOpts, chromedp.WithDebugf(m.cdpDebugf))
	}
	rootCtx, rootCancel := chromedp.NewContext(allocCtx, ctxOpts...)

	done := make(chan error, 1)
	go func() {
		// Targets allocates the browser (starts the process or dials the
		// endpoint) without opening a tab.
		_, err := chromedp.Targets(rootCtx)
		done <- err
	}()
	t := time.NewTimer(m.opts.StartTimeout)
	defer t.Stop()
	var err error
	select {
	case err = <-done:
	case <-t.C:
		err = fmt.Errorf("no answer within %s", m.opts.StartTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		rootCancel()
		allocCancel()
		where := "start the browser"
		if isRemote {
			where = "connect to the browser at " + m.opts.RemoteURL + " (REEF_BROWSER_URL)"
		}
		return nil, abi.Errorf(abi.CodeUnavailable, "browser: could not %s: %v", where, err)
	}
	c := chromedp.FromContext(rootCtx)
	bp := &browserProc{ctx: rootCtx, cancel: rootCancel, allocCancel: allocCancel, browser: c.Browser, remote: isRemote}
	if p := c.Browser.Process(); p != nil {
		bp.pid = p.Pid
	}
	m.log.Info("browser: started", "pid", bp.pid, "remote", isRemote)
	return bp, nil
}

// fallbackProxy accepts connections and closes them at once: it is the
// launch-wide --proxy-server, a dead end for any request that is not in a
// context with its own proxy.
type fallbackProxy struct {
	ln   net.Listener
	hits atomic.Int64
	log  *slog.Logger
	wg   sync.WaitGroup
}

func newFallbackProxy(log *slog.Logger) (*fallbackProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &fallbackProxy{ln: ln, log: log}
	f.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.hits.Add(1)
			f.log.Debug("browser: dropped a connection to the fallback proxy (a request outside any call's context)")
			_ = c.Close()
		}
	})
	return f, nil
}

func (f *fallbackProxy) addr() string { return f.ln.Addr().String() }

func (f *fallbackProxy) Close() error {
	err := f.ln.Close()
	f.wg.Wait()
	return err
}
