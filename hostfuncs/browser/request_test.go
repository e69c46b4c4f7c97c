package hostbrowser

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/hostfuncs/abi/abitest"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name string
		op   opKind
		req  string
		err  string // substring; "" = valid
	}{
		{"text ok", opText, `{"url":"https://a.test/"}`, ""},
		{"text missing url", opText, `{}`, `"url" is required`},
		{"text unknown field", opText, `{"url":"https://a.test/","x":1}`, `unknown field "x"`},
		{"text selector not used", opText, `{"url":"https://a.test/","selector":"h1"}`, `field "selector" is not used by text`},
		{"not json", opText, `nope`, "not the expected JSON"},
		{"trailing", opText, `{"url":"https://a.test/"} {}`, "trailing data"},
		{"html selector", opHTML, `{"url":"https://a.test/","selector":"#x"}`, ""},
		{"screenshot full", opScreenshot, `{"url":"https://a.test/","full_page":true,"width":10,"height":10}`, ""},
		{"screenshot too wide", opScreenshot, `{"url":"https://a.test/","width":9000}`, "between 1 and 8192"},
		{"screenshot full+selector", opScreenshot, `{"url":"https://a.test/","full_page":true,"selector":"p"}`, "cannot be combined"},
		{"selector NUL", opHTML, `{"url":"https://a.test/","selector":"a\u0000"}`, "NUL"},
		{"run no actions", opRun, `{"url":"https://a.test/"}`, `"actions" is required`},
		{"run ok", opRun, `{"actions":[{"navigate":"https://a.test/"},{"click":"#b"},{"type":{"selector":"#q","text":"x"}},{"wait":"#r"},{"text":"#r"},{"attr":{"selector":"a","name":"href"}},{"screenshot":null},{"screenshot":"#r"},{"eval":"1"}]}`, ""},
		{"run two keys", opRun, `{"actions":[{"click":"#a","wait":"#b"}]}`, "actions[0]: an action has exactly one key"},
		{"run unknown action", opRun, `{"actions":[{"text":"p"},{"hover":"#a"}]}`, `actions[1]: unknown action "hover"`},
		{"run not object", opRun, `{"actions":["click"]}`, "actions[0]: an action is an object"},
		{"run type missing text", opRun, `{"actions":[{"type":{"selector":"#q"}}]}`, "actions[0]: type: want"},
		{"run type extra field", opRun, `{"actions":[{"type":{"selector":"#q","text":"x","delay":1}}]}`, "actions[0]: type: want"},
		{"run attr empty name", opRun, `{"actions":[{"attr":{"selector":"a","name":""}}]}`, "actions[0]: attr: want"},
		{"run click number", opRun, `{"actions":[{"click":3}]}`, "actions[0]: click: want a string"},
		{"run empty selector", opRun, `{"actions":[{"wait":""}]}`, "actions[0]: wait: empty selector"},
		{"run empty eval", opRun, `{"actions":[{"eval":""}]}`, "actions[0]: eval: empty script"},
		{"run too many steps", opRun, `{"actions":[` + strings.Repeat(`{"text":"p"},`, 10) + `{"text":"p"}]}`, "11 actions, over the limit of 10"},
		{"run too many pages", opRun, `{"url":"https://a.test/","actions":[{"navigate":"https://a.test/1"},{"navigate":"https://a.test/2"},{"navigate":"https://a.test/3"}]}`, "4 navigations, over the limit of 3"},
		{"run full_page not used", opRun, `{"actions":[{"text":"p"}],"full_page":true}`, `field "full_page" is not used by run`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseRequest(tc.op, []byte(tc.req), 10, 3)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			wantCode(t, err, abi.CodeInvalid)
		})
	}
}

