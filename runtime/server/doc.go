// Package server is reef's daemon: the HTTP API under /v1 (invoke, list,
// inspect, reload, grants), the probes /healthz and /readyz, and /metrics,
// in front of an injected registry.Registry.
//
// # Security
//
// Every endpoint except the two probes needs a bearer token, also on
// loopback. Tokens are stored as SHA-256 hashes (config.yaml auth.tokens)
// and compared in constant time; each maps to a role (admin, operator,
// invoker, viewer) and, for invokers and viewers, skill name patterns. An
// unknown or missing token is 401 with WWW-Authenticate; a known token
// that may not do something is 403. The Host header must name this
// server (DNS-rebinding defence) and a browser's Origin must be this
// server or listed in server.allowed_origins (CSRF defence).
//
// # Backpressure
//
// At most MaxWorkers calls run at once and at most PerSkillConcurrency of
// one skill. A call first takes a slot of its own skill, then a global
// worker, so a runaway skill holds at most its own limit of workers and
// its queued callers never hold a global worker. Waiting calls are
// bounded (QueueSize in all, half of it for one skill); a call that finds
// no queue room is refused at once with 429 and Retry-After, one that
// waits longer than QueueTimeout too. See pool.go.
//
// # Errors
//
// Errors are RFC 7807 problem documents (application/problem+json) with a
// stable code (see the Code… constants) and an id that appears in the
// server log; a capability denial also carries the audit id of its audit
// log line.
package server
