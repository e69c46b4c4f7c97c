package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reefhq/reef/internal/testwait"

	"github.com/reefhq/reef/runtime/server"
	"github.com/reefhq/reef/runtime/server/servertest"
	"github.com/reefhq/reef/runtime/skill"
)

// TestHotReloadUnderLoad replaces a skill's module 50 times while clients
// invoke it continuously: no call may fail and every output must be the
// old or the new version's.
func TestHotReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	versions := [][]byte{servertest.ConstWasm('A'), servertest.ConstWasm('B')}
	writeBundle(t, dir, "hot", "wasm: hot.wasm\nfunctions: [{ name: get }]\n", versions[0])
	h := startServer(t, harnessOpts{dir: dir, watch: true})
	wasmPath := filepath.Join(dir, "hot", "hot.wasm")

	var (
		stop            atomic.Bool
		calls, failures atomic.Int64
		seen            sync.Map
		wg              sync.WaitGroup
		firstFailure    atomic.Value
	)
	for c := 0; c < 2; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				req, _ := http.NewRequest("POST", h.URL+"/v1/skills/hot/functions/get", strings.NewReader("x"))
				req.Header.Set("Authorization", "Bearer "+tokOperator)
				resp, err := h.client.Do(req)
				calls.Add(1)
				if err != nil {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				var b strings.Builder
				_, _ = fmt.Fprint(&b, readAll(resp))
				out := b.String()
				switch {
				case resp.StatusCode != 200:
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("%d %s", resp.StatusCode, out))
				case out != "A" && out != "B":
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, "unexpected output "+out)
				default:
					seen.Store(out, true)
				}
			}
		}()
	}
	for i := 1; i <= 50; i++ {
		before := h.swaps.Load()
		// A deploy writes the new module beside the old one and renames it
		// over (odd rounds), or rewrites it in place (even rounds: the
		// watcher may see a partial file, which must not break calls).
		if i%2 == 1 {
			tmp := filepath.Join(dir, "hot", ".hot.wasm.tmp")
			writeFile(t, tmp, versions[i%2])
			if err := os.Rename(tmp, wasmPath); err != nil {
				t.Fatal(err)
			}
		} else {
			writeFile(t, wasmPath, versions[i%2])
		}
		testwait.Until(t, fmt.Sprintf("swap %d", i), func() bool { return h.swaps.Load() > before })
	}
	time.Sleep(50 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if f := failures.Load(); f != 0 {
		t.Fatalf("%d of %d calls failed; first: %v", f, calls.Load(), firstFailure.Load())
	}
	_, a := seen.Load("A")
	_, b := seen.Load("B")
	if !a || !b {
		t.Fatalf("outputs seen: A %v, B %v", a, b)
	}
	t.Logf("%d calls during 50 swaps, 0 failed", calls.Load())
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// runawayDir adds "runaway": hostile.wasm with a 1s timeout.
func runawayDir(t *testing.T) string {
	dir := skillDir(t)
	writeBundle(t, dir, "runaway", "wasm: runaway.wasm\nfunctions: [{ name: loop }, { name: ok }]\nlimits: { timeout: 1s }\n", engineFixture(t, "hostile"))
	return dir
}

// async invokes in the background.
func (h *harness) async(tok, skillName, fn, input string) <-chan *response {
	ch := make(chan *response, 1)
	go func() {
		req, _ := http.NewRequest("POST", h.URL+"/v1/skills/"+skillName+"/functions/"+fn, strings.NewReader(input))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := h.client.Do(req)
		if err != nil {
			ch <- &response{Status: -1, Body: []byte(err.Error())}
			return
		}
		body := readAll(resp)
		ch <- &response{Status: resp.StatusCode, Header: resp.Header, Body: []byte(body)}
	}()
	return ch
}

func TestQueueOverflow(t *testing.T) {
	h := startServer(t, harnessOpts{dir: runawayDir(t), cfg: func(c *configT) {
		c.MaxWorkers = 1
		c.Server.PerSkillConcurrency = 1
		c.Server.QueueSize = 2 // one skill may fill half of it
	}})
	a := h.async(tokAdmin, "runaway", "loop", "")
	testwait.Until(t, "A running", func() bool { return h.Server.Pool().Busy == 1 })
	b := h.async(tokAdmin, "runaway", "loop", "")
	testwait.Until(t, "B queued", func() bool { return h.Server.Pool().Waiting == 1 })

	// The runaway skill's share of the queue is full: refused at once.
	r := h.invoke(tokAdmin, "runaway", "ok", "")
	if r.Status != 429 || r.problem(t).Code != server.CodeOverloaded || r.Header.Get("Retry-After") == "" {
		t.Fatalf("third runaway call: %d %v %s", r.Status, r.Header, r.Body)
	}
	// Another skill still finds queue room…
	d := h.async(tokAdmin, "hello", "echo", "1")
	testwait.Until(t, "D queued", func() bool { return h.Server.Pool().Waiting == 2 })
	// …until the whole queue is full.
	if r := h.invoke(tokAdmin, "greet", "greet", "x"); r.Status != 429 {
		t.Fatalf("call with a full queue: %d %s", r.Status, r.Body)
	}
	if r := <-d; r.Status != 200 {
		t.Fatalf("queued call of another skill: %d %s", r.Status, r.Body)
	}
	for _, ch := range []<-chan *response{a, b} {
		if r := <-ch; r.Status != 504 {
			t.Fatalf("runaway call: %d %s", r.Status, r.Body)
		}
	}
	if m := scrape(t, h); m[`reef_invocations_total{function="ok",outcome="overloaded",skill="runaway"}`] != 1 {
		t.Fatalf("overload not counted")
	}
}

func TestQueueTimeout(t *testing.T) {
	h := startServer(t, harnessOpts{dir: runawayDir(t), cfg: func(c *configT) {
		c.MaxWorkers = 1
		c.Server.QueueTimeout = skill.Duration(100 * time.Millisecond)
	}})
	a := h.async(tokAdmin, "runaway", "loop", "")
	testwait.Until(t, "A running", func() bool { return h.Server.Pool().Busy == 1 })
	r := h.invoke(tokAdmin, "hello", "echo", "1")
	if r.Status != 429 || !strings.Contains(r.problem(t).Detail, "waited too long") {
		t.Fatalf("queued past the timeout: %d %s", r.Status, r.Body)
	}
	<-a
}

// TestRunawayDoesNotStarveOthers: with two workers and a per-skill limit
// of one, a skill stuck in a loop (with more callers queued) holds one
// worker; other skills keep running on the other.
func TestRunawayDoesNotStarveOthers(t *testing.T) {
	h := startServer(t, harnessOpts{dir: runawayDir(t), cfg: func(c *configT) {
		c.MaxWorkers = 2
		c.Server.PerSkillConcurrency = 1
	}})
	var runaway []<-chan *response
	for i := 0; i < 3; i++ {
		runaway = append(runaway, h.async(tokAdmin, "runaway", "loop", ""))
	}
	testwait.Until(t, "runaway running and queued", func() bool { st := h.Server.Pool(); return st.Busy == 1 && st.Waiting == 2 })
	for i := 0; i < 20; i++ {
		if r := h.invoke(tokAdmin, "hello", "echo", "1"); r.Status != 200 {
			t.Fatalf("other skill: %d %s", r.Status, r.Body)
		}
	}
	if st := h.Server.Pool(); st.Waiting != 2 {
		t.Fatalf("the other skill's calls finished but the runaway's queue changed: %+v (calls were not served while it ran)", st)
	}
	for _, ch := range runaway {
		<-ch
	}
}

// spinInput returns an input for spin that takes roughly d.
func spinInput(t *testing.T, h *harness, d time.Duration) string {
	for n := 1; ; n *= 2 {
		start := time.Now()
		if r := h.invoke(tokAdmin, "spin", "spin", strings.Repeat("x", n)); r.Status != 200 {
			t.Fatalf("spin: %d %s", r.Status, r.Body)
		}
		if took := time.Since(start); took >= d/8 || n >= 1024 {
			return strings.Repeat("x", max(1, int(float64(n)*float64(d)/float64(took))))
		}
	}
}

// TestDrain: on ctx cancel the server refuses new calls with 503, reports
// not ready, and lets the in-flight call finish.
func TestDrain(t *testing.T) {
	h := startServer(t, harnessOpts{})
	t0 := time.Now()
	in := spinInput(t, h, 400*time.Millisecond)
	t.Logf("calibrated in %v: %d", time.Since(t0), len(in))
	inflight := h.async(tokAdmin, "spin", "spin", in)
	testwait.Until(t, "call running", func() bool { return h.Server.Pool().Busy == 1 })
	h.cancel()
	testwait.Until(t, "draining", func() bool {
		w := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/readyz", nil)
		req.Host = "127.0.0.1"
		h.Server.ServeHTTP(w, req)
		return w.Code == 503
	})
	req := httptest.NewRequest("POST", "/v1/skills/hello/functions/echo", strings.NewReader("1"))
	req.Header.Set("Authorization", "Bearer "+tokAdmin)
	req.Host = "127.0.0.1"
	w := httptest.NewRecorder()
	h.Server.ServeHTTP(w, req)
	if w.Code != 503 || !strings.Contains(w.Body.String(), `"code":"unavailable"`) || w.Header().Get("Retry-After") == "" {
		t.Fatalf("new call while draining: %d %s", w.Code, w.Body)
	}
	if r := <-inflight; r.Status != 200 {
		t.Fatalf("in-flight call: %d %s", r.Status, r.Body)
	}
	select {
	case err := <-h.done:
		h.done <- err
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the drain")
	}
	if _, err := h.client.Get(h.URL + "/healthz"); err == nil {
		t.Fatal("listener still open after shutdown")
	}
}

// TestDrainDeadline: calls still running at the shutdown deadline are
// canceled and Serve returns.
func TestDrainDeadline(t *testing.T) {
	h := startServer(t, harnessOpts{dir: runawayDir(t), cfg: func(c *configT) { c.Server.ShutdownTimeout = skill.Duration(150 * time.Millisecond) }})
	inflight := h.async(tokAdmin, "runaway", "loop", "")
	testwait.Until(t, "call running", func() bool { return h.Server.Pool().Busy == 1 })
	h.cancel()
	select {
	case err := <-h.done:
		h.done <- err
	case <-time.After(900 * time.Millisecond): // the call's own timeout is 1s
		t.Fatal("Serve waited past the shutdown deadline")
	}
	<-inflight
}
