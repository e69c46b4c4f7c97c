package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// reqState is per-request data shared by the middleware and handlers.
// It lives in the response writer the handlers get (one allocation per
// request: no context value, no request copy), so handlers find it with
// stateOf(w).
type reqState struct {
	id      string
	who     *principal
	problem *Problem
	// hdr backs the per-request header values (X-Request-Id,
	// Content-Length, X-Reef-Skill-Version) so setting them allocates no
	// []string.
	hdr [3]string
}

// stateOf returns the request's state; a writer that is not reef's own
// (never the case for routed handlers) gets a fresh one.
func stateOf(w http.ResponseWriter) *reqState {
	if sw, ok := w.(*statusWriter); ok {
		return &sw.rs
	}
	return &reqState{id: newID()}
}

func (s *Server) routes() {
	mux := http.NewServeMux()
	handle := func(pattern string, methods map[string]http.HandlerFunc) {
		allow := make([]string, 0, len(methods))
		for m := range methods {
			allow = append(allow, m)
		}
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			h, ok := methods[r.Method]
			if !ok && r.Method == http.MethodHead {
				h, ok = methods[http.MethodGet]
			}
			if !ok {
				w.Header().Set("Allow", strings.Join(allow, ", "))
				writeProblem(w, r, problem(http.StatusMethodNotAllowed, CodeMethod, fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path)))
				return
			}
			h(w, r)
		})
	}
	handle("/v1/skills/{name}/functions/{fn}", map[string]http.HandlerFunc{http.MethodPost: func(w http.ResponseWriter, r *http.Request) {
		s.handleInvoke(w, r, r.PathValue("name"), r.PathValue("fn"))
	}})
	handle("/v1/skills", map[string]http.HandlerFunc{http.MethodGet: s.handleList})
	handle("/v1/skills/{name}", map[string]http.HandlerFunc{http.MethodGet: s.handleInspect})
	handle("/v1/reload", map[string]http.HandlerFunc{http.MethodPost: s.handleReload})
	handle("/v1/grants", map[string]http.HandlerFunc{http.MethodGet: s.handleGrantsGet, http.MethodPut: s.handleGrantsPut})
	handle("/healthz", map[string]http.HandlerFunc{http.MethodGet: s.handleHealthz})
	handle("/readyz", map[string]http.HandlerFunc{http.MethodGet: s.handleReadyz})
	handle("/metrics", map[string]http.HandlerFunc{http.MethodGet: s.handleMetrics})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, problem(http.StatusNotFound, CodeNotFound, fmt.Sprintf("no endpoint %s", r.URL.Path)))
	})
	s.mux = mux
}

// probes answer without a token.
func isProbe(p string) bool { return p == "/healthz" || p == "/readyz" }

// ServeHTTP checks Host, Origin and the bearer token, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	sw := &statusWriter{ResponseWriter: w}
	rs := &sw.rs
	rs.id = newID()
	rs.hdr[0] = rs.id
	w.Header()["X-Request-Id"] = rs.hdr[0:1:1]
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("handler panic", "id", rs.id, "panic", v)
			if !sw.wrote {
				writeProblem(sw, r, problem(http.StatusInternalServerError, CodeInternal, "internal error"))
			}
		}
		s.logRequest(r, rs, sw.status, s.now().Sub(start))
	}()
	s.serve(sw, r, rs)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, rs *reqState) {
	if !s.hosts.hostAllowed(r.Host) {
		writeProblem(w, r, problem(http.StatusForbidden, CodeForbidden,
			fmt.Sprintf("Host %q is not a name of this server (DNS-rebinding defence); add it to server.allowed_hosts in config.yaml", r.Host)))
		return
	}
	cross, ok := s.hosts.originAllowed(r)
	if !ok {
		writeProblem(w, r, problem(http.StatusForbidden, CodeForbidden,
			fmt.Sprintf("cross-origin browser request from %q refused (CSRF defence); add the origin to server.allowed_origins in config.yaml", r.Header.Get("Origin"))))
		return
	}
	if cross {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		h.Add("Vary", "Origin")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	if !isProbe(r.URL.Path) {
		who, p := s.authenticate(r)
		if p != nil {
			writeProblem(w, r, p)
			return
		}
		rs.who = who
	}
	if name, fn, ok := invokePath(r); ok {
		// The hot path skips the mux (same match, see invokePath).
		s.handleInvoke(w, r, name, fn)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// invokePath matches POST /v1/skills/{name}/functions/{fn} exactly as
// the mux would, for the paths it is sure about: no escapes (RawPath
// empty), both segments non-empty and neither "." nor "..", no further
// slash. Anything else (unclean paths the mux redirects, escaped
// segments, other methods) goes through the mux.
func invokePath(r *http.Request) (name, fn string, ok bool) {
	if r.Method != http.MethodPost || r.URL.RawPath != "" {
		return "", "", false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/skills/")
	if !ok {
		return "", "", false
	}
	name, rest, ok = strings.Cut(rest, "/")
	if !ok || !plainSegment(name) {
		return "", "", false
	}
	fn, ok = strings.CutPrefix(rest, "functions/")
	if !ok || !plainSegment(fn) || strings.IndexByte(fn, '/') >= 0 {
		return "", "", false
	}
	return name, fn, true
}

func plainSegment(s string) bool { return s != "" && s != "." && s != ".." }

func (s *Server) logRequest(r *http.Request, rs *reqState, status int, d time.Duration) {
	level := slog.LevelDebug
	switch {
	case isProbe(r.URL.Path):
	case status >= 500:
		level = slog.LevelWarn
	case status >= 400:
		level = slog.LevelInfo
	}
	if !s.log.Enabled(r.Context(), level) {
		return // the common case: no per-request allocations
	}
	attrs := []any{"id", rs.id, "method", r.Method, "path", r.URL.Path, "status", status, "took", d, "remote", r.RemoteAddr}
	if rs.who != nil {
		attrs = append(attrs, "token", rs.who.name)
	}
	if rs.problem != nil {
		attrs = append(attrs, "code", rs.problem.Code, "detail", rs.problem.Detail)
		if rs.problem.AuditID != "" {
			attrs = append(attrs, "audit_id", rs.problem.AuditID)
		}
	}
	s.log.Log(r.Context(), level, "request", attrs...)
}

// statusWriter records the status for the access log. It forwards
// Unwrap so http.ResponseController reaches the connection.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
	rs     reqState
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
