package hostbrowser

import (
	"bytes"
	"encoding/json"
	"image/png"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reefhq/reef/internal/testwait"

	"github.com/reefhq/reef/hostfuncs/abi"
)

const callTimeout = 20 * time.Second

func TestText(t *testing.T) {
	p, _ := testPolicy(t, false, shared.grantA())
	out, err := call(t, abi.BrowserText, p, callTimeout, `{"url":"`+shared.urlA("/hello")+`"}`)
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{"Hello reef", "Grüße, world"} {
		if !strings.Contains(got, want) {
			t.Errorf("text %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "hidden text") || strings.Contains(got, "<b>") {
		t.Errorf("text %q holds hidden text or markup", got)
	}
}

func TestHTML(t *testing.T) {
	p, _ := testPolicy(t, false, shared.grantA())
	tests := []struct {
		name, req string
		want      []string
		code      string
	}{
		{"page", `{"url":"` + shared.urlA("/hello") + `"}`, []string{"<html", "<h1>Hello reef</h1>"}, ""},
		{"selector", `{"url":"` + shared.urlA("/hello") + `","selector":"#x"}`, []string{`<p id="x" data-k="v">Grüße, <b>world</b></p>`}, ""},
		{"missing selector", `{"url":"` + shared.urlA("/hello") + `","selector":"#nope"}`, nil, abi.CodeNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := call(t, abi.BrowserHTML, p, callTimeout, tc.req)
			if tc.code != "" {
				wantCode(t, err, tc.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("html %q lacks %q", out, w)
				}
			}
			if tc.name == "selector" && strings.Contains(string(out), "<h1>") {
				t.Errorf("selector html %q holds more than the element", out)
			}
		})
	}
}

func TestScreenshot(t *testing.T) {
	p, _ := testPolicy(t, false, shared.grantA())
	tests := []struct {
		name, req string
		w, h      int
	}{
		{"viewport", `{"url":"` + shared.urlA("/hello") + `","width":640,"height":480}`, 640, 480},
		{"default viewport", `{"url":"` + shared.urlA("/hello") + `"}`, DefaultWidth, DefaultHeight},
		{"element", `{"url":"` + shared.urlA("/box") + `","selector":"#box"}`, 100, 50},
		{"full page", `{"url":"` + shared.urlA("/tall") + `","full_page":true,"width":400,"height":300}`, 400, 2000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := call(t, abi.BrowserScreenshot, p, callTimeout, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := png.DecodeConfig(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("not a PNG: %v", err)
			}
			if cfg.Width != tc.w || cfg.Height != tc.h {
				t.Errorf("PNG is %dx%d, want %dx%d", cfg.Width, cfg.Height, tc.w, tc.h)
			}
			if _, err := png.Decode(bytes.NewReader(out)); err != nil {
				t.Errorf("PNG does not decode: %v", err)
			}
		})
	}
}

func TestPDF(t *testing.T) {
	p, _ := testPolicy(t, false, shared.grantA())
	out, err := call(t, abi.BrowserPDF, p, callTimeout, `{"url":"`+shared.urlA("/hello")+`"}`)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("%PDF-")) || len(out) < 500 {
		t.Fatalf("not a PDF: %d bytes starting %q", len(out), out[:min(len(out), 16)])
	}
}

// runResult decodes a run() response.
func runResult(t *testing.T, out []byte) runResponse {
	t.Helper()
	var r runResponse
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("run response %q: %v", out, err)
	}
	return r
}

