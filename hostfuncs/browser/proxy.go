package hostbrowser

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	hosthttp "github.com/reefhq/reef/hostfuncs/http"
	"github.com/reefhq/reef/runtime/policy"
)

// proxyDialTimeout bounds one upstream connect of the proxy.
const proxyDialTimeout = 15 * time.Second

// callProxy is the HTTP proxy that serves one call's browser context, and
// only it. It forwards plain http requests (absolute-form) and tunnels
// CONNECT (https, ws and wss: Chromium tunnels websockets through an HTTP
// proxy with CONNECT too), after checking the target host with the call's
// policy; every upstream connection is made by the DialFunc, which
// resolves the name itself and refuses private, loopback and metadata
// addresses unless the policy names them literally. Anything else is
// refused.
//
// It listens on 127.0.0.1 with a random port for the lifetime of the call.
// Another local process that found the port in that window could use it,
// but only toward the calling skill's granted hosts.
type callProxy struct {
	ln  net.Listener
	srv *http.Server
	// pol is the call's policy, set by bind; nil (an unbound, prewarmed
	// proxy) refuses everything.
	pol  atomic.Pointer[policy.Policy]
	dial DialFunc
	tr   *http.Transport
	rp   *httputil.ReverseProxy
	log  atomic.Pointer[slog.Logger]

	ctx    context.Context // ends at Close: stops tunnel dials
	cancel context.CancelFunc

	maxRequests int64
	requests    atomic.Int64

	mu      sync.Mutex
	denials []error
	tunnels map[net.Conn]struct{}
	closed  bool
	wg      sync.WaitGroup
}

func newCallProxy(dial DialFunc, logger *slog.Logger, maxRequests int) (*callProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("browser: proxy listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &callProxy{ln: ln, dial: dial, ctx: ctx, cancel: cancel, maxRequests: int64(maxRequests), tunnels: map[net.Conn]struct{}{}}
	p.log.Store(logger)
	p.tr = &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return p.dial(ctx, p.pol.Load(), policy.CapBrowser, network, addr)
		},
		MaxIdleConnsPerHost:    8,
		IdleConnTimeout:        30 * time.Second,
		DisableCompression:     true, // pass Chromium's Accept-Encoding and the body through untouched
		MaxResponseHeaderBytes: 1 << 20,
	}
	p.rp = &httputil.ReverseProxy{
		// The incoming request is already absolute-form; Rewrite keeps
		// its URL and adds no X-Forwarded-* headers.
		Rewrite:       func(*httputil.ProxyRequest) {},
		Transport:     p.tr,
		FlushInterval: -1,
		ErrorHandler:  p.upstreamError,
		ErrorLog:      log.New(io.Discard, "", 0),
	}
	p.srv = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	p.wg.Go(func() { _ = p.srv.Serve(ln) })
	return p, nil
}

// bind sets the call's policy and logger.
func (p *callProxy) bind(pol *policy.Policy, logger *slog.Logger) {
	p.log.Store(logger)
	p.pol.Store(pol)
}

// URL is the proxy's address for Target.createBrowserContext.
func (p *callProxy) URL() string { return "http://" + p.ln.Addr().String() }

// Close stops the proxy, its tunnels and its idle upstream connections.
func (p *callProxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.tunnels {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.cancel()
	err := p.srv.Close()
	p.tr.CloseIdleConnections()
	p.wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Denials returns the denials the proxy recorded, oldest first.
func (p *callProxy) Denials() []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]error(nil), p.denials...)
}

func (p *callProxy) noteDenial(err error) {
	p.mu.Lock()
	if len(p.denials) < 64 {
		p.denials = append(p.denials, err)
	}
	p.mu.Unlock()
}

// ServeHTTP implements http.Handler.
func (p *callProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	pol := p.pol.Load()
	if n := p.requests.Add(1); n > p.maxRequests {
		err := pol.Deny(policy.CapBrowser, r.Host, fmt.Sprintf("more than %d requests in one call", p.maxRequests))
		p.refuse(w, err)
		return
	}
	if r.Method == http.MethodConnect {
		p.connect(w, r, pol)
		return
	}
	if !r.URL.IsAbs() || r.URL.Scheme != "http" || r.URL.Host == "" {
		// Not a proxy request (https and websockets arrive as CONNECT).
		http.Error(w, "reef browser proxy: only absolute-form http requests and CONNECT are served", http.StatusBadRequest)
		return
	}
	host, port, err := splitTarget(r.URL.Host, 80)
	if err != nil {
		p.refuse(w, pol.Deny(policy.CapBrowser, r.URL.Host, err.Error()))
		return
	}
	if err := pol.CheckBrowser("http", host, port); err != nil {
		p.refuse(w, err)
		return
	}
	p.rp.ServeHTTP(w, r)
}

