package adversarial

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/policy"
)

const benchFileSize = 1 << 20

func benchFile(b *testing.B) string {
	dir := b.TempDir()
	p := filepath.Join(dir, "data", "blob.bin")
	must(b, os.Mkdir(filepath.Dir(p), 0o755))
	must(b, os.WriteFile(p, bytes.Repeat([]byte("reef"), benchFileSize/4), 0o644))
	return p
}

// benchAudit is the recorder benchmarked skills run with: a real audit
// log, as the daemon wires it (every decision, allowed ones included, is
// queued to the log), so reef pays what it pays in production — and not
// the suite's test recorder, whose slice would grow through the run.
func benchAudit(b *testing.B) policy.Recorder {
	a, err := policy.OpenAudit(filepath.Join(b.TempDir(), "audit.log"))
	must(b, err)
	b.Cleanup(func() { _ = a.Close() })
	return a
}

func benchCall(b *testing.B, pl *engine.Plugin, fn string, in []byte, want string) {
	b.Helper()
	for b.Loop() {
		must(b, callCheck(pl, fn, in, want))
	}
}

// callCheck calls fn and checks that the output is want.
func callCheck(pl *engine.Plugin, fn string, in []byte, want string) error {
	out, err := pl.Call(context.Background(), fn, in)
	if err != nil || string(out) != want {
		return fmt.Errorf("%s: %q %v", fn, out, err)
	}
	return nil
}