func TestRunForm(t *testing.T) {
	p, _ := testPolicy(t, false, shared.grantA())
	req := `{"actions":[
		{"navigate":"` + shared.urlA("/form") + `"},
		{"type":{"selector":"#q","text":"hello <reef>"}},
		{"click":"#go"},
		{"wait":"#result"},
		{"text":"#result"},
		{"attr":{"selector":"#result","name":"data-method"}},
		{"attr":{"selector":"#result","name":"nope"}},
		{"screenshot":"#result"},
		{"screenshot":null}
	]}`
	out, err := call(t, abi.BrowserRun, p, callTimeout, req)
	if err != nil {
		t.Fatal(err)
	}
	r := runResult(t, out)
	if r.Completed != 9 || len(r.Results) != 9 {
		t.Fatalf("completed %d of %d: %s", r.Completed, len(r.Results), out)
	}
	if r.Results[0].URL != shared.urlA("/form") {
		t.Errorf("navigate url = %q", r.Results[0].URL)
	}
	if got := *r.Results[4].Text; got != "got: hello <reef> n=1" {
		t.Errorf("text = %q", got)
	}
	if r.Results[5].Value != "POST" || !*r.Results[5].Exists {
		t.Errorf("attr = %v %v", r.Results[5].Value, *r.Results[5].Exists)
	}
	if *r.Results[6].Exists {
		t.Errorf("missing attr exists")
	}
	for _, i := range []int{7, 8} {
		if _, err := png.DecodeConfig(bytes.NewReader(r.Results[i].PNG)); err != nil {
			t.Errorf("step %d screenshot: %v", i, err)
		}
	}
}

