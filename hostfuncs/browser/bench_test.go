package hostbrowser

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/hostfuncs/abi/abitest"
)

// Benchmarks run the same work through reef and through a plain chromedp
// program in the same run. The plain program drives its own browser: the
// same binary as reef, the same performance flags (perfFlags), no
// per-call proxy, no Fetch interception, no checks; its proxy flag points
// at a dead end with Chromium's default bypass, so loopback pages load
// directly and nothing else can leave the machine. Three plain variants:
//
//   - tab: one tab, reused by every operation (the floor: navigate and
//     read, nothing created per operation);
//   - newtab: a new tab per operation in the default browser context;
//   - incognito: a new incognito browser context and tab per operation,
//     the isolation reef gives every call.
//
//	go test -run '^$' -bench . -benchtime 20x -count 3 ./hostfuncs/browser/
//
// Sub-benchmarks report p50-ms besides ns/op; BenchmarkOverhead
// interleaves reef and the plain variants and also reports the CPU time
// each operation costs (browser processes and Go process together).

// plainEnv is the comparison: a chromedp-started browser with reef's
// performance flags, and one tab kept open for the "tab" variant.
type plainEnv struct {
	root context.Context // the browser
	tab  context.Context // the shared tab
	pid  int
	dead *fallbackProxy
}

var plainBrowser = sync.OnceValues(func() (*plainEnv, error) { return newPlain(nil) })

