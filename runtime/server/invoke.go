package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/metrics"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/registry"
	"github.com/reefhq/reef/runtime/skill"
)

// maxClosedRetries bounds how often a call is retried on a version that
// was swapped out between lookup and start (it never started, so a retry
// is safe).
const maxClosedRetries = 3

// Static header values of a successful call, shared by every response
// (net/http only reads them; Header.Add would copy, not append in place,
// since len == cap).
var (
	hdrJSON    = []string{"application/json"}
	hdrOctet   = []string{"application/octet-stream"}
	hdrNoStore = []string{"no-store"}
)

// handleInvoke runs POST /v1/skills/{name}/functions/{fn}.
func (s *Server) handleInvoke(w http.ResponseWriter, r *http.Request, name, fn string) {
	rs := stateOf(w)
	mSkill, mFn := metrics.Other, metrics.Other
	var ran time.Duration
	outcome := metrics.OutcomeError
	defer func() { s.m.Invocation(mSkill, mFn, outcome, ran) }()
	fail := func(p *Problem) {
		outcome = outcomeOf(p.Code)
		p.Skill, p.Function = name, fn
		writeProblem(w, r, p)
	}
	if s.draining.Load() {
		fail(problem(http.StatusServiceUnavailable, CodeUnavailable, "reef is shutting down"))
		return
	}
	if p := authorize(rs.who, ActionInvoke, name); p != nil {
		fail(p)
		return
	}
	input, p := s.readBody(w, r)
	if p != nil {
		fail(p)
		return
	}
	for attempt := 0; ; attempt++ {
		lease, p := s.acquire(name)
		if p != nil {
			if p.Code == CodeNotFound && !s.ready.Load() {
				// The first scan is still loading skills: say so, rather
				// than claim a skill that is about to appear does not exist.
				p = problem(http.StatusServiceUnavailable, CodeUnavailable, "reef is still loading skills; retry shortly")
			}
			fail(p)
			return
		}
		mSkill = name
		if _, ok := lease.Skill.Function(fn); ok {
			mFn = fn // declared in reef.yaml: a bounded label
		}
		if err := lease.Skill.ValidateInput(fn, input); err != nil {
			lease.Release()
			fail(inputProblem(err))
			return
		}
		release, err := s.pool.acquire(r.Context(), name)
		if err != nil {
			lease.Release()
			fail(poolProblem(err))
			return
		}
		start := s.now()
		out, err := lease.Plugin.Call(r.Context(), fn, input)
		ran = s.now().Sub(start)
		// KindOf is only asked on failure: errors.As makes its target
		// escape, an allocation per call.
		kind := engine.Kind(0)
		if err != nil {
			kind = engine.KindOf(err)
		}
		if kind != engine.KindNotFound {
			mFn = fn // it exists: a bounded label
		}
		release()
		version := lease.Skill.Version()
		lease.Release()
		if kind == engine.KindClosed && attempt < maxClosedRetries && r.Context().Err() == nil {
			continue // swapped out before it started: take the new version
		}
		if err != nil {
			fail(s.callProblem(r.Context(), err))
			return
		}
		outcome = metrics.OutcomeOK
		h := w.Header()
		if looksJSON(out) && json.Valid(out) {
			h["Content-Type"] = hdrJSON
		} else {
			h["Content-Type"] = hdrOctet
		}
		rs.hdr[1] = strconv.Itoa(len(out))
		rs.hdr[2] = version
		h["Content-Length"] = rs.hdr[1:2:2]
		h["X-Reef-Skill-Version"] = rs.hdr[2:3:3]
		h["Cache-Control"] = hdrNoStore
		// The write deadline starts now: a long call is not cut short, a
		// client that stops reading is.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(WriteTimeout))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(out)
		return
	}
}

// acquire leases the current version of a skill.
func (s *Server) acquire(name string) (*registry.Lease, *Problem) {
	if s.reg == nil {
		return nil, problem(http.StatusNotFound, CodeNotFound, fmt.Sprintf("no skill %q", name))
	}
	lease, err := s.reg.Acquire(name)
	if err != nil {
		if le, ok := errors.AsType[*registry.SkillLoadError](err); ok {
			return nil, problem(http.StatusServiceUnavailable, CodeUnavailable, fmt.Sprintf("skill %q did not load: %v", name, le.Err))
		}
		return nil, problem(http.StatusNotFound, CodeNotFound, fmt.Sprintf("no skill %q", name))
	}
	if lease.Plugin == nil {
		lease.Release()
		return nil, problem(http.StatusServiceUnavailable, CodeUnavailable, fmt.Sprintf("skill %q is listed but not loaded in an engine", name))
	}
	return lease, nil
}

// exactBodyMax is the largest declared Content-Length read into a buffer
// allocated up front. Larger (and chunked) bodies grow as bytes arrive, so
// a client cannot make reef allocate max_body per connection by sending a
// header alone.
const exactBodyMax = 64 << 10

