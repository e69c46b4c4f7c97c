package hosthttp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// inlineTransport sends plain-http requests on the calling goroutine:
// it writes the request with net/http's own Request.Write, reads the
// answer with http.ReadResponse, and keeps idle connections per host:port.
// Every other scheme goes to next (net/http's Transport, with HTTP/2).
//
// Why not net/http's Transport for http too: it hands each request to a
// write goroutine and each response over from a read goroutine, and on
// a small machine those two handoffs are most of a loopback or LAN round
// trip (measured: a 27-byte GET through a guest, 1.22× net/http with its
// Transport, 0.99–1.02× with this one; docs/benchmarks.md). What this
// transport does not do, because reef never needs it: proxies (reef
// refuses them), HTTP/2 over cleartext, protocol upgrades, Expect:
// 100-continue (a skill may not send Expect) and automatic decompression
// (fetch decodes gzip itself, for both transports).
//
// Connections come from dial (the module's guarded dialer), so the pool
// holds only connections opened to checked addresses, keyed as
// net/http's pool is (see RATIONALE.md on the shared pool).
type inlineTransport struct {
	next           http.RoundTripper
	dial           func(ctx context.Context, network, addr string) (net.Conn, error)
	maxIdlePerHost int
	maxIdle        int
	idleTimeout    time.Duration
	maxHeaderBytes int64

	mu    sync.Mutex
	idle  map[string][]*inlineConn // host:port -> idle connections, newest last
	nIdle int
}

func newInlineTransport(next *http.Transport) *inlineTransport {
	return &inlineTransport{
		next:           next,
		dial:           next.DialContext,
		maxIdlePerHost: next.MaxIdleConnsPerHost,
		maxIdle:        next.MaxIdleConns,
		idleTimeout:    next.IdleConnTimeout,
		maxHeaderBytes: next.MaxResponseHeaderBytes,
		idle:           map[string][]*inlineConn{},
	}
}

// inlineConn is one connection with its buffers.
type inlineConn struct {
	t   *inlineTransport
	key string
	nc  net.Conn
	lr  limitedReader // caps header bytes (see readHead)
	br  *bufio.Reader
	bw  *bufio.Writer
	// idleTimer closes the connection once it has been idle for the
	// transport's idle timeout; it is stopped when the connection is
	// taken again.
	idleTimer *time.Timer
	reused    bool
}

// limitedReader fails a read once more than n bytes were read through it.
type limitedReader struct {
	r io.Reader
	n int64
}

var errHeaderTooLarge = errors.New("response headers too large")

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	k, err := l.r.Read(p)
	l.n -= int64(k)
	return k, err
}

const unlimited = 1<<63 - 1

// maxInformational caps the 1xx responses before the real one.
const maxInformational = 5

// earlyAnswerWait bounds the wait for an answer a server sent before it
// stopped reading the request (it is already in the socket, or never
// comes).
const earlyAnswerWait = 100 * time.Millisecond

// RoundTrip implements http.RoundTripper.
func (t *inlineTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		return t.next.RoundTrip(req)
	}
	key := req.URL.Host
	if req.URL.Port() == "" {
		key = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	for {
		ic, err := t.conn(req.Context(), key)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, err := ic.roundTrip(req)
		if err == nil {
			return resp, nil
		}
		// A pooled connection the server closed just before this request
		// fails before any answer; a request that may be sent twice is
		// sent again on a new connection, as net/http does.
		var rb retryable
		if !errors.As(err, &rb) || !ic.reused || !replayable(req) || req.Context().Err() != nil {
			closeBody(req)
			return nil, err
		}
		if req.Body != nil && req.Body != http.NoBody {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			again := *req // the caller's request is not changed
			again.Body = body
			req = &again
		}
	}
}

// retryable marks an error of a reused connection before any response
// byte arrived.
type retryable struct{ err error }

func (r retryable) Error() string { return r.err.Error() }
func (r retryable) Unwrap() error { return r.err }

// replayable is net/http's rule for sending a request again.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return req.Header.Get("Idempotency-Key") != "" || req.Header.Get("X-Idempotency-Key") != ""
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// conn returns an idle connection to key that is still open, or a new one.
func (t *inlineTransport) conn(ctx context.Context, key string) (*inlineConn, error) {
	for {
		t.mu.Lock()
		var ic *inlineConn
		if l := t.idle[key]; len(l) > 0 {
			ic = l[len(l)-1]
			l[len(l)-1] = nil
			t.idle[key] = l[:len(l)-1]
			t.nIdle--
		}
		t.mu.Unlock()
		if ic == nil {
			break
		}
		if !ic.idleTimer.Stop() {
			continue // the idle timer is closing it
		}
		if ic.open() {
			ic.reused = true
			return ic, nil
		}
		_ = ic.nc.Close()
	}
	nc, err := t.dial(ctx, "tcp", key)
	if err != nil {
		return nil, err
	}
	ic := &inlineConn{t: t, key: key, nc: nc}
	ic.lr.r = nc
	ic.lr.n = unlimited
	ic.br = bufio.NewReader(&ic.lr)
	ic.bw = bufio.NewWriter(nc)
	return ic, nil
}

// open reports whether an idle connection can carry a request: the
// server has not closed it, and has sent nothing while it was idle (a
// server may only speak when asked). net/http's Transport learns this
// from the read goroutine it keeps on every connection; here it costs
// one non-blocking peek at the socket (quiet reports false when it
// cannot tell, and then only the retry of replayable requests helps).
func (ic *inlineConn) open() bool {
	return ic.br.Buffered() == 0 && quiet(ic.nc)
}