// connect tunnels one CONNECT request.
func (p *callProxy) connect(w http.ResponseWriter, r *http.Request, pol *policy.Policy) {
	host, port, err := splitTarget(r.Host, 0)
	if err != nil {
		p.refuse(w, pol.Deny(policy.CapBrowser, r.Host, err.Error()))
		return
	}
	if err := pol.CheckBrowser(connectScheme(pol, host, port), host, port); err != nil {
		p.refuse(w, err)
		return
	}
	dctx, cancel := context.WithTimeout(p.ctx, proxyDialTimeout)
	up, err := p.dial(dctx, pol, policy.CapBrowser, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	cancel()
	if err != nil {
		p.upstreamError(w, r, err)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		_ = up.Close()
		http.Error(w, "reef browser proxy: cannot tunnel", http.StatusInternalServerError)
		return
	}
	client, brw, err := hj.Hijack()
	if err != nil {
		_ = up.Close()
		return
	}
	if !p.track(client, up) {
		_ = client.Close()
		_ = up.Close()
		return
	}
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection Established\r\n\r\n"); err != nil {
		p.untrack(client, up)
		return
	}
	// Bytes the client sent right after the CONNECT header (a TLS
	// ClientHello) may already sit in the server's buffer.
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		if _, err := up.Write(b); err != nil {
			p.untrack(client, up)
			return
		}
	}
	p.wg.Go(func() {
		done := make(chan struct{}, 2)
		go func() { _, _ = io.Copy(up, client); done <- struct{}{} }()
		go func() { _, _ = io.Copy(client, up); done <- struct{}{} }()
		<-done
		p.untrack(client, up)
		<-done
	})
}

func (p *callProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	for _, c := range cs {
		p.tunnels[c] = struct{}{}
	}
	return true
}

func (p *callProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	for _, c := range cs {
		delete(p.tunnels, c)
	}
	p.mu.Unlock()
	for _, c := range cs {
		_ = c.Close()
	}
}

// upstreamError answers a failed upstream request or dial: a policy
// denial (the dialer refused the resolved address) is 403, anything else
// 502.
func (p *callProxy) upstreamError(w http.ResponseWriter, _ *http.Request, err error) {
	var d *policy.Denial
	if errors.As(err, &d) {
		p.refuse(w, err)
		return
	}
	p.log.Load().Debug("browser: proxy upstream error", "err", err)
	http.Error(w, "reef browser proxy: upstream unreachable", http.StatusBadGateway)
}

// refuse answers 403. For CONNECT, Chromium reports
// ERR_TUNNEL_CONNECTION_FAILED; for a plain request the page sees a 403.
func (p *callProxy) refuse(w http.ResponseWriter, err error) {
	p.noteDenial(err)
	var d *policy.Denial
	if errors.As(err, &d) {
		w.Header().Set("X-Reef-Denied", d.ID)
	}
	w.Header().Set("Connection", "close")
	http.Error(w, "reef: request refused: "+err.Error(), http.StatusForbidden)
}

// splitTarget normalises "host[:port]" the way the http capability does
// (hosthttp.ParseHost), so that the policy check and the dialer see the
// same host. defPort is used when the port is missing (0: required).
func splitTarget(hostport string, defPort int) (string, int, error) {
	host, portStr, err := net.SplitHostPort(hostport)
	port := defPort
	if err != nil {
		if defPort == 0 {
			return "", 0, fmt.Errorf("malformed proxy target %q: %v", hostport, err)
		}
		host = hostport
	} else {
		port, err = strconv.Atoi(portStr)
		if err != nil || port < 1 || port > 65535 {
			return "", 0, fmt.Errorf("invalid port in %q", hostport)
		}
	}
	h, err := hosthttp.ParseHost(host)
	if err != nil {
		return "", 0, err
	}
	return h.Name, port, nil
}

// connectScheme picks the scheme a CONNECT is decided as. A tunnel
// carries https, wss or (through an HTTP proxy) ws; the proxy cannot tell
// which, so the first of them the policy admits for host:port is used,
// and https when none is (the denial then names https).
func connectScheme(p *policy.Policy, host string, port int) string {
	if p != nil && p.Browser != nil {
		for _, s := range []string{"https", "wss", "ws"} {
			if p.Browser.Allows(s, host, port) {
				return s
			}
		}
	}
	return "https"
}
