package server_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	extism "github.com/extism/go-sdk"
)

// BenchmarkInvoke is the daemon's load generator: a trivial skill call
// (greet with input "x") over HTTP on loopback, with the load generator
// on the same cores, against three references in the same run:
//
//	engine-in-process  Plugin.Call with no HTTP at all (the HTTP overhead ratio)
//	reef-http          POST /v1/skills/greet/functions/greet (auth, RBAC, pool, metrics)
//	bare-http          a net/http handler returning a constant (the ceiling)
//	extism-pool-http   net/http in front of a pool of extism go-sdk plugins
//	                   (what one would otherwise write)
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
	b.Run("extism-pool-http", func(b *testing.B) {
		wasm := engineFixture(b, "greet")
		n := runtime.NumCPU() * 2
		pool := make(chan *extism.Plugin, n)
		for range n {
			p, err := extism.NewPlugin(context.Background(), extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: wasm}}}, extism.PluginConfig{EnableWasi: true}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close(context.Background())
			pool <- p
		}
		url := serveHandler(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			in, _ := io.ReadAll(r.Body)
			p := <-pool
			_, out, err := p.Call("greet", in)
			pool <- p
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(out)
		}))
		httpLoad(b, url, "", input, want)
	})
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

// httpLoad POSTs body to url from parallel keep-alive clients.
func httpLoad(b *testing.B, url, tok string, body []byte, want string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	load(b, func() error {
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		out, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(out) != want {
			b.Fatalf("status %d: %s", resp.StatusCode, out)
		}
		return err
	})
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
