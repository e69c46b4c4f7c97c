package hosthttp

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/runtime/policy"
)

// FetchRequest is the JSON request of reef_http_fetch.
type FetchRequest struct {
	Method  string            `json:"method,omitempty"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	// TimeoutMS lowers the module's time cap for this request.
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
	// MaxBytes lowers the module's response byte cap for this request.
	MaxBytes int64 `json:"max_bytes,omitempty"`
	// FollowRedirects defaults to true.
	FollowRedirects *bool `json:"follow_redirects,omitempty"`
}

// FetchMeta is the JSON head of a reef_http_fetch response (see README.md
// for the byte layout).
type FetchMeta struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	// URL is the final URL after redirects.
	URL string `json:"url"`
}

// outgoing is one validated request.
type outgoing struct {
	method    string
	url       *url.URL
	target    target
	header    http.Header
	templated []string
	// gzip: reef asked for a gzip-encoded answer and decodes it.
	gzip     bool
	body     []byte
	timeout  time.Duration
	maxBytes int64
	follow   bool
}

// countKey keys the per-call request counter in abi.Call.Value.
type countKey struct{}

func (m *Module) fetch(c abi.Call, req, data []byte) ([]byte, error) {
	fr, err := decodeFetchRequest(req)
	if err != nil {
		return nil, err
	}
	if fr.TimeoutMS < 0 || fr.MaxBytes < 0 {
		return nil, abi.Errorf(abi.CodeInvalid, "reef_http_fetch request: timeout_ms and max_bytes must not be negative")
	}
	follow := fr.FollowRedirects == nil || *fr.FollowRedirects
	o, err := m.prepare(fr.Method, fr.URL, fr.Headers, data, time.Duration(fr.TimeoutMS)*time.Millisecond, fr.MaxBytes, follow)
	if err != nil {
		return nil, err
	}
	resp, red, cancel, err := m.roundTrip(c, o)
	if err != nil {
		return nil, err
	}
	defer cancel()
	defer resp.Body.Close()
	decode(o, resp)

	n := bodyLen(resp)
	if n > o.maxBytes {
		return nil, limitErr(o, n)
	}
	// Head and body go into one buffer: 4-byte head length, head, body.
	// When the engine lends its kernel memory, the body is read straight
	// into it if its length is known, or else read into a pooled scratch
	// buffer and copied there once (no growing buffer, no copy into the
	// arena afterwards); the head is then built in a small buffer first.
	rb, lend := c.(abi.ResponseBuffer)
	lend = lend && n != 0
	size := 4 + 256 + max(n, 512) + 1
	if lend {
		size = 4 + 256
	}
	out := appendMeta(make([]byte, 4, size), resp.StatusCode, resp.Header, resp.Request.URL.String(), red)
	prefix := len(out)
	binary.LittleEndian.PutUint32(out, uint32(prefix-4))
	switch {
	case lend && n < 0:
		sp := scratchPool.Get().(*[]byte)
		body, err := readCapped(resp.Body, (*sp)[:0], o.maxBytes)
		if err == nil {
			if b := rb.ResponseBuffer(prefix + len(body)); b != nil {
				out = b[:copy(b, out)]
			}
			out = append(out, body...)
		}
		if cap(body) <= maxPooledScratch {
			*sp = body[:0]
			scratchPool.Put(sp)
		}
		if err != nil {
			return nil, m.mapErr(c, o, err)
		}
	default:
		if n >= 0 {
			// +1: room for the final zero-byte read that reports EOF.
			if lend {
				if b := rb.ResponseBuffer(prefix + int(n) + 1); b != nil {
					out = b[:copy(b, out)]
				}
			}
			out = slices.Grow(out, int(n)+1)
		}
		out, err = readCapped(resp.Body, out, o.maxBytes)
		if err != nil {
			return nil, m.mapErr(c, o, err)
		}
	}
	if red.active() {
		body := red.bytes(out[prefix:])
		out = append(out[:prefix], body...)
	}
	return out, nil
}

// ExtismRequest implements abi.ExtismHTTP: Extism's http_request with the
// same checks as reef_http_fetch (redirects followed).
func (m *Module) ExtismRequest(c abi.Call, req, body []byte) (int, map[string]string, []byte, error) {
	var er struct {
		URL     string            `json:"url"`
		Method  string            `json:"method"`
		Headers map[string]string `json:"headers"`
	}
	if err := json.Unmarshal(req, &er); err != nil {
		return 0, nil, nil, abi.Errorf(abi.CodeInvalid, "http_request: %v", err)
	}
	o, err := m.prepare(er.Method, er.URL, er.Headers, body, 0, 0, true)
	if err != nil {
		return 0, nil, nil, err
	}
	resp, red, cancel, err := m.roundTrip(c, o)
	if err != nil {
		return 0, nil, nil, err
	}
	defer cancel()
	defer resp.Body.Close()
	decode(o, resp)
	n := bodyLen(resp)
	if n > o.maxBytes {
		return 0, nil, nil, limitErr(o, n)
	}
	var buf []byte
	if n >= 0 {
		buf = make([]byte, 0, n+1)
	}
	buf, err = readCapped(resp.Body, buf, o.maxBytes)
	if err != nil {
		return 0, nil, nil, m.mapErr(c, o, err)
	}
	return resp.StatusCode, flattenHeaders(resp.Header, red), red.bytes(buf), nil
}

// prepare validates everything that does not depend on the policy.
func (m *Module) prepare(method, rawURL string, headers map[string]string, body []byte, timeout time.Duration, maxBytes int64, follow bool) (*outgoing, error) {
	var err error
	o := &outgoing{follow: follow, timeout: m.opts.Timeout, maxBytes: m.opts.MaxResponseBytes}
	if o.method, err = checkMethod(method); err != nil {
		return nil, err
	}
	if o.url, o.target, err = checkURL(rawURL); err != nil {
		return nil, err
	}
	if o.header, o.templated, o.gzip, err = checkHeaders(headers, o.method); err != nil {
		return nil, err
	}
	if int64(len(body)) > m.opts.MaxRequestBytes {
		return nil, abi.Errorf(abi.CodeLimit, "request body of %d bytes exceeds the %d-byte cap", len(body), m.opts.MaxRequestBytes)
	}
	o.body = body
	if timeout > 0 && timeout < o.timeout {
		o.timeout = timeout
	}
	if maxBytes > 0 && maxBytes < o.maxBytes {
		o.maxBytes = maxBytes
	}
	return o, nil
}

// count charges one request to the guest call.
func (m *Module) count(c abi.Call) error {
	n := c.Value(countKey{}, func() any { return new(atomic.Int64) }).(*atomic.Int64)
	if v := n.Add(1); v > int64(m.opts.MaxRequestsPerCall) {
		return abi.Errorf(abi.CodeLimit, "more than %d HTTP requests (redirects included) in one call", m.opts.MaxRequestsPerCall)
	}
	return nil
}

// injectSecrets sets o's templated headers on h for a request to t, each
// secret allowed by the policy for t; injected values are added to red.
func (m *Module) injectSecrets(p *policy.Policy, o *outgoing, t target, h http.Header, red *redactor) error {
	for _, k := range o.templated {
		v := o.header.Get(k)
		names, err := secretNames(v)
		if err != nil {
			return err
		}
		values := make(map[string]string, len(names))
		for _, name := range names {
			if err := p.CheckSecret(name, t.scheme, t.host.Name, t.port); err != nil {
				return err
			}
			val, ok := "", false
			if m.opts.Secrets != nil {
				val, ok = m.opts.Secrets(name)
			}
			if !ok {
				return abi.Errorf(abi.CodeUnavailable, "secret %s is granted but not configured on this reef (REEF_SECRET_%s or the secrets directory)", name, name)
			}
			if err := checkSecretValue(name, val); err != nil {
				return abi.Errorf(abi.CodeUnavailable, "%v: fix the operator's secret", err)
			}
			values[name] = val
			red.add(val)
		}
		h[k] = []string{expand(v, values)}
	}
	return nil
}

// roundTrip sends o for the call and returns the open response; the caller
// closes the body and then calls cancel.
func (m *Module) roundTrip(c abi.Call, o *outgoing) (*http.Response, *redactor, context.CancelFunc, error) {
	p := c.Policy()
	if err := m.count(c); err != nil {
		return nil, nil, nil, err
	}
	if err := p.CheckHTTP(o.method, o.target.scheme, o.target.host.Name, o.target.port); err != nil {
		return nil, nil, nil, err
	}
	ex := &exchange{c: c, p: p, o: o}
	red := &ex.red
	// o.header is this request's own map (checkHeaders made it, with the
	// User-Agent); only secret templates need a copy to fill in, since
	// redirect hops read the templates from o.header again.
	h := o.header
	if len(o.templated) > 0 {
		h = o.header.Clone()
		if err := m.injectSecrets(p, o, o.target, h, red); err != nil {
			return nil, nil, nil, err
		}
	}

	ctx, cancel := requestContext(c.Context(), ex, o.timeout)
	var body io.Reader
	if len(o.body) > 0 {
		body = bytes.NewReader(o.body)
	}
	// The URL was parsed and canonicalised by checkURL: hand the request
	// that URL rather than its string, which net/http would parse again.
	req, err := http.NewRequestWithContext(ctx, o.method, "", body)
	if err != nil {
		cancel()
		return nil, nil, nil, abi.Errorf(abi.CodeInvalid, "request: %v", err)
	}
	u := *o.url
	req.URL, req.Host = &u, u.Host
	req.Header = h

	resp, err := m.client.Do(req)
	if err != nil {
		cancel()
		return nil, nil, nil, m.mapErr(c, o, err)
	}
	return resp, red, cancel, nil
}

// exchange is one guest request with its redirects: what the guarded
// dialer and the redirect check need, carried in the request's context
// (so one http.Client serves every call).
type exchange struct {
	c   abi.Call
	p   *policy.Policy
	o   *outgoing
	red redactor
}

// exchangeKey carries the *exchange in a request's context.
type exchangeKey struct{}

// requestContext is the context of one request: it carries ex for the
// guarded dialer and the redirect check, and ends at the call's deadline
// or after timeout, whichever comes first. When the call's deadline already comes first (the
// usual case: calls time out in seconds, requests in tens of seconds) the
// call's context is used as is, which spares a timer per request.
func requestContext(parent context.Context, ex *exchange, timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx := context.WithValue(parent, exchangeKey{}, ex)
	if dl, ok := parent.Deadline(); ok && time.Until(dl) <= timeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, timeout)
}

// checkRedirect decides one redirect hop before it is sent.
func (m *Module) checkRedirect(c abi.Call, p *policy.Policy, o *outgoing, red *redactor, next *http.Request, via []*http.Request) error {
	if !o.follow {
		return http.ErrUseLastResponse
	}
	if len(via) > m.opts.MaxRedirects {
		return abi.Errorf(abi.CodeLimit, "more than %d redirects", m.opts.MaxRedirects)
	}
	if err := m.count(c); err != nil {
		return err
	}
	u, t, err := checkParsedURL(next.URL)
	if err != nil {
		var ae *abi.Error
		if errors.As(err, &ae) {
			e := *ae
			e.Message = "redirect refused: " + e.Message
			return &e
		}
		return err
	}
	next.URL, next.Host = u, ""
	if err := p.CheckHTTP(next.Method, t.scheme, t.host.Name, t.port); err != nil {
		return err
	}
	same := sameOrigin(o.target, t)
	if !same && red.contains(u.String()) {
		return p.Deny(policy.CapSecrets, "redirect to "+red.string(u.Redacted()), "redirect would carry an injected secret to another origin")
	}
	if len(o.templated) == 0 {
		return nil
	}
	if !same {
		// The client copies the first request's headers to every hop
		// (only Authorization and Cookie are stripped across domains), so
		// headers that carried a secret are removed here.
		for _, k := range o.templated {
			next.Header.Del(k)
		}
		c.Logger().Debug("redirect to another origin: secret headers dropped", "to", t.host.Name)
		return nil
	}
	return m.injectSecrets(p, o, t, next.Header, red)
}

// mapErr turns transport errors into the guest's error codes, keeping
// denials and abi errors as they are.
func (m *Module) mapErr(c abi.Call, o *outgoing, err error) error {
	var d *policy.Denial
	if errors.As(err, &d) {
		return d
	}
	var ae *abi.Error
	if errors.As(err, &ae) {
		return ae
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		if dl, ok := c.Context().Deadline(); ok && time.Until(dl) <= 0 {
			return abi.Errorf(abi.CodeTimeout, "%s %s: the call's deadline passed", o.method, o.url.Redacted())
		}
		return abi.Errorf(abi.CodeTimeout, "%s %s: no complete response within %s", o.method, o.url.Redacted(), o.timeout)
	}
	if errors.Is(err, context.Canceled) {
		return abi.Errorf(abi.CodeUnavailable, "%s %s: call cancelled", o.method, o.url.Redacted())
	}
	if errors.Is(err, errLimit) {
		return abi.Errorf(abi.CodeLimit, "%s %s: response body exceeds %d bytes", o.method, o.url.Redacted(), o.maxBytes)
	}
	c.Logger().Debug("http request failed", "url", o.url.Redacted(), "err", err)
	return abi.Errorf(abi.CodeUnavailable, "%s %s: %v", o.method, o.url.Redacted(), unwrapURLError(err))
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

var errLimit = errors.New("response body over the cap")

func limitErr(o *outgoing, n int64) error {
	return abi.Errorf(abi.CodeLimit, "%s %s: response body of %d bytes exceeds %d bytes", o.method, o.url.Redacted(), n, o.maxBytes)
}

// scratchPool holds buffers for bodies of unknown length (*[]byte);
// buffers that grew past maxPooledScratch are left to the GC, so the pool
// never pins a huge response's memory.
var scratchPool = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledScratch = 1 << 20

// readCapped appends r's bytes to dst, failing with errLimit once more
// than limit bytes were read — so a server streaming forever costs at most
// limit bytes of memory.
func readCapped(r io.Reader, dst []byte, limit int64) ([]byte, error) {
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			read := int64(len(dst) - start)
			grow := min(max(int64(len(dst)-start), 4096), limit+1-read)
			dst = slices.Grow(dst, int(max(grow, 1)))
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if int64(len(dst)-start) > limit {
			return nil, errLimit
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// bodyLen is the announced body length, -1 when unknown. A HEAD response
// announces the resource's length but has no body.
func bodyLen(resp *http.Response) int64 {
	if resp.Request != nil && resp.Request.Method == http.MethodHead {
		return 0
	}
	return resp.ContentLength
}

// decode undoes the gzip encoding reef asked for (see checkHeaders), as
// net/http's Transport does when it asked: the body is read through a
// gzip reader, so the byte caps apply to the decoded bytes and a bomb
// stops at the cap, and the head no longer announces the encoding or the
// encoded length.
func decode(o *outgoing, resp *http.Response) {
	if !o.gzip || bodyLen(resp) == 0 || !strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		return
	}
	resp.Body = &gzipBody{body: resp.Body}
	resp.Header.Del("Content-Encoding")
	resp.Header.Del("Content-Length")
	resp.ContentLength = -1
	resp.Uncompressed = true
}

// gzipBody decodes a gzip body, opening the decoder on the first read so
// that a malformed stream fails as a read of the body does.
type gzipBody struct {
	body io.ReadCloser
	zr   *gzip.Reader
	err  error
}

func (g *gzipBody) Read(p []byte) (int, error) {
	if g.zr == nil {
		if g.err == nil {
			g.zr, g.err = gzip.NewReader(g.body)
		}
		if g.err != nil {
			return 0, g.err
		}
	}
	return g.zr.Read(p)
}

func (g *gzipBody) Close() error { return g.body.Close() }

// flattenHeaders joins multi-valued headers with ", " and redacts secrets.
func flattenHeaders(h http.Header, red *redactor) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		out[k] = red.string(strings.Join(vs, ", "))
	}
	return out
}