// roundTrip sends req on ic and reads the response head. The body reads
// from ic; the connection goes back to the pool when it is read to the
// end, and is closed if it is closed early or fails.
func (ic *inlineConn) roundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	// Cancellation and the deadline interrupt blocked reads and writes by
	// moving the connection's deadline to the past.
	stop := context.AfterFunc(ctx, func() { _ = ic.nc.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*http.Response, error) {
		stop()
		_ = ic.nc.Close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%w (%v)", ctxErr, err)
		}
		return nil, err
	}
	werr := req.Write(ic.bw)
	if werr == nil {
		werr = ic.bw.Flush()
	}
	if werr != nil {
		// A server may answer before it has read the whole body (413,
		// 401) and close: its answer, if it sent one, is what the caller
		// gets, as with net/http; the connection is not used again.
		if ctx.Err() == nil {
			_ = ic.nc.SetReadDeadline(time.Now().Add(earlyAnswerWait))
			if resp, err := ic.readHead(req); err == nil {
				_ = ic.nc.SetReadDeadline(time.Time{})
				resp.Body = &inlineBody{ic: ic, ctx: ctx, body: resp.Body, stop: stop}
				return resp, nil
			}
		}
		return fail(retryable{werr})
	}
	resp, err := ic.readHead(req)
	if err != nil {
		return fail(err)
	}
	resp.Body = &inlineBody{ic: ic, ctx: ctx, body: resp.Body, stop: stop, keep: !resp.Close && !req.Close}
	return resp, nil
}

// readHead reads the response head, skipping up to maxInformational 1xx
// answers, each head capped at the transport's header limit. An error
// before a single byte of an answer arrived (the server closed a pooled
// connection as the request went out) is retryable.
func (ic *inlineConn) readHead(req *http.Request) (*http.Response, error) {
	defer func() { ic.lr.n = unlimited }()
	for i := 0; ; i++ {
		ic.lr.n = ic.t.maxHeaderBytes
		resp, err := http.ReadResponse(ic.br, req)
		if err != nil {
			if errors.Is(err, errHeaderTooLarge) {
				return nil, fmt.Errorf("server response headers exceeded %d bytes", ic.t.maxHeaderBytes)
			}
			silent := i == 0 && ic.lr.n == ic.t.maxHeaderBytes && ic.br.Buffered() == 0
			if silent && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
				return nil, retryable{err}
			}
			return nil, err
		}
		if resp.StatusCode < 100 || resp.StatusCode > 199 {
			return resp, nil
		}
		if resp.StatusCode == http.StatusSwitchingProtocols || i == maxInformational {
			return nil, fmt.Errorf("unexpected informational response %s", resp.Status)
		}
	}
}

// inlineBody is a response body on an inline connection.
type inlineBody struct {
	ic   *inlineConn
	ctx  context.Context
	body io.ReadCloser
	stop func() bool
	keep bool
	done bool
}

func (b *inlineBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	k, err := b.body.Read(p)
	switch {
	case err == io.EOF:
		b.finish(true)
	case err != nil:
		b.finish(false)
		if ctxErr := b.ctx.Err(); ctxErr != nil {
			// The read failed because the request was cancelled or its
			// deadline passed (see roundTrip): say so, as net/http does.
			err = fmt.Errorf("%w (%v)", ctxErr, err)
		}
	}
	return k, err
}

// Close closes the body; a body not read to its end takes its
// connection with it (one without a body keeps it).
func (b *inlineBody) Close() error {
	b.finish(b.body == http.NoBody)
	return nil
}

// finish gives the connection back to the pool when the body was read to
// its end and the connection may carry another request, else closes it.
func (b *inlineBody) finish(eof bool) {
	if b.done {
		return
	}
	b.done = true
	// stop is false when the context's AfterFunc already ran (or runs):
	// the connection's deadline is then in the past.
	if b.stop() && eof && b.keep {
		b.ic.t.put(b.ic)
		return
	}
	_ = b.ic.nc.Close()
}

// put returns an idle connection to the pool, or closes it when the
// host's idle list is full.
func (t *inlineTransport) put(ic *inlineConn) {
	t.mu.Lock()
	l := t.idle[ic.key]
	if len(l) >= t.maxIdlePerHost || t.maxIdle > 0 && t.nIdle >= t.maxIdle {
		t.mu.Unlock()
		_ = ic.nc.Close()
		return
	}
	t.idle[ic.key] = append(l, ic)
	t.nIdle++
	if ic.idleTimer == nil {
		ic.idleTimer = time.AfterFunc(t.idleTimeout, func() { t.expire(ic) })
	} else {
		ic.idleTimer.Reset(t.idleTimeout)
	}
	t.mu.Unlock()
}

// expire closes a connection that stayed idle for the idle timeout.
func (t *inlineTransport) expire(ic *inlineConn) {
	t.mu.Lock()
	l := t.idle[ic.key]
	for i, c := range l {
		if c == ic {
			t.idle[ic.key] = append(l[:i], l[i+1:]...)
			t.nIdle--
			break
		}
	}
	if len(t.idle[ic.key]) == 0 {
		delete(t.idle, ic.key)
	}
	t.mu.Unlock()
	_ = ic.nc.Close()
}

// CloseIdleConnections closes the idle connections of both transports.
func (t *inlineTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[string][]*inlineConn{}
	t.nIdle = 0
	t.mu.Unlock()
	for _, l := range idle {
		for _, ic := range l {
			if ic.idleTimer.Stop() {
				_ = ic.nc.Close()
			}
		}
	}
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