// interleave times host and reef doing the same work alternately in one
// loop (the order swaps every iteration), so load from other processes on
// a shared machine falls on both alike. It reports each side's median
// time per operation (a median, because a shared machine adds outliers
// that a mean would charge to whichever side they hit) and reef's median
// over the host's; ns/op is the pair.
func interleave(b *testing.B, host, reef func() error) {
	b.Helper()
	var th, tr []time.Duration
	n := 0
	for b.Loop() {
		for k := range 2 {
			t0 := time.Now()
			if (n+k)%2 == 0 {
				must(b, host())
				th = append(th, time.Since(t0))
			} else {
				must(b, reef())
				tr = append(tr, time.Since(t0))
			}
		}
		n++
	}
	mh, mr := median(th), median(tr)
	b.ReportMetric(float64(mh.Nanoseconds())/1e3, "host-µs/op")
	b.ReportMetric(float64(mr.Nanoseconds())/1e3, "reef-µs/op")
	b.ReportMetric(float64(mr)/float64(mh), "reef/host")
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// hostReadFile is the baseline: os.ReadFile of the file (a fresh
// buffer per read, as the Go standard library does it).
func hostReadFile(p string) func() error {
	return func() error {
		d, err := os.ReadFile(p)
		if err == nil && len(d) != benchFileSize {
			err = fmt.Errorf("read %d bytes", len(d))
		}
		return err
	}
}

// hostReadReused is the best the host can do: open, one pread into a
// buffer kept across reads, close.
func hostReadReused(p string) func() error {
	buf := make([]byte, benchFileSize)
	return func() error {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		k, err := f.ReadAt(buf, 0)
		if k != benchFileSize {
			return fmt.Errorf("read %d bytes: %v", k, err)
		}
		return nil
	}
}

// BenchmarkFSRead1MiB: reading 1 MiB through a guest (reef_fs_read and
// WASI fopen/fread, including the copy into guest memory and the call
// itself) against the host reading the same file.
func BenchmarkFSRead1MiB(b *testing.B) {
	p := benchFile(b)
	h := &hostDirs{data: filepath.Dir(p), ro: filepath.Dir(p)}
	pl := load(b, "hostile", "bench-fs", grantSpec{fs: h, rec: benchAudit(b)})
	fsIn, wasiIn := []byte("fs\n/data/blob.bin"), []byte("wasi\n/data/blob.bin")
	want := strconv.Itoa(benchFileSize)
	b.Run("host-os.ReadFile", func(b *testing.B) {
		b.SetBytes(benchFileSize)
		read := hostReadFile(p)
		for b.Loop() {
			must(b, read())
		}
	})
	b.Run("host-pread-reused-buffer", func(b *testing.B) {
		b.SetBytes(benchFileSize)
		read := hostReadReused(p)
		for b.Loop() {
			must(b, read())
		}
	})
	b.Run("guest-reef_fs_read", func(b *testing.B) {
		b.SetBytes(benchFileSize)
		benchCall(b, pl, "bench_read", fsIn, want)
	})
	b.Run("guest-wasi-fread", func(b *testing.B) {
		b.SetBytes(benchFileSize)
		benchCall(b, pl, "bench_read", wasiIn, want)
	})
	reefRead := func() error { return callCheck(pl, "bench_read", fsIn, want) }
	wasiRead := func() error { return callCheck(pl, "bench_read", wasiIn, want) }
	b.Run("interleaved/reef_fs_read-vs-os.ReadFile", func(b *testing.B) {
		interleave(b, hostReadFile(p), reefRead)
	})
	b.Run("interleaved/reef_fs_read-vs-pread-reused-buffer", func(b *testing.B) {
		interleave(b, hostReadReused(p), reefRead)
	})
	b.Run("interleaved/wasi-fread-vs-os.ReadFile", func(b *testing.B) {
		interleave(b, hostReadFile(p), wasiRead)
	})
}

// BenchmarkHTTPFetch: one GET from a keep-alive loopback server through a
// guest (reef_http_fetch: request JSON in, response head + body back into
// guest memory) against net/http in the host (http.Client with its own
// keep-alive Transport, body read into memory with io.ReadAll), same
// server, same run.
//
// Two guests: "interleaved" runs the suite's generic harness ("cap":
// parses a framed input, mallocs, grows its output buffer, formats a
// count with snprintf — work any capability call through it pays), and
// "interleaved-lean" runs bench_fetch, which does what a fetching skill
// must (request in, one fetch, response out) and nothing else, the way
// BenchmarkFSRead1MiB's bench_read measures a read. The lean rows are the
// fetch's overhead; the difference between the two is the harness.
func BenchmarkHTTPFetch(b *testing.B) {
	const small = "hello from the bench server"
	big := bytes.Repeat([]byte("r"), 64<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/64k" {
			_, _ = rw.Write(big)
			return
		}
		_, _ = rw.Write([]byte(small))
	}))
	defer srv.Close()
	pl := load(b, "hostile", "bench-http", grantSpec{hosts: []string{srv.URL}, rec: benchAudit(b)})
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	for _, c := range []struct {
		name, path string
		want       []byte
	}{{"27B", "/", []byte(small)}, {"64KiB", "/64k", big}} {
		host := func() error {
			resp, err := client.Get(srv.URL + c.path)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil || !bytes.Equal(body, c.want) {
				return fmt.Errorf("net/http: %d bytes, %v", len(body), err)
			}
			return nil
		}
		in := capInput(1, "reef_http_fetch", fetchReq(srv.URL+c.path, nil), nil)
		reef := func() error {
			out, err := pl.Call(context.Background(), "cap", in)
			if err != nil || !bytes.HasSuffix(out, c.want) {
				return fmt.Errorf("reef: %.200q %v", out, err)
			}
			return nil
		}
		b.Run(c.name+"/host-net-http", func(b *testing.B) {
			for b.Loop() {
				must(b, host())
			}
		})
		b.Run(c.name+"/guest-reef_http_fetch", func(b *testing.B) {
			for b.Loop() {
				must(b, reef())
			}
		})
		b.Run(c.name+"/interleaved", func(b *testing.B) { interleave(b, host, reef) })
		lean := []byte(fetchReq(srv.URL+c.path, nil))
		reefLean := func() error {
			out, err := pl.Call(context.Background(), "bench_fetch", lean)
			if err != nil || !bytes.HasSuffix(out, c.want) {
				return fmt.Errorf("reef: %.200q %v", out, err)
			}
			return nil
		}
		b.Run(c.name+"/interleaved-lean", func(b *testing.B) { interleave(b, host, reefLean) })
	}
}

// BenchmarkKV: set and get of a 64-byte value through a guest, 100
// operations per guest call (ns/op is per guest call of 100 operations;
// ops/s is per operation).
func BenchmarkKV(b *testing.B) {
	pl := load(b, "hostile", "bench-kv", grantSpec{kv: 1 << 20, rec: benchAudit(b)})
	const per = 100
	val := bytes.Repeat([]byte("v"), 64)
	for _, c := range []struct {
		name, fn string
		data     []byte
	}{{"set", "reef_kv_set", val}, {"get", "reef_kv_get", nil}} {
		b.Run(c.name, func(b *testing.B) {
			in := capInput(per, c.fn, `{"key":"bench"}`, c.data)
			var ops int
			start := time.Now()
			for b.Loop() {
				out, err := pl.Call(context.Background(), "cap", in)
				if err != nil || !bytes.HasPrefix(out, []byte("100\nO")) {
					b.Fatalf("%q %v", out, err)
				}
				ops += per
			}
			b.ReportMetric(float64(ops)/time.Since(start).Seconds(), "ops/s")
		})
	}
}