// newPlain starts a plain browser; debugf, if set, gets every CDP message.
func newPlain(debugf func(string, ...any)) (*plainEnv, error) {
	path, err := New(Options{}).execPath()
	if err != nil {
		return nil, err
	}
	dead, err := newFallbackProxy(slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	opts := append([]chromedp.ExecAllocatorOption{chromedp.ExecPath(path)}, perfFlags()...)
	opts = append(opts,
		chromedp.Flag("proxy-server", "http://"+dead.addr()),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.Flag("no-sandbox", os.Geteuid() == 0))
	actx, _ := chromedp.NewExecAllocator(context.Background(), opts...)
	quiet := func(string, ...any) {}
	copts := []chromedp.ContextOption{chromedp.WithLogf(quiet), chromedp.WithErrorf(quiet)}
	if debugf != nil {
		copts = append(copts, chromedp.WithDebugf(debugf))
	}
	root, _ := chromedp.NewContext(actx, copts...)
	if _, err := chromedp.Targets(root); err != nil {
		return nil, err
	}
	tab, _ := chromedp.NewContext(root)
	if err := chromedp.Do(tab, chromedp.EmulateViewport(DefaultWidth, DefaultHeight)); err != nil {
		return nil, err
	}
	pe := &plainEnv{root: root, tab: tab, dead: dead}
	if p := chromedp.FromContext(root).Browser.Process(); p != nil {
		pe.pid = p.Pid
	}
	return pe, nil
}

// stop closes the browser.
func (pe *plainEnv) stop() {
	_ = chromedp.Cancel(pe.root)
	_ = pe.dead.Close()
}

// plainVariant names how a plain operation gets its tab.
type plainVariant int

const (
	plainTab plainVariant = iota
	plainNewTab
	plainIncognito
)

func (v plainVariant) String() string { return [...]string{"tab", "newtab", "incognito"}[v] }

// plainPage runs do in a tab of the given variant, after loading u.
func plainPage[T any](pe *plainEnv, v plainVariant, u string, do chromedp.Action[T]) (T, error) {
	ctx := pe.tab
	if v != plainTab {
		var opts []chromedp.ContextOption
		if v == plainIncognito {
			opts = append(opts, chromedp.WithNewBrowserContext())
		}
		var cancel context.CancelFunc
		ctx, cancel = chromedp.NewContext(pe.root, opts...)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(DefaultWidth, DefaultHeight)); err != nil {
			var zero T
			return zero, err
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
		var zero T
		return zero, err
	}
	return chromedp.Run(ctx, do)
}

func plainText(pe *plainEnv, v plainVariant, u string) (string, error) {
	return plainPage(pe, v, u, chromedp.Evaluate[string](visibleTextJS))
}

func plainScreenshot(pe *plainEnv, v plainVariant, u string) ([]byte, error) {
	return plainPage(pe, v, u, chromedp.CaptureScreenshot())
}

// reefOp calls one reef function of m (nil: the shared module).
func reefOp(b testing.TB, fn, req string) ([]byte, error) {
	return reefOpOn(b, shared.mod, fn, req)
}

func reefOpOn(b testing.TB, m *Module, fn, req string) ([]byte, error) {
	p, _ := testPolicy(b, false, shared.grantA())
	c := abitest.New(context.Background(), "bench", p)
	for _, f := range m.Funcs() {
		if f.Name == fn {
			return f.Handler(c, []byte(req), nil)
		}
	}
	return nil, fmt.Errorf("no function %s", fn)
}

// idle waits until the module's background work (refilling the warm
// context, disposing of the last call's context) is done.
func (m *Module) idle() { m.calls.Wait() }

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

// BenchmarkText runs text() back to back: each call starts as soon as the
// last one returned, so reef's background work (the next warm context,
// disposing of the last one) competes with it.
func BenchmarkText(b *testing.B) {
	backToBack(b, abi.BrowserText, func(pe *plainEnv, v plainVariant, u string) error {
		_, err := plainText(pe, v, u)
		return err
	})
}

func BenchmarkScreenshot(b *testing.B) {
	backToBack(b, abi.BrowserScreenshot, func(pe *plainEnv, v plainVariant, u string) error {
		_, err := plainScreenshot(pe, v, u)
		return err
	})
}

// backToBack times reef's fn and the plain chromedp variants doing the
// same work (plain) on the same page, each call right after the last.
func backToBack(b *testing.B, fn string, plain func(*plainEnv, plainVariant, string) error) {
	req := `{"url":"` + shared.urlA("/hello") + `"}`
	b.Run("reef", func(b *testing.B) {
		timed(b, func() error { _, err := reefOp(b, fn, req); return err })
		shared.mod.idle()
	})
	for _, v := range []plainVariant{plainTab, plainNewTab, plainIncognito} {
		b.Run("chromedp-"+v.String(), func(b *testing.B) {
			pe, err := plainBrowser()
			if err != nil {
				b.Fatal(err)
			}
			timed(b, func() error { return plain(pe, v, shared.urlA("/hello")) })
		})
	}
}

// BenchmarkOverhead interleaves reef and the plain variants so that all
// see the same machine load. Each operation starts on an idle machine
// (reef's background work of the previous call is finished, and not
// counted in its latency): the latency a skill sees when its calls are
// not back to back. cpu-ms is the CPU time an operation costs in all,
// background work included: the browser's processes plus this process
// (which also runs the test's HTTP server).
func BenchmarkOverhead(b *testing.B) {
	pe, err := plainBrowser()
	if err != nil {
		b.Fatal(err)
	}
	u := shared.urlA("/hello")
	req := `{"url":"` + u + `"}`
	type side struct {
		name string
		pid  func() int
		op   func() error
	}
	for _, tc := range []struct {
		name  string
		reef  func() error
		plain func(plainVariant) error
	}{
		{"text", func() error { _, err := reefOp(b, abi.BrowserText, req); return err },
			func(v plainVariant) error { _, err := plainText(pe, v, u); return err }},
		{"screenshot", func() error { _, err := reefOp(b, abi.BrowserScreenshot, req); return err },
			func(v plainVariant) error { _, err := plainScreenshot(pe, v, u); return err }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			sides := []side{{"reef", func() int { return shared.mod.Stats().PID }, tc.reef}}
			for _, v := range []plainVariant{plainTab, plainIncognito} {
				sides = append(sides, side{"chromedp-" + v.String(), func() int { return pe.pid }, func() error { return tc.plain(v) }})
			}
			for _, s := range sides {
				if err := s.op(); err != nil {
					b.Fatal(err)
				}
			}
			durs := make([][]time.Duration, len(sides))
			cpus := make([][]time.Duration, len(sides))
			b.ResetTimer()
			for range b.N {
				for i, s := range sides {
					shared.mod.idle()
					c0 := treeCPU(s.pid()) + selfCPU()
					t0 := time.Now()
					if err := s.op(); err != nil {
						b.Fatal(err)
					}
					durs[i] = append(durs[i], time.Since(t0))
					shared.mod.idle()
					cpus[i] = append(cpus[i], treeCPU(s.pid())+selfCPU()-c0)
				}
			}
			b.StopTimer()
			for i, s := range sides {
				b.ReportMetric(p50ms(durs[i]), s.name+"-p50-ms")
				b.ReportMetric(meanms(cpus[i]), s.name+"-cpu-ms")
			}
			b.ReportMetric(p50ms(durs[0])/p50ms(durs[2]), "reef/incognito")
			b.ReportMetric(p50ms(durs[0])/p50ms(durs[1]), "reef/tab")
		})
	}
}

