package server_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	extism "github.com/extism/go-sdk"

	"github.com/reefhq/reef/runtime/skill"
)

// BenchmarkInvoke is the daemon's load generator: a trivial skill call
// (greet with input "x") over HTTP on loopback, with the load generator
// on the same cores, against three references in the same run:
//
//	engine-in-process  Plugin.Call with no HTTP at all (the HTTP overhead ratio)
//	reef-http          POST /v1/skills/greet/functions/greet (auth, RBAC, pool, metrics)
//	bare-http          a net/http handler returning a constant (the ceiling)
//	extism-pool-http   net/http in front of a pool of extism go-sdk plugins
//	                   (what one would otherwise write), no time limit
//	extism-pool-timeout-http  the same with reef's default time limit and
//	                   the request's context (what reef does per call)
//
// Each reports req/s and p50/p99 latency in microseconds.
//
//	go test -run '^$' -bench Invoke -benchtime 3s ./runtime/server/
func BenchmarkInvoke(b *testing.B) {
	input := []byte("x")
	want := "Hello, x!"

	b.Run("engine-in-process", func(b *testing.B) {
		h := startServer(b, harnessOpts{quiet: true})
		lease, err := h.Registry.Acquire("greet")
		if err != nil {
			b.Fatal(err)
		}
		defer lease.Release()
		load(b, func() error {
			out, err := lease.Plugin.Call(context.Background(), "greet", input)
			if err == nil && string(out) != want {
				b.Fatalf("output %q", out)
			}
			return err
		})
	})
	b.Run("reef-http", func(b *testing.B) {
		h := startServer(b, harnessOpts{quiet: true, cfg: func(c *configT) { c.MaxWorkers = runtime.NumCPU() * 2 }})
		httpLoad(b, h.URL+"/v1/skills/greet/functions/greet", tokInvoker, input, want)
	})
	b.Run("bare-http", func(b *testing.B) {
		url := serveHandler(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write([]byte(want))
		}))
		httpLoad(b, url, "", input, want)
	})
	// The go-sdk pool twice: as a bare pool (no timeout, context.Background:
	// nothing can stop a runaway plugin), and with what reef gives every
	// call — a time limit (reef's default, 10 s, through the manifest's
	// timeout_ms) and cancellation when the client goes away
	// (CallWithContext with the request's context).
	b.Run("extism-pool-http", func(b *testing.B) {
		extismPoolLoad(b, 0, want, input)
	})
	b.Run("extism-pool-timeout-http", func(b *testing.B) {
		extismPoolLoad(b, skill.DefaultTimeout, want, input)
	})
}

// extismPoolLoad serves greet from a pool of go-sdk plugins (one per
// worker reef would run) and loads it. With timeout > 0 each plugin has
// that manifest timeout and each call gets the request's context.
func extismPoolLoad(b *testing.B, timeout time.Duration, want string, input []byte) {
	wasm := engineFixture(b, "greet")
	n := runtime.NumCPU() * 2
	pool := make(chan *extism.Plugin, n)
	for range n {
		m := extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: wasm}}, Timeout: uint64(timeout.Milliseconds())}
		p, err := extism.NewPlugin(context.Background(), m, extism.PluginConfig{EnableWasi: true}, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close(context.Background())
		pool <- p
	}
	url := serveHandler(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, _ := io.ReadAll(r.Body)
		p := <-pool
		var (
			out []byte
			err error
		)
		if timeout > 0 {
			_, out, err = p.CallWithContext(r.Context(), "greet", in)
		} else {
			_, out, err = p.Call("greet", in)
		}
		pool <- p
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(out)
	}))
	httpLoad(b, url, "", input, want)
}

// serveHandler runs h on a loopback listener for the benchmark.
func serveHandler(b *testing.B, h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// httpLoad POSTs body to url from parallel keep-alive connections. The
// client is a minimal HTTP/1.1 one (a prebuilt request, a status line,
// headers up to Content-Length, the body), like wrk: the load generator
// shares the two cores with the servers, and net/http's client cost per
// request (≈ 40 allocations) would compress every ratio between them.
func httpLoad(b *testing.B, url, tok string, body []byte, want string) {
	hostPath := strings.TrimPrefix(url, "http://")
	host, path, _ := strings.Cut(hostPath, "/")
	req := "POST /" + path + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/octet-stream\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
	if tok != "" {
		req += "Authorization: Bearer " + tok + "\r\n"
	}
	raw := append([]byte(req+"\r\n"), body...)
	conns := make(chan *rawConn, 256)
	b.Cleanup(func() {
		close(conns)
		for c := range conns {
			_ = c.Close()
		}
	})
	load(b, func() error {
		var c *rawConn
		select {
		case c = <-conns:
		default:
			nc, err := net.Dial("tcp", host)
			if err != nil {
				return err
			}
			c = &rawConn{Conn: nc, r: bufio.NewReaderSize(nc, 4096)}
		}
		status, out, err := c.roundTrip(raw)
		if err != nil {
			_ = c.Close()
			return err
		}
		if status != 200 || string(out) != want {
			b.Fatalf("status %d: %s", status, out)
		}
		conns <- c
		return nil
	})
}

// rawConn is one keep-alive connection of httpLoad.
type rawConn struct {
	net.Conn
	r    *bufio.Reader
	body []byte
}

// roundTrip writes req and reads one response with a Content-Length.
func (c *rawConn) roundTrip(req []byte) (int, []byte, error) {
	if _, err := c.Write(req); err != nil {
		return 0, nil, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, nil, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, nil, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, err
	}
	n := -1
	for {
		h, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		if len(h) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(h, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			if n, err = strconv.Atoi(string(bytes.TrimSpace(v))); err != nil {
				return 0, nil, err
			}
		}
	}
	if n < 0 {
		return 0, nil, errors.New("response without Content-Length")
	}
	if cap(c.body) < n {
		c.body = make([]byte, n)
	}
	c.body = c.body[:n]
	if _, err := io.ReadFull(c.r, c.body); err != nil {
		return 0, nil, err
	}
	return status, c.body, nil
}

// load runs op b.N times from 8 goroutines per CPU and reports req/s and
// latency percentiles.
func load(b *testing.B, op func() error) {
	b.SetParallelism(8)
	var mu sync.Mutex
	var all []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		lat := make([]time.Duration, 0, 1024)
		for pb.Next() {
			t0 := time.Now()
			if err := op(); err != nil {
				b.Error(err)
				return
			}
			lat = append(lat, time.Since(t0))
		}
		mu.Lock()
		all = append(all, lat...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(float64(len(all)-1)*p)].Microseconds()) }
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}
