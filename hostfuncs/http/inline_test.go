package hosthttp

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/internal/netguard"
)

// rawServer is a TCP server on 127.0.0.1 that speaks HTTP by hand, so a
// test can make it misbehave exactly (close a kept-alive connection,
// send informational answers, endless headers, bytes after a body). Each
// accepted connection is handed to serve with its index.
type rawServer struct {
	ln    net.Listener
	conns atomic.Int32
	wg    sync.WaitGroup
	mu    sync.Mutex
	open  []net.Conn
}

func newRawServer(t *testing.T, serve func(i int, c net.Conn, br *bufio.Reader)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			i := int(s.conns.Add(1)) - 1
			s.mu.Lock()
			s.open = append(s.open, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				serve(i, c, bufio.NewReader(c))
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		s.mu.Lock()
		for _, c := range s.open {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *rawServer) url() string { return "http://" + s.ln.Addr().String() }

// readReq reads one request and its body; false when the client closed
// the connection.
func readReq(br *bufio.Reader) (*http.Request, bool) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, false
	}
	_, _ = io.Copy(io.Discard, req.Body)
	return req, true
}

// answer writes a 200 response with body, kept alive.
func answer(c net.Conn, body string) {
	_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
}

// rawModule is a module and a call policy granting s.
func rawModule(t *testing.T, s *rawServer, timeout time.Duration) (*Module, abi.Call) {
	t.Helper()
	m := newTestModule(t, newStub(nil), nil)
	lit := s.url()
	return m, newCall(t, grantSpec{requested: []string{lit}, granted: []string{lit}, methods: []string{"GET", "POST"}}.policy(t, nil), timeout)
}

// TestInlineClosedIdleConnection: a server may close a kept-alive
// connection whenever it likes. A connection it closed while idle is
// noticed before use (for any method); one it closes after reading the
// next request, without an answer, is retried on a new connection only
// for a request that may be sent twice.
func TestInlineClosedIdleConnection(t *testing.T) {
	for _, method := range []string{"GET", "POST"} {
		t.Run("closed while idle/"+method, func(t *testing.T) {
			closed := make(chan struct{})
			s := newRawServer(t, func(i int, c net.Conn, br *bufio.Reader) {
				if _, ok := readReq(br); !ok {
					return
				}
				answer(c, "one"+strconv.Itoa(i))
				if i == 0 {
					_ = c.Close()
					close(closed)
					return
				}
				for {
					if _, ok := readReq(br); !ok {
						return
					}
					answer(c, "more"+strconv.Itoa(i))
				}
			})
			m, c := rawModule(t, s, 5*time.Second)
			if r, e := doFetch(c, m, FetchRequest{URL: s.url() + "/"}, nil); e != nil || string(r.body) != "one0" {
				t.Fatalf("first: %q %+v", r.body, e)
			}
			<-closed
			time.Sleep(20 * time.Millisecond) // the FIN reaches the client's socket
			r, e := doFetch(c, m, FetchRequest{URL: s.url() + "/", Method: method}, []byte("x"))
			if e != nil || string(r.body) != "one1" {
				t.Fatalf("after the server closed the idle connection: %q %+v", r.body, e)
			}
			if n := s.conns.Load(); n != 2 {
				t.Fatalf("%d connections, want 2", n)
			}
		})
	}

	for _, c := range []struct {
		method   string
		wantOK   bool
		wantSeen int32
	}{{"GET", true, 3}, {"POST", false, 2}} {
		t.Run("closed after the request/"+c.method, func(t *testing.T) {
			var seen atomic.Int32
			s := newRawServer(t, func(i int, conn net.Conn, br *bufio.Reader) {
				if _, ok := readReq(br); !ok {
					return
				}
				seen.Add(1)
				if i == 0 {
					answer(conn, "first")
					if _, ok := readReq(br); ok {
						seen.Add(1) // read, then hang up without an answer
					}
					return
				}
				answer(conn, "again")
			})
			m, call := rawModule(t, s, 5*time.Second)
			if r, e := doFetch(call, m, FetchRequest{URL: s.url() + "/"}, nil); e != nil || string(r.body) != "first" {
				t.Fatalf("first: %q %+v", r.body, e)
			}
			r, e := doFetch(call, m, FetchRequest{URL: s.url() + "/", Method: c.method}, []byte("x"))
			if c.wantOK && (e != nil || string(r.body) != "again") {
				t.Fatalf("%s after a hang-up: %q %+v, want it sent again", c.method, r.body, e)
			}
			if !c.wantOK && (e == nil || e.Code != abi.CodeUnavailable) {
				t.Fatalf("%s after a hang-up: %q %+v, want unavailable (never sent twice)", c.method, r.body, e)
			}
			if got := seen.Load(); got != c.wantSeen {
				t.Fatalf("the server saw %d requests, want %d", got, c.wantSeen)
			}
		})
	}
}

