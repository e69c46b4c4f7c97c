package hostbrowser

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reefhq/reef/hostfuncs/abi"
)

// cdpTrace records when each CDP message crossed the pipe, from
// chromedp's debug log (one "-> {json}" or "<- {json}" line each).
type cdpTrace struct {
	mu    sync.Mutex
	on    bool
	start time.Time
	sent  map[int64]string // command id -> method, to name results
	ev    []traceEvent
}

type traceEvent struct {
	at  time.Duration
	key string // "-> Method", "<- Method" (event) or "<- result:Method"
}

func (t *cdpTrace) reset() {
	t.mu.Lock()
	t.on, t.start, t.sent, t.ev = true, time.Now(), map[int64]string{}, nil
	t.mu.Unlock()
}

// mark adds a synthetic event.
func (t *cdpTrace) mark(key string) {
	t.mu.Lock()
	t.ev = append(t.ev, traceEvent{time.Since(t.start), key})
	t.mu.Unlock()
}

func (t *cdpTrace) debugf(format string, args ...any) {
	now := time.Now()
	if len(args) != 1 {
		return
	}
	raw, ok := args[0].([]byte)
	if !ok || len(format) < 2 {
		return
	}
	var m struct {
		ID     int64  `json:"id"`
		Method string `json:"method"`
	}
	if json.Unmarshal(raw, &m) != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.on {
		return
	}
	key := format[:2] + " " + m.Method
	switch {
	case format[:2] == "->":
		t.sent[m.ID] = m.Method
	case m.Method == "":
		key = "<- result:" + t.sent[m.ID]
	}
	t.ev = append(t.ev, traceEvent{now.Sub(t.start), key})
}

// phases splits the trace at the first occurrence of each marker, in
// order; a missing marker ends the split.
func (t *cdpTrace) phases(markers []string) []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]time.Duration, 0, len(markers))
	last, j := time.Duration(0), 0
	for _, mk := range markers {
		for j < len(t.ev) && t.ev[j].key != mk {
			j++
		}
		if j == len(t.ev) {
			break
		}
		out = append(out, t.ev[j].at-last)
		last = t.ev[j].at
	}
	return out
}

// phase is one named step of a call, ending at its marker.
type phase struct{ name, marker string }

// BenchmarkPhases times each step of a text() call from the CDP messages
// of a traced browser, for reef (a warm context, calls spaced so that
// the background work is done) and for plain chromedp with a new
// incognito context per operation. Each phase's p50 is reported as
// <phase>-ms; reef's background work after the call as bg-*-ms.
//
//	go test -run '^$' -bench Phases -benchtime 20x ./hostfuncs/browser/
func BenchmarkPhases(b *testing.B) {
	u := shared.urlA("/hello")
	req := `{"url":"` + u + `"}`
	b.Run("reef", func(b *testing.B) {
		tr := &cdpTrace{}
		m := New(Options{Dial: shared.mod.opts.Dial})
		m.cdpDebugf = tr.debugf
		defer m.Close()
		call := []phase{
			{"open", "-> Page.navigate"},
			{"request", "<- Fetch.requestPaused"},
			{"fetch-check", "-> Fetch.continueRequest"},
			{"proxy+response", "<- Network.responseReceived"},
			{"commit+load", "<- Page.loadEventFired"},
			{"extract", "<- result:Runtime.evaluate"},
			{"return", "returned"},
			{"bg-new-context", "<- result:Browser.setDownloadBehavior"},
			{"bg-new-tab", "<- result:Target.createTarget"},
			{"bg-attach+enable", "<- result:Page.setLifecycleEventsEnabled"},
			{"bg-fetch+viewport", "<- result:Emulation.setTouchEmulationEnabled"},
			{"bg-dispose", "<- result:Target.disposeBrowserContext"},
		}
		runPhases(b, tr, call, func() error {
			_, err := reefOpOn(b, m, abi.BrowserText, req)
			tr.mark("returned")
			m.idle()
			return err
		})
	})
	b.Run("chromedp-incognito", func(b *testing.B) {
		tr := &cdpTrace{}
		pe, err := newPlain(tr.debugf)
		if err != nil {
			b.Fatal(err)
		}
		defer pe.stop()
		call := []phase{
			{"new-context", "<- result:Target.createBrowserContext"},
			{"new-tab", "<- result:Target.createTarget"},
			{"attach+enable", "<- result:Page.setLifecycleEventsEnabled"},
			{"viewport", "<- result:Emulation.setTouchEmulationEnabled"},
			{"request", "<- Network.requestWillBeSent"},
			{"response", "<- Network.responseReceived"},
			{"commit+load", "<- Page.loadEventFired"},
			{"extract", "<- result:Runtime.evaluate"},
			{"close", "returned"},
		}
		runPhases(b, tr, call, func() error {
			_, err := plainText(pe, plainIncognito, u)
			tr.mark("returned")
			return err
		})
	})
}

func runPhases(b *testing.B, tr *cdpTrace, ph []phase, op func() error) {
	markers := make([]string, len(ph))
	for i, p := range ph {
		markers[i] = p.marker
	}
	if err := op(); err != nil {
		b.Fatal(err)
	}
	per := make([][]time.Duration, len(ph))
	b.ResetTimer()
	for range b.N {
		time.Sleep(100 * time.Millisecond)
		tr.reset()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		for i, d := range tr.phases(markers) {
			per[i] = append(per[i], d)
		}
	}
	b.StopTimer()
	var missing []string
	for i, p := range ph {
		if len(per[i]) == 0 {
			missing = append(missing, p.name)
			continue
		}
		b.ReportMetric(p50ms(per[i]), p.name+"-ms")
	}
	if len(missing) > 0 {
		b.Logf("phases never seen: %s", strings.Join(missing, ", "))
	}
}