func meanms(d []time.Duration) float64 {
	var t time.Duration
	for _, x := range d {
		t += x
	}
	return float64(t.Microseconds()) / 1000 / float64(max(len(d), 1))
}

// selfCPU is this process's CPU time.
func selfCPU() time.Duration {
	var r syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// treeCPU sums the CPU time of pid and its descendants, including the
// children they reaped (renderer processes that already exited).
func treeCPU(pid int) time.Duration {
	var total int64
	walkTree(pid, func(_ int, f []string) {
		for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime
			n, _ := strconv.ParseInt(f[i], 10, 64)
			total += n
		}
	})
	return time.Duration(total) * time.Second / clockTicks
}

// clockTicks is USER_HZ, 100 on every Linux reef supports.
const clockTicks = 100

// walkTree calls fn for pid and each of its descendants with the fields
// of /proc/PID/stat after the command name.
func walkTree(pid int, fn func(pid int, fields []string)) {
	children := map[int][]int{}
	fields := map[int][]string{}
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
		if len(f) < 15 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		me, _ := strconv.Atoi(strings.Fields(s)[0])
		children[pp] = append(children[pp], me)
		fields[me] = f
	}
	var walk func(int)
	walk = func(p int) {
		if f, ok := fields[p]; ok {
			fn(p, f)
		}
		for _, c := range children[p] {
			walk(c)
		}
	}
	walk(pid)
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
	var total int64
	walkTree(pid, func(p int, _ []string) { total += procMem(strconv.Itoa(p)) })
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

// BenchmarkTextBurst: 4 text() calls at once (MaxContexts) on a warm
// browser, bursts spaced so the module is idle again before the next one
// (its prewarmed contexts made), for several Warm settings in one run.
// BenchmarkTextParallel is the sustained case: 4 calls in flight all the
// time, where every call waits for its own new context.
func BenchmarkTextBurst(b *testing.B) {
	req := `{"url":"` + shared.urlA("/hello") + `"}`
	for _, warm := range []int{1, 2, 4} {
		b.Run("warm-"+strconv.Itoa(warm), func(b *testing.B) {
			m := New(Options{Dial: shared.mod.opts.Dial, Warm: warm})
			defer m.Close()
			if _, err := reefOpOn(b, m, abi.BrowserText, req); err != nil {
				b.Fatal(err)
			}
			var durs []time.Duration
			var mu sync.Mutex
			for b.Loop() {
				b.StopTimer()
				m.idle()
				b.StartTimer()
				var wg sync.WaitGroup
				for range 4 {
					wg.Go(func() {
						s := time.Now()
						if _, err := reefOpOn(b, m, abi.BrowserText, req); err != nil {
							b.Error(err)
							return
						}
						mu.Lock()
						durs = append(durs, time.Since(s))
						mu.Unlock()
					})
				}
				wg.Wait()
			}
			b.StopTimer()
			m.idle()
			b.ReportMetric(p50ms(durs), "p50-ms")
			slices.Sort(durs)
			b.ReportMetric(float64(durs[len(durs)-1].Microseconds())/1e3, "max-ms")
			b.ReportMetric(float64(treePSS(m.Stats().PID))/(1<<20), "idle-browser-pss-MiB")
		})
	}
}
