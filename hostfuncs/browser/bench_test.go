package hostbrowser

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/hostfuncs/abi/abitest"
)

// Benchmarks run the same work through reef and through a plain chromedp
// program (its own browser with chromedp's default flags, a new tab per
// operation, no proxy, no incognito context, no checks) in the same run:
//
//	go test -run '^$' -bench . -benchtime 30x ./hostfuncs/browser/
//
// Each sub-benchmark reports p50-ms besides ns/op; BenchmarkOverhead
// interleaves both and reports the p50 ratio reef/plain.

// plainBrowser is the comparison: a chromedp-started browser.
var plainBrowser = sync.OnceValues(func() (context.Context, error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.Flag("headless", "new"), chromedp.DisableGPU)
	actx, _ := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, _ := chromedp.NewContext(actx, chromedp.WithLogf(func(string, ...any) {}), chromedp.WithErrorf(func(string, ...any) {}))
	_, err := chromedp.Targets(ctx)
	return ctx, err
})

// plainText is what a plain chromedp program does for text(): a new tab,
// navigate, read innerText, close the tab.
func plainText(root context.Context, u string) (string, error) {
	ctx, cancel := chromedp.NewContext(root)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(DefaultWidth, DefaultHeight), chromedp.Navigate(u)); err != nil {
		return "", err
	}
	return chromedp.Run(ctx, chromedp.Evaluate[string](visibleTextJS))
}

// plainTextIncognito is plainText in a new incognito browser context per
// operation: the isolation reef gives every call, without the proxy and
// the checks.
func plainTextIncognito(root context.Context, u string) (string, error) {
	ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(DefaultWidth, DefaultHeight), chromedp.Navigate(u)); err != nil {
		return "", err
	}
	return chromedp.Run(ctx, chromedp.Evaluate[string](visibleTextJS))
}

func plainScreenshot(root context.Context, u string) ([]byte, error) {
	ctx, cancel := chromedp.NewContext(root)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(DefaultWidth, DefaultHeight), chromedp.Navigate(u)); err != nil {
		return nil, err
	}
	return chromedp.Run(ctx, chromedp.CaptureScreenshot())
}

// reefOp calls one reef function.
func reefOp(b testing.TB, fn, req string) ([]byte, error) {
	p, _ := testPolicy(b, false, shared.grantA())
	c := abitest.New(context.Background(), "bench", p)
	for _, f := range shared.mod.Funcs() {
		if f.Name == fn {
			return f.Handler(c, []byte(req), nil)
		}
	}
	return nil, fmt.Errorf("no function %s", fn)
}

// timed runs op b.N times and reports the median.
func timed(b *testing.B, op func() error) {
	if err := op(); err != nil { // warm
		b.Fatal(err)
	}
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		durs = append(durs, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(p50ms(durs), "p50-ms")
}

func p50ms(d []time.Duration) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[len(s)/2].Microseconds()) / 1000
}

func BenchmarkText(b *testing.B) {
	req := `{"url":"` + shared.urlA("/hello") + `"}`
	b.Run("reef", func(b *testing.B) {
		timed(b, func() error { _, err := reefOp(b, abi.BrowserText, req); return err })
	})
	b.Run("chromedp", func(b *testing.B) {
		root, err := plainBrowser()
		if err != nil {
			b.Fatal(err)
		}
		timed(b, func() error { _, err := plainText(root, shared.urlA("/hello")); return err })
	})
	b.Run("chromedp-incognito", func(b *testing.B) {
		root, err := plainBrowser()
		if err != nil {
			b.Fatal(err)
		}
		timed(b, func() error { _, err := plainTextIncognito(root, shared.urlA("/hello")); return err })
	})
}

func BenchmarkScreenshot(b *testing.B) {
	req := `{"url":"` + shared.urlA("/hello") + `"}`
	b.Run("reef", func(b *testing.B) {
		timed(b, func() error { _, err := reefOp(b, abi.BrowserScreenshot, req); return err })
	})
	b.Run("chromedp", func(b *testing.B) {
		root, err := plainBrowser()
		if err != nil {
			b.Fatal(err)
		}
		timed(b, func() error { _, err := plainScreenshot(root, shared.urlA("/hello")); return err })
	})
}