// readBody reads a request body of at most MaxBodyBytes. A small body of
// known length (the common case) is read into one buffer of exactly that
// size: net/http's body reader already stops at Content-Length. Others are
// read through http.MaxBytesReader.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *Problem) {
	limit := int64(s.settings.MaxBodyBytes)
	if r.ContentLength > limit {
		return nil, problem(http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("request body of %d bytes is over the %s limit (server.max_body)", r.ContentLength, s.settings.MaxBodyBytes))
	}
	var b []byte
	var err error
	switch {
	case r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody:
		return []byte{}, nil
	case r.ContentLength > 0 && r.ContentLength <= exactBodyMax:
		b = make([]byte, r.ContentLength)
		var n int
		n, err = io.ReadFull(r.Body, b)
		if err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("body ended after %d of %d bytes: %w", n, r.ContentLength, err)
		}
	default:
		b, err = io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	}
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, problem(http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("request body is over the %s limit (server.max_body)", s.settings.MaxBodyBytes))
		}
		return nil, problem(http.StatusBadRequest, CodeBadRequest, "reading the request body: "+err.Error())
	}
	return b, nil
}

func inputProblem(err error) *Problem {
	var ie *skill.InputError
	switch {
	case errors.Is(err, skill.ErrUnknownFunction):
		return problem(http.StatusNotFound, CodeNotFound, err.Error())
	case errors.As(err, &ie):
		p := problem(http.StatusBadRequest, CodeBadRequest, err.Error())
		p.Pointer = ie.Pointer
		if p.Pointer == "" {
			p.Pointer = "/"
		}
		return p
	}
	return problem(http.StatusBadRequest, CodeBadRequest, err.Error())
}

func poolProblem(err error) *Problem {
	switch {
	case errors.Is(err, errQueueFull):
		return problem(http.StatusTooManyRequests, CodeOverloaded, "every worker is busy and the queue is full; retry later")
	case errors.Is(err, errQueueTimeout):
		return problem(http.StatusTooManyRequests, CodeOverloaded, "waited too long for a worker; retry later")
	}
	return problem(http.StatusServiceUnavailable, CodeUnavailable, "request canceled while waiting for a worker")
}

// callProblem maps a call error. A denial wins over the error kind it
// caused (the guest may report it as its own error, or trap).
func (s *Server) callProblem(ctx context.Context, err error) *Problem {
	var den *policy.Denial
	if errors.As(err, &den) {
		p := problem(http.StatusForbidden, CodeDenied, den.Error())
		p.AuditID, p.Capability = den.ID, den.Capability
		return p
	}
	var ce *engine.CallError
	if !errors.As(err, &ce) {
		if ctx.Err() != nil {
			return problem(http.StatusServiceUnavailable, CodeUnavailable, "call canceled: "+err.Error())
		}
		return problem(http.StatusInternalServerError, CodeInternal, err.Error())
	}
	switch ce.Kind {
	case engine.KindTimeout:
		return problem(http.StatusGatewayTimeout, CodeTimeout, err.Error())
	case engine.KindTrap:
		return problem(http.StatusInternalServerError, CodeTrap, err.Error())
	case engine.KindGuest:
		return problem(http.StatusInternalServerError, CodeGuestError, err.Error())
	case engine.KindOutput:
		return problem(http.StatusInternalServerError, CodeTooLarge, err.Error())
	case engine.KindNotFound:
		return problem(http.StatusNotFound, CodeNotFound, err.Error())
	case engine.KindInput:
		return problem(http.StatusBadRequest, CodeBadRequest, err.Error())
	case engine.KindCanceled:
		if s.draining.Load() {
			return problem(http.StatusServiceUnavailable, CodeUnavailable, "reef is shutting down: "+err.Error())
		}
		return problem(http.StatusServiceUnavailable, CodeUnavailable, err.Error())
	case engine.KindClosed, engine.KindInstance:
		return problem(http.StatusServiceUnavailable, CodeUnavailable, err.Error())
	}
	return problem(http.StatusInternalServerError, CodeInternal, err.Error())
}

func outcomeOf(code string) metrics.Outcome {
	switch code {
	case CodeGuestError:
		return metrics.OutcomeGuestError
	case CodeTrap:
		return metrics.OutcomeTrap
	case CodeTimeout:
		return metrics.OutcomeTimeout
	case CodeTooLarge:
		return metrics.OutcomeTooLarge
	case CodeDenied:
		return metrics.OutcomeDenied
	case CodeNotFound:
		return metrics.OutcomeNotFound
	case CodeBadRequest:
		return metrics.OutcomeBadRequest
	case CodeOverloaded:
		return metrics.OutcomeOverloaded
	case CodeUnavailable:
		return metrics.OutcomeUnavailable
	case CodeUnauthorized, CodeForbidden:
		return metrics.OutcomeForbidden
	}
	return metrics.OutcomeError
}

// looksJSON is a cheap first check before json.Valid: a JSON text starts
// (after whitespace) with one of {["-0123456789tfn.
func looksJSON(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{', '[', '"', '-', 't', 'f', 'n', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			return true
		}
		return false
	}
	return false
}
