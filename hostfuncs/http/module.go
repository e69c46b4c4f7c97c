package hosthttp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/runtime/policy"
)

// Defaults of Options.
const (
	DefaultTimeout            = 30 * time.Second
	DefaultMaxResponseBytes   = 16 << 20
	DefaultMaxRequestBytes    = 16 << 20
	DefaultMaxRequestsPerCall = 64
	DefaultMaxRedirects       = 10
	// maxResponseHeaderBytes caps response headers (the transport refuses
	// more).
	maxResponseHeaderBytes = 1 << 20
)

// Options configure the http module. Zero fields take the defaults above.
type Options struct {
	// Resolver resolves host names (nil: net.DefaultResolver).
	Resolver Resolver
	// Dialer is the base dialer; it only receives checked IP addresses
	// (nil: net.Dialer with a 30 s timeout). Tests pass netguard's.
	Dialer *net.Dialer
	// TrustedNets lets granted host names reach these private ranges (see
	// Guard.TrustedNets). Empty: names reach public addresses only.
	TrustedNets []netip.Prefix
	// TLSConfig is the client TLS configuration (nil: system roots). It
	// is cloned; tests set RootCAs for a local server.
	TLSConfig *tls.Config
	// Timeout caps one request, redirects and body included. A request's
	// timeout_ms may only lower it; the call's deadline bounds both.
	Timeout time.Duration
	// MaxResponseBytes caps a response body (after content decoding). A
	// request's max_bytes may only lower it. Exceeding it is error "limit".
	MaxResponseBytes int64
	// MaxRequestBytes caps a request body.
	MaxRequestBytes int64
	// MaxRequestsPerCall caps HTTP requests (redirect hops included) in
	// one guest call.
	MaxRequestsPerCall int
	// MaxRedirects caps redirects followed by one request.
	MaxRedirects int
	// Secrets looks up operator secrets for {{secret:NAME}} templates
	// (nil: no secrets; see EnvSecrets and FileSecrets).
	Secrets SecretSource
	// Logger logs module events (nil: discard). Per-call events go to the
	// call's logger.
	Logger *slog.Logger
}

// Module is the http capability. It is safe for concurrent use; its
// connection pool is shared by all skills (see pool note in RATIONALE.md).
type Module struct {
	opts  Options
	guard *Guard
	// transport is net/http's, for https (HTTP/2 included); plain http
	// goes through an inlineTransport in front of it (see inline.go).
	transport *http.Transport
	// client sends every request; its redirect check finds the request's
	// exchange in the context.
	client *http.Client
	log    *slog.Logger
}

// New returns the module. It does not open connections.
func New(opts Options) *Module {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if opts.MaxRequestsPerCall <= 0 {
		opts.MaxRequestsPerCall = DefaultMaxRequestsPerCall
	}
	if opts.MaxRedirects <= 0 {
		opts.MaxRedirects = DefaultMaxRedirects
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Module{opts: opts, log: log}
	m.guard = &Guard{Resolver: opts.Resolver, Dialer: opts.Dialer, TrustedNets: opts.TrustedNets, Logger: log}
	var tlsConf *tls.Config
	if opts.TLSConfig != nil {
		tlsConf = opts.TLSConfig.Clone()
	}
	m.transport = &http.Transport{
		// Never a proxy from the environment: HTTP_PROXY would send every
		// request (and injected secrets) through a host the policy never
		// saw, and would bypass the guarded dialer's address checks.
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			ex, _ := ctx.Value(exchangeKey{}).(*exchange)
			if ex == nil || ex.p == nil {
				return nil, fmt.Errorf("hosthttp: dial %s without a skill policy", addr)
			}
			return m.guard.DialContext(ctx, ex.p, policy.CapHTTP, network, addr)
		},
		TLSClientConfig:        tlsConf,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           256,
		MaxIdleConnsPerHost:    16,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
	}
	m.client = &http.Client{
		Transport: newInlineTransport(m.transport),
		CheckRedirect: func(next *http.Request, via []*http.Request) error {
			ex, _ := next.Context().Value(exchangeKey{}).(*exchange)
			if ex == nil {
				return errors.New("hosthttp: redirect outside a guest request")
			}
			return m.checkRedirect(ex.c, ex.p, ex.o, &ex.red, next, via)
		},
	}
	return m
}

// Name implements abi.Module.
func (m *Module) Name() string { return policy.CapHTTP }

// Funcs implements abi.Module.
func (m *Module) Funcs() []abi.Func {
	return []abi.Func{{Name: abi.HTTPFetch, Handler: m.fetch}}
}

// Guard returns the module's guarded dialer (the browser capability's
// filtering proxy dials through it).
func (m *Module) Guard() *Guard { return m.guard }

// Close drops idle pooled connections.
func (m *Module) Close() error {
	m.client.CloseIdleConnections()
	return nil
}

var (
	_ abi.Module     = (*Module)(nil)
	_ abi.Closer     = (*Module)(nil)
	_ abi.ExtismHTTP = (*Module)(nil)
)