func TestRunStepErrors(t *testing.T) {
	p, _ := testPolicy(t, false, shared.grantA())
	out, err := call(t, abi.BrowserRun, p, callTimeout, `{"url":"`+shared.urlA("/hello")+`","actions":[{"text":"h1"},{"click":"#absent"},{"text":"h1"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	r := runResult(t, out)
	if r.Completed != 1 || len(r.Results) != 2 {
		t.Fatalf("want 1 completed and the failing step: %s", out)
	}
	e := r.Results[1].Error
	if e == nil || e.Code != abi.CodeNotFound || !strings.Contains(e.Message, "actions[1] (click)") || r.Results[1].OK {
		t.Fatalf("step error = %+v", e)
	}
}

func TestEval(t *testing.T) {
	req := `{"url":"` + shared.urlA("/hello") + `","actions":[{"eval":"document.title + ':' + (6*7)"},{"eval":"Promise.resolve({a:[1,2]})"}]}`
	t.Run("not granted", func(t *testing.T) {
		p, d := testPolicy(t, false, shared.grantA())
		_, err := call(t, abi.BrowserRun, p, callTimeout, req)
		wantCode(t, err, abi.CodeDenied)
		if !strings.Contains(err.Error(), "actions[0]") || len(d.denied("eval")) != 1 {
			t.Fatalf("err %v, denials %v", err, d.denied("eval"))
		}
	})
	t.Run("granted", func(t *testing.T) {
		p, _ := testPolicy(t, true, shared.grantA())
		out, err := call(t, abi.BrowserRun, p, callTimeout, req)
		if err != nil {
			t.Fatal(err)
		}
		r := runResult(t, out)
		if r.Completed != 2 || r.Results[0].Value != "t:42" {
			t.Fatalf("%s", out)
		}
		if b, _ := json.Marshal(r.Results[1].Value); string(b) != `{"a":[1,2]}` {
			t.Fatalf("promise value %s", b)
		}
	})
}

func TestSubresourceToOtherHostBlocked(t *testing.T) { subresourcesBlocked(t, shared.mod) }

// subresourcesBlocked loads a page of A whose images, scripts, styles and
// fetch aim at B through m: the page reads, B sees nothing, and the
// denials are recorded.
func subresourcesBlocked(t *testing.T, m *Module) {
	t.Helper()
	p, d := testPolicy(t, false, shared.grantA())
	var out []byte
	hits, log := shared.hitsB(func() {
		var err error
		out, err = callOn(t, m, abi.BrowserText, p, callTimeout, `{"url":"`+shared.urlA("/subres")+`"}`)
		if err != nil {
			t.Fatal(err)
		}
	})
	if hits != 0 {
		t.Fatalf("non-granted server saw %d requests: %v", hits, log)
	}
	if !strings.Contains(string(out), "foreign subresources") {
		t.Errorf("page text %q", out)
	}
	if len(d.denied(shared.portB())) == 0 {
		t.Errorf("no denial recorded for %s", shared.portB())
	}
}

func TestRedirectToOtherHostBlocked(t *testing.T) {
	p, d := testPolicy(t, false, shared.grantA())
	hits, log := shared.hitsB(func() {
		_, err := call(t, abi.BrowserText, p, callTimeout, `{"url":"`+shared.urlA("/redirect")+`"}`)
		wantCode(t, err, abi.CodeDenied)
	})
	if hits != 0 {
		t.Fatalf("non-granted server saw %d requests: %v", hits, log)
	}
	if len(d.denied(shared.portB())) == 0 {
		t.Errorf("no denial recorded")
	}
	// A redirect inside the grant is followed.
	out, err := call(t, abi.BrowserText, p, callTimeout, `{"url":"`+shared.urlA("/redirect-local")+`"}`)
	if err != nil || !strings.Contains(string(out), "Hello reef") {
		t.Fatalf("local redirect: %q %v", out, err)
	}
}

func TestIframeFromOtherHostBlocked(t *testing.T) {
	p, d := testPolicy(t, false, shared.grantA())
	hits, log := shared.hitsB(func() {
		out, err := call(t, abi.BrowserHTML, p, callTimeout, `{"url":"`+shared.urlA("/iframe")+`"}`)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), "SECRET-FROM-B") {
			t.Errorf("frame content leaked: %s", out)
		}
	})
	if hits != 0 {
		t.Fatalf("non-granted server saw %d requests: %v", hits, log)
	}
	if len(d.denied(shared.portB())) < 2 {
		t.Errorf("want denials for both frames, got %v", d.denied(shared.portB()))
	}
}

func TestWindowOpenToOtherHostBlocked(t *testing.T) {
	p, d := testPolicy(t, false, shared.grantA())
	hits, log := shared.hitsB(func() {
		out, err := call(t, abi.BrowserRun, p, callTimeout, `{"url":"`+shared.urlA("/popup")+`","actions":[{"click":"#open"},{"wait":"#done"}]}`)
		if err != nil {
			t.Fatal(err)
		}
		if r := runResult(t, out); r.Completed != 2 {
			t.Fatalf("%s", out)
		}
	})
	if hits != 0 {
		t.Fatalf("non-granted server saw %d requests: %v", hits, log)
	}
	if len(d.denied("popup")) == 0 && len(d.denied(shared.portB())) == 0 {
		t.Errorf("no denial recorded for the popups")
	}
}

func TestSchemesRefused(t *testing.T) {
	p, d := testPolicy(t, false, shared.grantA())
	for _, u := range []string{
		"file:///etc/passwd",
		"FILE:///etc/passwd",
		"chrome://version",
		"data:text/html,<h1>x</h1>",
		"javascript:alert(document.cookie)",
		"view-source:" + shared.urlA("/hello"),
		"about:blank",
		"ftp://127.0.0.1/",
		"http://user:pw@127.0.0.1:" + shared.portA() + "/hello",
		"/relative",
	} {
		t.Run(u, func(t *testing.T) {
			_, err := call(t, abi.BrowserText, p, callTimeout, `{"url":`+jsonStr(u)+`}`)
			wantCode(t, err, abi.CodeDenied)
			_, err = call(t, abi.BrowserRun, p, callTimeout, `{"actions":[{"text":"h1"},{"navigate":`+jsonStr(u)+`}]}`)
			wantCode(t, err, abi.CodeDenied)
			if !strings.Contains(err.Error(), "actions[1]") {
				t.Errorf("denial does not name the action: %v", err)
			}
		})
	}
	if len(d.denied("passwd")) == 0 {
		t.Errorf("file: denial not recorded")
	}
	// A page that links, frames and redirects to file: stays put.
	out, err := call(t, abi.BrowserRun, p, callTimeout, `{"url":"`+shared.urlA("/tofile")+`","actions":[{"click":"#l"},{"text":"body"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "root:") {
		t.Fatalf("file content leaked: %s", out)
	}
}

func TestMetadataRefusedBeforeDial(t *testing.T) {
	// metadata.test is granted by name but resolves to 169.254.169.254;
	// rebind.test:PORT is granted but resolves to loopback; the literal
	// metadata address is not granted. None may be dialled: the netguard
	// dialer fails the binary if anything non-loopback is attempted.
	p, d := testPolicy(t, false, shared.grantA(), "metadata.test", "rebind.test:"+shared.portA())
	before := len(shared.guard.Refused())
	out, err := call(t, abi.BrowserRun, p, callTimeout, `{"url":"`+shared.urlA("/metadata")+`","actions":[{"wait":"#mdone"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if r := runResult(t, out); r.Completed != 1 {
		t.Fatalf("%s", out)
	}
	if r := shared.guard.Refused(); len(r) != before {
		t.Fatalf("a non-loopback dial was attempted: %v", r[before:])
	}
	for _, v := range []string{"169.254.169.254", "metadata.test", "rebind.test"} {
		if len(d.denied(v)) == 0 {
			t.Errorf("no denial recorded for %s", v)
		}
	}
}

func TestNoStateBetweenCalls(t *testing.T) {
	p, _ := testPolicy(t, false, shared.grantA())
	// Positive control: within one call the cookie and storage are seen.
	out, err := call(t, abi.BrowserRun, p, callTimeout, `{"actions":[{"navigate":"`+shared.urlA("/setcookie")+`"},{"navigate":"`+shared.urlA("/showcookie")+`"},{"text":"body"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "sid=s3cr3t") || !strings.Contains(string(out), "ls=[stored-value]") {
		t.Fatalf("same call does not keep state (test is broken): %s", out)
	}
	// Across calls nothing survives.
	if _, err := call(t, abi.BrowserText, p, callTimeout, `{"url":"`+shared.urlA("/setcookie")+`"}`); err != nil {
		t.Fatal(err)
	}
	out, err = call(t, abi.BrowserText, p, callTimeout, `{"url":"`+shared.urlA("/showcookie")+`"}`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "cookie=[]") || !strings.Contains(string(out), "ls=[]") {
		t.Fatalf("state leaked into the next call: %q", out)
	}
}

func TestDownloadRefused(t *testing.T) {
	p, _ := testPolicy(t, false, shared.grantA())
	_, err := call(t, abi.BrowserText, p, callTimeout, `{"url":"`+shared.urlA("/download")+`"}`)
	if err == nil {
		t.Fatal("a download navigation succeeded")
	}
}

func TestHangingPageTimesOut(t *testing.T) {
	p, _ := testPolicy(t, false, shared.grantA())
	start := time.Now()
	_, err := call(t, abi.BrowserText, p, 1500*time.Millisecond, `{"url":"`+shared.urlA("/hang")+`"}`)
	wantCode(t, err, abi.CodeTimeout)
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("timeout took %s", el)
	}
	// The browser is still usable.
	if _, err := call(t, abi.BrowserText, p, callTimeout, `{"url":"`+shared.urlA("/hello")+`"}`); err != nil {
		t.Fatal(err)
	}
}

func TestBrowserKilledRecovers(t *testing.T) {
	p, _ := testPolicy(t, false, shared.grantA())
	if _, err := call(t, abi.BrowserText, p, callTimeout, `{"url":"`+shared.urlA("/hello")+`"}`); err != nil {
		t.Fatal(err)
	}
	st := shared.mod.Stats()
	if !st.Running || st.PID == 0 {
		t.Fatalf("stats %+v", st)
	}
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	out, err := call(t, abi.BrowserText, p, callTimeout, `{"url":"`+shared.urlA("/hello")+`"}`)
	if err != nil {
		t.Fatalf("call after kill: %v", err)
	}
	if !strings.Contains(string(out), "Hello reef") {
		t.Fatalf("text %q", out)
	}
	st2 := shared.mod.Stats()
	if st2.PID == st.PID || st2.Starts != st.Starts+1 {
		t.Fatalf("stats before %+v after %+v", st, st2)
	}
}

func TestConcurrentCalls(t *testing.T) {
	p, _ := testPolicy(t, false, shared.grantA())
	errs := make(chan error, 6)
	for range 6 {
		go func() {
			out, err := call(t, abi.BrowserText, p, callTimeout, `{"url":"`+shared.urlA("/hello")+`"}`)
			if err == nil && !strings.Contains(string(out), "Hello reef") {
				err = &abi.Error{Code: "bad", Message: string(out)}
			}
			errs <- err
		}()
	}
	for range 6 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestParkedPageReachesNothing: a call that ends while another holds a
// context is parked, not disposed; its page keeps running until the
// cleanup but must not reach the network any more. The last call to
// finish disposes of it.
func TestParkedPageReachesNothing(t *testing.T) {
	m := shared.mod
	p, _ := testPolicy(t, false, shared.grantA())
	hung, endHung := hangOn(t, m, p)
	testwait.Until(t, "the hanging call to hold a context", func() bool { return m.Stats().Active >= 1 })

	out, err := call(t, abi.BrowserText, p, callTimeout, `{"url":"`+shared.urlA("/beacon")+`"}`)
	if err != nil || !strings.Contains(string(out), "beacon") {
		t.Fatalf("beacon page: %q %v", out, err)
	}
	testwait.Until(t, "the finished call to be parked", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.parked) == 1
	})
	// A request the proxy forwarded just before it closed may still be
	// on its way to A.
	time.Sleep(100 * time.Millisecond)
	before := shared.beacons.Load()
	if before == 0 {
		t.Fatal("the beacon page never reached A during its call: the test proves nothing")
	}
	time.Sleep(300 * time.Millisecond) // 15 beacon periods
	if after := shared.beacons.Load(); after != before {
		t.Fatalf("a parked page still reached A: %d requests after its call ended", after-before)
	}

	endHung()
	wantCode(t, <-hung, abi.CodeTimeout)
	testwait.Until(t, "the parked session to be disposed of", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.parked) == 0 && len(m.sem) == 0
	})
}

// TestParkedSlotFreedForWaitingCall: with every slot held by a running
// or a parked call, a new call gets a parked call's slot at once rather
// than waiting for the running one to end.
func TestParkedSlotFreedForWaitingCall(t *testing.T) {
	m := testModule(Options{MaxContexts: 2, CallTimeout: 20 * time.Second, SelectorTimeout: time.Second})
	defer m.Close()
	p, _ := testPolicy(t, false, shared.grantA())
	hello := `{"url":"` + shared.urlA("/hello") + `"}`
	hung, endHung := hangOn(t, m, p)
	testwait.Until(t, "the hanging call to hold a context", func() bool { return m.Stats().Active >= 1 })
	if _, err := callOn(t, m, abi.BrowserText, p, callTimeout, hello); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, "the finished call to be parked", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.parked) == 1 && len(m.sem) == 2
	})
	if out, err := callOn(t, m, abi.BrowserText, p, callTimeout, hello); err != nil || !strings.Contains(string(out), "Hello reef") {
		t.Fatalf("call while all slots were held: %q %v", out, err)
	}
	select {
	case err := <-hung:
		t.Fatalf("the call waited for the hanging call to end (%v) instead of taking the parked slot", err)
	default:
	}
	endHung()
	wantCode(t, <-hung, abi.CodeTimeout)
}
