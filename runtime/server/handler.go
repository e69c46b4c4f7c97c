package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

type ctxKey struct{}

// reqState is per-request data shared by the middleware and handlers.
type reqState struct {
	id      string
	who     *principal
	problem *Problem
}

func stateOf(r *http.Request) *reqState {
	rs, _ := r.Context().Value(ctxKey{}).(*reqState)
	return rs
}

func requestID(r *http.Request) string {
	if rs := stateOf(r); rs != nil {
		return rs.id
	}
	return newID()
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
	handle("/v1/skills/{name}/functions/{fn}", map[string]http.HandlerFunc{http.MethodPost: s.handleInvoke})
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
	rs := &reqState{id: newID()}
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, rs))
	w.Header().Set("X-Request-Id", rs.id)
	sw := &statusWriter{ResponseWriter: w}
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
	s.mux.ServeHTTP(w, r)
}

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
