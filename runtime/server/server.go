package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/reefhq/reef/runtime/config"
	"github.com/reefhq/reef/runtime/metrics"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/registry"
)

// Slow-client limits. A request's headers must arrive within
// ReadHeaderTimeout and its body within ReadTimeout; a response must be
// written within WriteTimeout of the call's end (set per request, so a
// long skill call is not cut by a server-wide write deadline).
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 60 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = 64 << 10
)

// Server is reef's HTTP API. It is an http.Handler; Serve runs it on a
// listener with graceful shutdown.
type Server struct {
	reg        *registry.Registry
	cfg        *config.Config
	log        *slog.Logger
	m          *metrics.Metrics
	gatherer   prometheus.Gatherer
	audit      func(AdminAction)
	grantsFile string
	now        func() time.Time
	watch      bool
	debounce   time.Duration
	noScan     bool
	version    string

	extraTokens []extraToken
	tokens      []*token
	hosts       *hostPolicy
	pool        *pool
	settings    config.Server
	listen      string
	mux         *http.ServeMux
	metricsH    http.Handler

	ready    atomic.Bool
	draining atomic.Bool
	grantsMu sync.Mutex // serialises grants writes and reloads
}

// New builds a server. It fails on a malformed token table.
func New(opts ...Option) (*Server, error) {
	s := &Server{now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	cfg := s.cfg
	if cfg == nil {
		cfg = &config.Config{}
	}
	s.listen = cfg.Listen
	if s.listen == "" {
		s.listen = "127.0.0.1:7777"
	}
	st := cfg.Server
	workers := cfg.MaxWorkers
	if workers <= 0 {
		workers = runtime.NumCPU() * 2
	}
	if st.QueueSize <= 0 {
		st.QueueSize = workers * 16
	}
	if st.QueueTimeout <= 0 {
		st.QueueTimeout = 5e9
	}
	if st.PerSkillConcurrency <= 0 {
		st.PerSkillConcurrency = workers
	}
	if st.MaxBodyBytes <= 0 {
		st.MaxBodyBytes = 8 << 20
	}
	if st.ShutdownTimeout <= 0 {
		st.ShutdownTimeout = 30e9
	}
	s.settings = st
	toks, err := parseTokens(cfg.Auth.Tokens)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	for _, et := range s.extraTokens {
		if !matrixHas(et.role) || et.tok == "" {
			return nil, fmt.Errorf("server: token %q: want a non-empty token and a known role", et.name)
		}
		t, _ := parseTokens([]config.Token{{Name: et.name, Role: string(et.role), Hash: HashToken(et.tok)}})
		toks = append(toks, t...)
	}
	s.tokens = toks
	s.hosts = newHostPolicy(s.listen, st.AllowedHosts, st.AllowedOrigins)
	s.pool = newPool(workers, st.PerSkillConcurrency, st.QueueSize, time.Duration(st.QueueTimeout), s.m)
	if s.gatherer != nil {
		s.metricsH = promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{ErrorLog: slogPrinter{s.log}, MaxRequestsInFlight: 4})
	}
	if s.noScan || s.reg == nil {
		s.ready.Store(true)
	}
	s.routes()
	return s, nil
}

// Tokens reports how many bearer tokens are configured (0 means every
// request but the probes is refused).
func (s *Server) Tokens() int { return len(s.tokens) }

// Pool returns a snapshot of the worker pool.
func (s *Server) Pool() PoolStats { return s.pool.stats() }

// SetReady marks the server ready (or not) for /readyz.
func (s *Server) SetReady(ok bool) { s.ready.Store(ok) }

// Serve answers HTTP (or HTTPS when server.tls_cert is set) on ln until
// ctx is done, then drains: /readyz fails, new calls are refused with 503,
// the listener closes and in-flight calls get up to ShutdownTimeout to
// finish before they are canceled. It scans the registry first (the
// server is ready when the scan ends) and, with WithWatch, reloads skills
// and grants as their files change.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slogLogger(s.log),
	}
	bg, stopBG := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopBG(); wg.Wait() }()
	if s.reg != nil && !s.noScan {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			if err := s.reg.Scan(bg); err != nil {
				s.log.Warn("some skills did not load", "err", err)
			}
			st := s.reg.Stats()
			s.log.Info("skills scanned", "loaded", st.Loaded, "failed", st.Failed, "took", time.Since(start).Round(time.Millisecond))
			if bg.Err() == nil {
				s.ready.Store(true)
			}
		}()
	}
	if s.reg != nil && s.watch {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.reg.Watch(bg, registry.WatchOptions{Debounce: s.debounce, GrantsFile: s.grantsFile, OnGrants: func() {
				if _, err := s.reloadGrants(); err != nil {
					s.log.Error("grants file changed but does not load; the previous grants stay in force", "file", s.grantsFile, "err", err)
				}
			}})
			if err != nil {
				s.log.Error("skill watcher stopped", "err", err)
			}
		}()
	}

	errc := make(chan error, 1)
	go func() {
		var err error
		if s.settings.TLSCert != "" {
			err = srv.ServeTLS(ln, s.settings.TLSCert, s.settings.TLSKey)
		} else {
			err = srv.Serve(ln)
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.ready.Store(false)
	stopBG()
	timeout := time.Duration(s.settings.ShutdownTimeout)
	s.log.Info("shutting down: draining in-flight calls", "timeout", timeout, "busy", s.pool.stats().Busy)
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		s.log.Warn("drain deadline passed: canceling the calls still running", "busy", s.pool.stats().Busy)
		cancelBase()
		_ = srv.Close()
	}
	<-errc
	s.log.Info("stopped")
	return nil
}

// reloadGrants reads the grants file and installs it.
func (s *Server) reloadGrants() (*policy.Grants, error) {
	if s.grantsFile == "" || s.reg == nil {
		return nil, nil
	}
	s.grantsMu.Lock()
	defer s.grantsMu.Unlock()
	g, err := policy.LoadGrants(s.grantsFile)
	if err != nil {
		return nil, err
	}
	if errs := s.reg.SetGrants(g); len(errs) > 0 {
		return g, errors.Join(errs...)
	}
	s.log.Info("grants reloaded", "file", s.grantsFile)
	return g, nil
}

// slogPrinter adapts slog to promhttp's logger.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.l.Error(fmt.Sprint(v...)) }