// BenchmarkOverhead interleaves reef and plain chromedp so that both see
// the same machine load, and reports both medians and their ratio.
func BenchmarkOverhead(b *testing.B) {
	root, err := plainBrowser()
	if err != nil {
		b.Fatal(err)
	}
	u := shared.urlA("/hello")
	req := `{"url":"` + u + `"}`
	for _, tc := range []struct {
		name  string
		reef  func() error
		plain func() error
	}{
		{"text", func() error { _, err := reefOp(b, abi.BrowserText, req); return err }, func() error { _, err := plainText(root, u); return err }},
		{"screenshot", func() error { _, err := reefOp(b, abi.BrowserScreenshot, req); return err }, func() error { _, err := plainScreenshot(root, u); return err }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if err := tc.reef(); err != nil {
				b.Fatal(err)
			}
			if err := tc.plain(); err != nil {
				b.Fatal(err)
			}
			var rd, pd []time.Duration
			b.ResetTimer()
			for range b.N {
				s := time.Now()
				if err := tc.reef(); err != nil {
					b.Fatal(err)
				}
				rd = append(rd, time.Since(s))
				s = time.Now()
				if err := tc.plain(); err != nil {
					b.Fatal(err)
				}
				pd = append(pd, time.Since(s))
			}
			b.StopTimer()
			r, p := p50ms(rd), p50ms(pd)
			b.ReportMetric(r, "reef-p50-ms")
			b.ReportMetric(p, "chromedp-p50-ms")
			b.ReportMetric(r/p, "overhead-ratio")
		})
	}
}

// BenchmarkTextParallel runs text() from 4 goroutines at once (the
// default MaxContexts).
func BenchmarkTextParallel(b *testing.B) {
	req := `{"url":"` + shared.urlA("/hello") + `"}`
	if _, err := reefOp(b, abi.BrowserText, req); err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var durs []time.Duration
	b.SetParallelism(max(1, 4/runtimeProcs()))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s := time.Now()
			if _, err := reefOp(b, abi.BrowserText, req); err != nil {
				b.Error(err)
				return
			}
			d := time.Since(s)
			mu.Lock()
			durs = append(durs, d)
			mu.Unlock()
		}
	})
	b.StopTimer()
	if len(durs) > 0 {
		b.ReportMetric(p50ms(durs), "p50-ms")
	}
}

// BenchmarkColdStart measures New + first text() (browser start included)
// and reports the resident memory of reef and of the browser's process
// tree while it runs.
func BenchmarkColdStart(b *testing.B) {
	req := `{"url":"` + shared.urlA("/hello") + `"}`
	var rss, selfRSS float64
	for range b.N {
		m := New(Options{Dial: shared.mod.opts.Dial})
		p, _ := testPolicy(b, false, shared.grantA())
		c := abitest.New(context.Background(), "bench", p)
		if _, err := m.Funcs()[0].Handler(c, []byte(req), nil); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		rss = float64(treePSS(m.Stats().PID)) / (1 << 20)
		selfRSS = float64(procMem("self")) / (1 << 20)
		if err := m.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(rss, "browser-pss-MiB")
	b.ReportMetric(selfRSS, "reef-pss-MiB")
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// treePSS sums the proportional set size (shared pages split between
// the processes sharing them, so the sum is not inflated) of pid and its
// descendants, from /proc.
func treePSS(pid int) int64 {
	children := map[int][]int{}
	ents, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, e := range ents {
		b, err := os.ReadFile(e)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		me, _ := strconv.Atoi(strings.Fields(s)[0])
		children[pp] = append(children[pp], me)
	}
	var total int64
	var walk func(int)
	walk = func(p int) {
		total += procMem(strconv.Itoa(p))
		for _, c := range children[p] {
			walk(c)
		}
	}
	walk(pid)
	return total
}

// procMem returns a process's Pss (smaps_rollup).
func procMem(pid string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/smaps_rollup")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Pss:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n << 10
			}
		}
	}
	return 0
}