// TestInlineMisbehavingServers: answers a client must survive, each
// with the connection's fate afterwards.
func TestInlineMisbehavingServers(t *testing.T) {
	cases := []struct {
		name     string
		reply    string // written after the first request; the server then waits for more or EOF
		hangUp   bool   // close after the reply
		wantBody string
		wantCode string
		// wantConns is the server's connection count after a second,
		// well-behaved request.
		wantConns int32
	}{
		{name: "early hints before the answer", reply: "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", wantBody: "ok", wantConns: 1},
		{name: "too many informational answers", reply: strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 7) + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", wantCode: abi.CodeUnavailable, wantConns: 2},
		{name: "switching protocols unasked", reply: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", wantCode: abi.CodeUnavailable, wantConns: 2},
		{name: "body until the connection closes", reply: "HTTP/1.1 200 OK\r\n\r\nunframed", hangUp: true, wantBody: "unframed", wantConns: 2},
		{name: "connection: close", reply: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", wantBody: "ok", wantConns: 2},
		{name: "bytes after the body", reply: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nforged", wantBody: "ok", wantConns: 2},
		{name: "chunked", reply: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n3\r\n!!!\r\n0\r\n\r\n", wantBody: "ok!!!", wantConns: 1},
		{name: "malformed status line", reply: "HTTP/1.1 two hundred\r\n\r\n", wantCode: abi.CodeUnavailable, wantConns: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newRawServer(t, func(i int, c net.Conn, br *bufio.Reader) {
				for n := 0; ; n++ {
					if _, ok := readReq(br); !ok {
						return
					}
					if i == 0 && n == 0 {
						_, _ = io.WriteString(c, tc.reply)
						if tc.hangUp {
							return
						}
						continue
					}
					answer(c, "fine")
				}
			})
			m, call := rawModule(t, s, 5*time.Second)
			r, e := doFetch(call, m, FetchRequest{URL: s.url() + "/"}, nil)
			switch {
			case tc.wantCode != "" && (e == nil || e.Code != tc.wantCode):
				t.Fatalf("got %q %+v, want error %s", r.body, e, tc.wantCode)
			case tc.wantCode == "" && (e != nil || string(r.body) != tc.wantBody):
				t.Fatalf("got %q %+v, want %q", r.body, e, tc.wantBody)
			}
			if r, e := doFetch(call, m, FetchRequest{URL: s.url() + "/"}, nil); e != nil || string(r.body) != "fine" {
				t.Fatalf("the next request: %q %+v", r.body, e)
			}
			if got := s.conns.Load(); got != tc.wantConns {
				t.Fatalf("%d connections, want %d", got, tc.wantConns)
			}
		})
	}
}

// TestInlineHeaderFlood: a server that never ends its headers costs the
// host at most the header cap, then an error.
func TestInlineHeaderFlood(t *testing.T) {
	s := newRawServer(t, func(i int, c net.Conn, br *bufio.Reader) {
		if _, ok := readReq(br); !ok {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n")
		line := "X-Pad: " + strings.Repeat("a", 1000) + "\r\n"
		for range 4 << 10 { // 4 MiB of headers, four times the cap
			if _, err := io.WriteString(c, line); err != nil {
				return
			}
		}
	})
	m, call := rawModule(t, s, 10*time.Second)
	_, e := doFetch(call, m, FetchRequest{URL: s.url() + "/"}, nil)
	if e == nil || e.Code != abi.CodeUnavailable || !strings.Contains(e.Message, "headers") {
		t.Fatalf("header flood: %+v, want unavailable naming the headers", e)
	}
}

// TestInlineStallMidBody: the request's time cap ends a body that stops
// arriving, and the connection is not used again.
func TestInlineStallMidBody(t *testing.T) {
	release := make(chan struct{})
	s := newRawServer(t, func(i int, c net.Conn, br *bufio.Reader) {
		if _, ok := readReq(br); !ok {
			return
		}
		if i == 0 {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
			<-release
			return
		}
		answer(c, "fine")
	})
	t.Cleanup(func() { close(release) }) // before the server's cleanup waits
	m, call := rawModule(t, s, 10*time.Second)
	start := time.Now()
	_, e := doFetch(call, m, FetchRequest{URL: s.url() + "/", TimeoutMS: 200}, nil)
	if e == nil || e.Code != abi.CodeTimeout {
		t.Fatalf("stalled body: %+v, want timeout", e)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("the time cap took %s", el)
	}
	if r, e := doFetch(call, m, FetchRequest{URL: s.url() + "/"}, nil); e != nil || string(r.body) != "fine" {
		t.Fatalf("next request: %q %+v", r.body, e)
	}
	if n := s.conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2 (the stalled one is not reused)", n)
	}
}

// TestInlineIdleTimeout: an idle pooled connection is closed after the
// idle timeout.
func TestInlineIdleTimeout(t *testing.T) {
	gone := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateClosed {
			close(gone)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	d := guardedDialer(t)
	it := newInlineTransport(&http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 2, IdleConnTimeout: 50 * time.Millisecond, MaxResponseHeaderBytes: 1 << 20})
	resp, err := (&http.Client{Transport: it}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "ok" {
		t.Fatalf("%q %v", b, err)
	}
	_ = resp.Body.Close()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the idle connection was not closed after the idle timeout")
	}
	it.mu.Lock()
	n := len(it.idle)
	it.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d hosts still listed idle", n)
	}
}

// TestGzip: reef asks for gzip unless the skill chose an encoding (or a
// range, or HEAD), and decodes what it asked for; over https (net/http's
// transport) exactly once too.
func TestGzip(t *testing.T) {
	const text = "hello, decoded world"
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = io.WriteString(zw, text)
	_ = zw.Close()
	var sawAE atomic.Value
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawAE.Store(r.Header.Get("Accept-Encoding"))
		switch {
		case r.URL.Path == "/broken":
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = io.WriteString(w, "not gzip at all")
		case strings.Contains(r.Header.Get("Accept-Encoding"), "gzip"):
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(zipped.Bytes())
		default:
			_, _ = io.WriteString(w, text)
		}
	})
	plain := httptest.NewServer(h)
	t.Cleanup(plain.Close)
	m := newTestModule(t, newStub(nil), nil)
	lit := plain.URL
	c := newCall(t, grantSpec{requested: []string{lit}, granted: []string{lit}, methods: []string{"GET", "HEAD"}}.policy(t, nil), 10*time.Second)

	r, e := doFetch(c, m, FetchRequest{URL: lit + "/"}, nil)
	if e != nil || string(r.body) != text || r.meta.Headers["Content-Encoding"] != "" || sawAE.Load() != "gzip" {
		t.Fatalf("default: %q %+v headers %v, server saw Accept-Encoding %q", r.body, e, r.meta.Headers, sawAE.Load())
	}
	r, e = doFetch(c, m, FetchRequest{URL: lit + "/", Headers: map[string]string{"Accept-Encoding": "gzip"}}, nil)
	if e != nil || !bytes.Equal(r.body, zipped.Bytes()) || r.meta.Headers["Content-Encoding"] != "gzip" {
		t.Fatalf("skill's own Accept-Encoding: %q %+v %v, want the encoded bytes as sent", r.body, e, r.meta.Headers)
	}
	for _, fr := range []FetchRequest{
		{URL: lit + "/", Method: "HEAD"},
		{URL: lit + "/", Headers: map[string]string{"Range": "bytes=0-3"}},
	} {
		if _, e := doFetch(c, m, fr, nil); e != nil || sawAE.Load() != "" {
			t.Fatalf("%+v: %+v, server saw Accept-Encoding %q, want none", fr, e, sawAE.Load())
		}
	}
	if _, e := doFetch(c, m, FetchRequest{URL: lit + "/broken"}, nil); e == nil || e.Code != abi.CodeUnavailable {
		t.Fatalf("malformed gzip: %+v, want unavailable", e)
	}

	tlsSrv := httptest.NewUnstartedServer(h)
	tlsSrv.EnableHTTP2 = true
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	mt := newTestModule(t, newStub(nil), func(o *Options) { o.TLSConfig = tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig })
	ct := newCall(t, grantSpec{requested: []string{tlsSrv.URL}, granted: []string{tlsSrv.URL}}.policy(t, nil), 10*time.Second)
	if r, e := doFetch(ct, mt, FetchRequest{URL: tlsSrv.URL + "/"}, nil); e != nil || string(r.body) != text {
		t.Fatalf("https: %q %+v", r.body, e)
	}
}

