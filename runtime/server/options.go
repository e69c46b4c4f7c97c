package server

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reefhq/reef/runtime/config"
	"github.com/reefhq/reef/runtime/metrics"
	"github.com/reefhq/reef/runtime/registry"
)

// Option configures New.
type Option func(*Server)

// WithRegistry sets the skills served (required for the /v1/skills
// endpoints; without one every skill is not found).
func WithRegistry(r *registry.Registry) Option { return func(s *Server) { s.reg = r } }

// WithConfig takes the listen address, server settings (workers, queue,
// limits, TLS, allowed hosts and origins) and the auth tokens from cfg.
// Zero fields take the defaults documented in runtime/config.
func WithConfig(cfg *config.Config) Option { return func(s *Server) { s.cfg = cfg } }

// WithLogger sets the logger (nil: discard).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithMetrics sets the series to update (nil: none) and the gatherer
// /metrics serves (nil: /metrics answers 404).
func WithMetrics(m *metrics.Metrics, g prometheus.Gatherer) Option {
	return func(s *Server) { s.m, s.gatherer = m, g }
}

// WithAudit sets where admin actions (reload, grants changes) are
// recorded; nil drops them.
func WithAudit(fn func(AdminAction)) Option { return func(s *Server) { s.audit = fn } }

// WithGrantsFile sets grants.yaml. Without it GET/PUT /v1/grants answer
// 404 and grants are never reloaded.
func WithGrantsFile(path string) Option { return func(s *Server) { s.grantsFile = path } }

// WithToken adds a bearer token given in clear (the generated admin token
// or $REEF_ADMIN_TOKEN); only its hash is kept.
func WithToken(name string, role Role, tok string) Option {
	return func(s *Server) { s.extraTokens = append(s.extraTokens, extraToken{name, role, tok}) }
}

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithWatch makes Serve watch the skill directory and grants file and
// reload on changes; debounce 0 means registry.DefaultDebounce.
func WithWatch(debounce time.Duration) Option {
	return func(s *Server) { s.watch, s.debounce = true, debounce }
}

// WithoutInitialScan skips the registry scan Serve starts with (the
// caller scanned already); the server is ready at once.
func WithoutInitialScan() Option { return func(s *Server) { s.noScan = true } }

// WithVersion sets the version reported by /healthz.
func WithVersion(v string) Option { return func(s *Server) { s.version = v } }

type extraToken struct {
	name string
	role Role
	tok  string
}

// AdminAction is one admin action for the audit log.
type AdminAction struct {
	Time time.Time `json:"time"`
	// ID is the request id (also in the response and the server log).
	ID string `json:"id"`
	// Action is "reload" or "grants.write".
	Action string `json:"action"`
	// Token is the name of the token used, Role its role.
	Token  string `json:"token"`
	Role   Role   `json:"role"`
	Remote string `json:"remote"`
	// OK reports success; Detail says what changed or why it failed.
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}
