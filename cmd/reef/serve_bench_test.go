package main

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// BenchmarkServeReady measures `reef serve` from process start until
// /readyz answers 200, with the bundled skills (skills-src, built by
// `make skills`) and with an empty skill directory. The compile cache is
// warm (a first, unmeasured start fills it; lazy loading compiles nothing
// at start anyway). One op is one start; ms/op and p50-ms are the
// start-to-ready time, polled every 0.5 ms on loopback.
//
//	go test -run '^$' -bench ServeReady -benchtime 20x ./cmd/reef/
func BenchmarkServeReady(b *testing.B) {
	bin := buildReef(b)
	bundled, _ := filepath.Abs(filepath.Join("..", "..", "skills-src"))
	if m, _ := filepath.Glob(filepath.Join(bundled, "*", "*.wasm")); len(m) == 0 {
		b.Skip("no built skills in skills-src (run `make skills`)")
	}
	for _, bc := range []struct{ name, dir string }{{"bundled", bundled}, {"empty", ""}} {
		b.Run(bc.name, func(b *testing.B) {
			home := b.TempDir()
			dir := bc.dir
			if dir == "" {
				dir = filepath.Join(home, "skills")
				if err := os.MkdirAll(dir, 0o755); err != nil {
					b.Fatal(err)
				}
			}
			env := isolatedEnv(home, "SKILL_DIR="+dir, "REEF_ADMIN_TOKEN=bench-token", "REEF_LOG_LEVEL=warn")
			startReady(b, bin, env) // warm the caches
			var all []time.Duration
			b.ResetTimer()
			for range b.N {
				all = append(all, startReady(b, bin, env))
			}
			b.StopTimer()
			slices.Sort(all)
			b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(all[0].Microseconds())/1000, "min-ms")
		})
	}
}

// startReady starts reef serve on a fixed free loopback port, waits for
// /readyz, stops it with SIGTERM and returns the start-to-ready time.
func startReady(b *testing.B, bin string, env []string) time.Duration {
	b.Helper()
	addr := freeAddr(b)
	client := &http.Client{Timeout: time.Second}
	cmd := exec.Command(bin, "serve", "--listen", addr)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
		}
	}()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	for time.Since(start) < 20*time.Second {
		if resp, err := client.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Since(start)
			}
		}
		time.Sleep(500 * time.Microsecond)
	}
	b.Fatal("reef serve was not ready within 20 s")
	return 0
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
