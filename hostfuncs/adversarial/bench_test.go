package adversarial

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/reefhq/reef/runtime/engine"
)

const benchFileSize = 1 << 20

func benchFile(b *testing.B) string {
	dir := b.TempDir()
	p := filepath.Join(dir, "data", "blob.bin")
	must(b, os.Mkdir(filepath.Dir(p), 0o755))
	must(b, os.WriteFile(p, bytes.Repeat([]byte("reef"), benchFileSize/4), 0o644))
	return p
}

func benchCall(b *testing.B, pl *engine.Plugin, fn string, in []byte, want string) {
	b.Helper()
	for b.Loop() {
		out, err := pl.Call(context.Background(), fn, in)
		if err != nil || (want != "" && string(out) != want) {
			b.Fatalf("%q %v", out, err)
		}
	}
}

// BenchmarkFSRead1MiB: reading 1 MiB through a guest (reef_fs_read and
// WASI fopen/fread, including the copy into guest memory and the call
// itself) against os.ReadFile in the host.
func BenchmarkFSRead1MiB(b *testing.B) {
	p := benchFile(b)
	h := &hostDirs{data: filepath.Dir(p), ro: filepath.Dir(p)}
	pl := load(b, "hostile", "bench-fs", grantSpec{fs: h})
	b.Run("host-os.ReadFile", func(b *testing.B) {
		b.SetBytes(benchFileSize)
		for b.Loop() {
			if d, err := os.ReadFile(p); err != nil || len(d) != benchFileSize {
				b.Fatal(err)
			}
		}
	})
	b.Run("guest-reef_fs_read", func(b *testing.B) {
		b.SetBytes(benchFileSize)
		benchCall(b, pl, "bench_read", []byte("fs\n/data/blob.bin"), strconv.Itoa(benchFileSize))
	})
	b.Run("guest-wasi-fread", func(b *testing.B) {
		b.SetBytes(benchFileSize)
		benchCall(b, pl, "bench_read", []byte("wasi\n/data/blob.bin"), strconv.Itoa(benchFileSize))
	})
}

// BenchmarkHTTPFetch: one GET of a small body from a keep-alive loopback
// server through a guest (reef_http_fetch) against net/http in the host.
func BenchmarkHTTPFetch(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		_, _ = rw.Write([]byte("hello from the bench server"))
	}))
	defer srv.Close()
	pl := load(b, "hostile", "bench-http", grantSpec{hosts: []string{srv.URL}})
	b.Run("host-net/http", func(b *testing.B) {
		c := &http.Client{Timeout: 5 * time.Second}
		for b.Loop() {
			resp, err := c.Get(srv.URL + "/")
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.Run("guest-reef_http_fetch", func(b *testing.B) {
		in := capInput(1, "reef_http_fetch", fetchReq(srv.URL+"/", nil), nil)
		for b.Loop() {
			out, err := pl.Call(context.Background(), "cap", in)
			if err != nil || !bytes.HasSuffix(out, []byte("hello from the bench server")) {
				b.Fatalf("%q %v", out, err)
			}
		}
	})
}

// BenchmarkKV: set and get of a 64-byte value through a guest, 100
// operations per guest call (ns/op is per guest call of 100 operations;
// ops/s is per operation).
func BenchmarkKV(b *testing.B) {
	pl := load(b, "hostile", "bench-kv", grantSpec{kv: 1 << 20})
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