// TestInlineConcurrent: parallel calls share the pool without a race
// (run with -race) and without opening more connections than calls in
// flight.
func TestInlineConcurrent(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.URL.Path)
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	m := newTestModule(t, newStub(nil), nil)
	lit := srv.URL
	p := grantSpec{requested: []string{lit}, granted: []string{lit}}.policy(t, nil)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan string, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				path := "/w" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
				r, e := doFetch(newCall(t, p, 10*time.Second), m, FetchRequest{URL: lit + path}, nil)
				if e != nil || string(r.body) != path {
					errs <- fmt.Sprintf("%s: %q %+v", path, r.body, e)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := conns.Load(); n > workers {
		t.Fatalf("%d connections for %d calls in flight: the pool did not reuse them", n, workers)
	}
}

// TestInlineEarlyAnswer: a server that refuses a large body before
// reading it (413) and hangs up: the skill gets the 413, not a broken
// pipe, and the connection is not reused.
func TestInlineEarlyAnswer(t *testing.T) {
	s := newRawServer(t, func(i int, c net.Conn, br *bufio.Reader) {
		if i > 0 {
			for {
				if _, ok := readReq(br); !ok {
					return
				}
				answer(c, "fine")
			}
		}
		for { // the request head only
			line, err := br.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		_, _ = io.WriteString(c, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big!")
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // reset: the client's writes fail at once
		}
	})
	m := newTestModule(t, newStub(nil), nil)
	lit := s.url()
	c := newCall(t, grantSpec{requested: []string{lit}, granted: []string{lit}, methods: []string{"POST", "GET"}}.policy(t, nil), 10*time.Second)
	r, e := doFetch(c, m, FetchRequest{URL: lit + "/upload", Method: "POST"}, bytes.Repeat([]byte("x"), 8<<20))
	if e != nil || r.meta.Status != 413 || string(r.body) != "too big!" {
		t.Fatalf("got %d %q %+v, want the server's 413", r.meta.Status, r.body, e)
	}
	if r, e := doFetch(c, m, FetchRequest{URL: lit + "/"}, nil); e != nil || string(r.body) != "fine" {
		t.Fatalf("next request: %q %+v", r.body, e)
	}
	if n := s.conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
}

// FuzzInlineResponse feeds whatever a hostile server might send to the
// inline transport: every answer ends in a response or an error, within
// the request's deadline, without a panic; a body, when there is one,
// reads to its end or fails. (Loopback only: one connection per input.)
func FuzzInlineResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	f.Add([]byte("HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\nshort"))
	f.Add([]byte("HTTP/1.0 200 OK\r\n\r\nuntil close"))
	f.Add([]byte("HTTP/1.1 301 Moved\r\nLocation: http://[::1\r\n\r\n"))
	f.Add([]byte("\x00\xff garbage"))
	d := netguard.New(f).Dialer()
	f.Fuzz(func(t *testing.T, reply []byte) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			if _, ok := readReq(bufio.NewReader(c)); ok {
				_, _ = c.Write(reply)
			}
		}()
		it := newInlineTransport(&http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Second, MaxResponseHeaderBytes: 64 << 10})
		defer it.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+ln.Addr().String()+"/", nil)
		start := time.Now()
		resp, err := it.RoundTrip(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			_ = resp.Body.Close()
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Fatalf("%q took %s", reply, el)
		}
	})
}