func TestCheckURL(t *testing.T) {
	p, _ := testPolicy(t, false, "https://a.example.test", "http://127.0.0.1:8080", "b.example.test")
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://a.example.test/x?y#z", true},
		{"HTTPS://A.EXAMPLE.TEST./", true},
		{"http://a.example.test/", false},
		{"https://a.example.test:444/", false},
		{"http://127.0.0.1:8080/", true},
		{"http://0x7f.1:8080/", true}, // the same address, spelt as browsers parse it
		{"http://127.0.0.2:8080/", false},
		{"http://[::ffff:127.0.0.1]:8080/", true},
		{"http://b.example.test/", true},
		{"https://b.example.test/", true},
		{"ws://b.example.test/", false},
		{"file:///etc/passwd", false},
		{"javascript:alert(1)", false},
		{"data:text/html,x", false},
		{"blob:https://a.example.test/uuid", false},
		{"https://user@a.example.test/", false},
		{"//a.example.test/", false},
		{"https:///x", false},
		{"https://a.example.test%2f@evil.test/", false},
	}
	for _, tc := range tests {
		_, err := checkURL(p, tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("checkURL(%q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
		if err != nil {
			if _, derr := asDenial(err); derr != nil {
				t.Errorf("checkURL(%q): %v is not a denial", tc.url, err)
			}
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/requests/*.json")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(opRun), b)
	}
	f.Add(uint8(opText), []byte(`{"url":"https://a.test/"}`))
	f.Add(uint8(opScreenshot), []byte(`{"url":"https://a.test/","width":1}`))
	f.Fuzz(func(t *testing.T, op uint8, data []byte) {
		k := opKind(op % 5)
		r, err := parseRequest(k, data, 10, 5)
		if err != nil {
			if code(err) != abi.CodeInvalid {
				t.Fatalf("error %v is not invalid", err)
			}
			return
		}
		if k == opRun {
			if len(r.steps) == 0 || len(r.steps) > 10 || len(r.steps) != len(r.Actions) {
				t.Fatalf("steps %d actions %d", len(r.steps), len(r.Actions))
			}
			for _, s := range r.steps {
				if len(s.Selector) > maxSelectorBytes || strings.IndexByte(s.Selector, 0) >= 0 {
					t.Fatalf("selector passed: %q", s.Selector)
				}
			}
		} else if r.URL == "" {
			t.Fatal("accepted without url")
		}
		// Round trip: a valid request stays valid.
		b, _ := json.Marshal(r)
		_ = b
	})
}

func TestQueueTimeout(t *testing.T) {
	m := New(Options{MaxContexts: 1, QueueTimeout: 100 * time.Millisecond})
	defer m.Close()
	m.sem <- struct{}{} // the only slot is busy
	p, _ := testPolicy(t, false, "https://a.example.test")
	c := abitest.New(context.Background(), "q", p)
	start := time.Now()
	_, err := m.Funcs()[0].Handler(c, []byte(`{"url":"https://a.example.test/"}`), nil)
	wantCode(t, err, abi.CodeUnavailable)
	if !strings.Contains(err.Error(), "busy") || time.Since(start) > 2*time.Second {
		t.Fatalf("%v after %s", err, time.Since(start))
	}
	if st := m.Stats(); st.Running || st.Starts != 0 {
		t.Fatalf("a queued call started the browser: %+v", st)
	}
	// A call deadline shorter than the queue timeout ends the wait.
	m2 := New(Options{MaxContexts: 1, QueueTimeout: time.Hour})
	defer m2.Close()
	m2.sem <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = m2.Funcs()[0].Handler(abitest.New(ctx, "q", p), []byte(`{"url":"https://a.example.test/"}`), nil)
	wantCode(t, err, abi.CodeTimeout)
}

func TestDeniedBeforeBrowser(t *testing.T) {
	// A denied URL never starts the browser.
	m := New(Options{ExecPath: "/nonexistent/chromium"})
	defer m.Close()
	p, _ := testPolicy(t, false, "https://a.example.test")
	_, err := m.Funcs()[0].Handler(abitest.New(context.Background(), "d", p), []byte(`{"url":"file:///etc/passwd"}`), nil)
	wantCode(t, err, abi.CodeDenied)
	if st := m.Stats(); st.Starts != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestNoBrowserFound(t *testing.T) {
	p, _ := testPolicy(t, false, "https://a.example.test")
	req := []byte(`{"url":"https://a.example.test/"}`)
	t.Run("exec path", func(t *testing.T) {
		m := New(Options{ExecPath: "/nonexistent/chromium"})
		defer m.Close()
		_, err := m.Funcs()[0].Handler(abitest.New(context.Background(), "n", p), req, nil)
		wantCode(t, err, abi.CodeUnavailable)
		for _, w := range []string{"/nonexistent/chromium", "apt-get install chromium", "REEF_BROWSER_URL"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v lacks %q", err, w)
			}
		}
	})
	t.Run("PATH", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		m := New(Options{})
		defer m.Close()
		_, err := m.Funcs()[0].Handler(abitest.New(context.Background(), "n", p), req, nil)
		wantCode(t, err, abi.CodeUnavailable)
		for _, w := range []string{"no Chromium found on PATH", "chromium-browser", "apt-get install chromium", "REEF_BROWSER_URL"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v lacks %q", err, w)
			}
		}
	})
	t.Run("remote unreachable", func(t *testing.T) {
		m := New(Options{RemoteURL: "ws://127.0.0.1:1/devtools/browser/x", StartTimeout: 3 * time.Second})
		defer m.Close()
		_, err := m.Funcs()[0].Handler(abitest.New(context.Background(), "n", p), req, nil)
		wantCode(t, err, abi.CodeUnavailable)
		if !strings.Contains(err.Error(), "REEF_BROWSER_URL") {
			t.Errorf("%v", err)
		}
	})
}

func TestModuleShape(t *testing.T) {
	m := New(Options{})
	defer m.Close()
	if m.Name() != "browser" {
		t.Fatal(m.Name())
	}
	want := []string{abi.BrowserText, abi.BrowserHTML, abi.BrowserScreenshot, abi.BrowserPDF, abi.BrowserRun}
	fs := m.Funcs()
	if len(fs) != len(want) {
		t.Fatalf("%d funcs", len(fs))
	}
	for i, f := range fs {
		if f.Name != want[i] || f.Handler == nil {
			t.Errorf("func %d = %s", i, f.Name)
		}
	}
	if st := m.Stats(); st.Running || st.Starts != 0 {
		t.Fatalf("New started something: %+v", st)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	p, _ := testPolicy(t, false, "https://a.example.test")
	_, err := m.Funcs()[0].Handler(abitest.New(context.Background(), "c", p), []byte(`{"url":"https://a.example.test/"}`), nil)
	wantCode(t, err, abi.CodeUnavailable)
}
