//go:build !wasip1

package webmail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	hostbrowser "github.com/reefhq/reef/hostfuncs/browser"
	hosthttp "github.com/reefhq/reef/hostfuncs/http"
	hostmail "github.com/reefhq/reef/hostfuncs/mail"
	"github.com/reefhq/reef/internal/guestbuild"
	"github.com/reefhq/reef/internal/netguard"
	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

// skills under test and their source: a C file or a Go package.
var skills = map[string]string{
	"web-text":       "",
	"web-form":       "",
	"mail-send":      "",
	"web-screenshot": "screenshot.c",
	"mail-digest":    "digest.c",
}

// w is the world every test shares.
var w *world

type world struct {
	repo    string
	build   string
	wasm    map[string][]byte
	guard   *netguard.Guard
	browser *hostbrowser.Module
	mail    *hostmail.Module
	eng     *engine.Engine
	good    *site
	bad     *site
	smtp    *smtpServer
	imap    *imapServer
}

func TestMain(m *testing.M) {
	code, err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "webmail:", err)
		code = 1
	}
	if code == 0 {
		code = m.Run()
	}
	if w != nil {
		if w.eng != nil {
			_ = w.eng.Close(context.Background())
		}
		if w.browser != nil {
			_ = w.browser.Close()
		}
		if w.mail != nil {
			_ = w.mail.Close()
		}
		for _, s := range []*site{w.good, w.bad} {
			if s != nil {
				s.Close()
			}
		}
		if w.smtp != nil {
			_ = w.smtp.srv.Close()
		}
		if w.imap != nil {
			_ = w.imap.srv.Close()
		}
		if r := w.guard.Refused(); len(r) > 0 {
			fmt.Fprintln(os.Stderr, "webmail: FAIL: non-loopback dial attempts:", r)
			code = 1
		}
		if w.bad != nil {
			if hits := w.bad.requests(); len(hits) > 0 {
				fmt.Fprintln(os.Stderr, "webmail: FAIL: the never-granted server got requests:", hits)
				code = 1
			}
		}
		_ = os.RemoveAll(w.build)
	}
	os.Exit(code)
}

func setup() (int, error) {
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return 1, err
	}
	chromium := guestbuild.Tool{Bins: []string{"chromium-headless-shell", "chromium"}, Hint: "apt-get install -y chromium-headless-shell (or `make deps`)"}
	if err := guestbuild.Require(guestbuild.Clang, guestbuild.Go, chromium); err != nil {
		return 1, err
	}
	dir, err := os.MkdirTemp("", "reef-webmail-")
	if err != nil {
		return 1, err
	}
	w = &world{repo: repo, build: dir, wasm: map[string][]byte{}, guard: &netguard.Guard{}}
	if err := w.compileAll(); err != nil {
		return 1, err
	}

	w.bad = newBadSite()
	w.good = newGoodSite(w.bad.origin())
	if w.smtp, err = startSMTP(); err != nil {
		return 1, err
	}
	if w.imap, err = startIMAP("Archive"); err != nil {
		return 1, err
	}

	dns := stubResolver{"localhost": {netip.MustParseAddr("127.0.0.1")}}
	guard := &hosthttp.Guard{Resolver: dns, Dialer: w.guard.Dialer()}
	w.browser = hostbrowser.New(hostbrowser.Options{Dial: guard.DialContext, CallTimeout: 20 * time.Second, SelectorTimeout: 2 * time.Second})

	passFile := filepath.Join(dir, "mail-password")
	if err := os.WriteFile(passFile, []byte(mailPass+"\n"), 0o600); err != nil {
		return 1, err
	}
	server := func(port int) *hostmail.Server {
		return &hostmail.Server{Host: "127.0.0.1", Port: port, TLS: hostmail.TLSNone, Username: mailUser,
			PasswordFile: passFile, Timeout: skill.Duration(5 * time.Second)}
	}
	w.mail, err = hostmail.New(hostmail.Options{
		Accounts: map[string]hostmail.Account{
			"work":  {From: "Reports <" + mailUser + ">", SMTP: server(w.smtp.port), IMAP: server(w.imap.port)},
			"other": {From: mailUser, SMTP: server(w.smtp.port)},
		},
		Dial: w.guard.Dialer().DialContext,
	})
	if err != nil {
		return 1, err
	}
	w.eng, err = engine.New(context.Background(), engine.NewConfig().WithModules(w.browser, w.mail).WithCacheDir(guestbuild.CompileCache("webmail-compiled", dir)))
	if err != nil {
		return 1, err
	}
	return 0, nil
}

// compileAll builds every skill, the Go ones concurrently.
func (w *world) compileAll() error {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	for name, cfile := range skills {
		wg.Go(func() {
			b, err := w.compile(name, cfile)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			w.wasm[name] = b
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// compile builds skills-src/<name> the way `reef build` does.
func (w *world) compile(name, cfile string) ([]byte, error) {
	src := filepath.Join(w.repo, "skills-src", name)
	out := filepath.Join(w.build, name+".wasm")
	if cfile != "" {
		return guestbuild.C(w.repo, filepath.Join(src, cfile), out, "-Wl,--gc-sections")
	}
	return guestbuild.GoPackage(src, out)
}

// loadSkill copies skills-src/<name> (SKILL.md, reef.yaml) with its fresh
// module into a temp folder, loads it with skill.Load (both files
// validated), grants it g and loads it into the engine. edit, if not nil,
// amends the parsed manifest first (see withBrowserHost, withRecipients).
func loadSkill(t *testing.T, name string, g *policy.Grant, edit func(*skill.Skill)) (*skill.Skill, *engine.Plugin) {
	t.Helper()
	src := filepath.Join(w.repo, "skills-src", name)
	dst := filepath.Join(t.TempDir(), name)
	must(t, os.MkdirAll(dst, 0o755))
	for _, f := range []string{skill.SkillFile, skill.ManifestFile} {
		b, err := os.ReadFile(filepath.Join(src, f))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dst, f), b, 0o644))
	}
	must(t, os.WriteFile(filepath.Join(dst, name+".wasm"), w.wasm[name], 0o644))
	s, err := skill.Load(dst)
	if err != nil {
		t.Fatalf("skill.Load %s: %v", name, err)
	}
	if s.Name != name || s.Meta.Description == "" {
		t.Fatalf("bundle %s: name %q, description %q", name, s.Name, s.Meta.Description)
	}
	if edit != nil {
		edit(s)
	}
	p, err := policy.Compute(s, g, nil)
	must(t, err)
	pl, err := w.eng.Load(context.Background(), s, p, engine.LoadOptions{})
	must(t, err)
	t.Cleanup(func() { pl.Close(context.Background()) })
	return s, pl
}

// withBrowserHost adds a literal origin to the manifest's browser request:
// a real manifest never names a loopback test server, and its "*" never
// matches an IP literal (runtime/hostmatch).
func withBrowserHost(origin string) func(*skill.Skill) {
	return func(s *skill.Skill) {
		s.Manifest.Capabilities.Browser.Hosts = append(s.Manifest.Capabilities.Browser.Hosts, origin)
	}
}

// call validates the input against the function's schema (as reef run and
// the server do) and calls the function.
func call(t *testing.T, s *skill.Skill, pl *engine.Plugin, fn string, in any) ([]byte, error) {
	t.Helper()
	b, err := json.Marshal(in)
	must(t, err)
	if err := s.ValidateInput(fn, b); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	return pl.Call(ctx, fn, b)
}

// callJSON is call with the output decoded into out.
func callJSON(t *testing.T, s *skill.Skill, pl *engine.Plugin, fn string, in, out any) error {
	t.Helper()
	res, err := call(t, s, pl, fn, in)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(res, out); err != nil {
		t.Fatalf("%s output %q: %v", fn, res, err)
	}
	return nil
}

// wantDenied checks err is a policy denial of capability for value by
// skill, and that its text names the skill and the capability.
func wantDenied(t *testing.T, err error, skillName, capability, value string) {
	t.Helper()
	var d *policy.Denial
	if !errors.As(err, &d) {
		t.Fatalf("want a %s denial, got %v", capability, err)
	}
	if d.Skill != skillName || d.Capability != capability || !strings.Contains(d.Value, value) {
		t.Fatalf("denial %+v, want skill %q capability %q value ~%q", d, skillName, capability, value)
	}
	msg := err.Error()
	if !strings.Contains(msg, `"`+skillName+`"`) || !strings.Contains(msg, capability) {
		t.Fatalf("error %q does not name the skill %q and the capability %q", msg, skillName, capability)
	}
}

// golden is one tests/*.json case of a skill.
type golden struct {
	Function       string          `json:"function"`
	Input          json.RawMessage `json:"input"`
	Config         json.RawMessage `json:"config"`
	Output         json.RawMessage `json:"output"`
	OutputContains *string         `json:"output_contains"`
	Error          *string         `json:"error"`
}

// runGoldens runs the skill's tests/*.json cases against pl.
func runGoldens(t *testing.T, s *skill.Skill, pl *engine.Plugin) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(w.repo, "skills-src", s.Name, "tests", "*.json"))
	if len(files) == 0 {
		t.Fatalf("%s has no tests/*.json", s.Name)
	}
	for _, f := range files {
		t.Run("golden/"+filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			must(t, err)
			var g golden
			dec := json.NewDecoder(strings.NewReader(string(b)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&g); err != nil || g.Function == "" {
				t.Fatalf("%s: %v", f, err)
			}
			var out []byte
			err = s.ValidateInput(g.Function, g.Input)
			if err == nil {
				out, err = pl.Call(context.Background(), g.Function, g.Input)
			}
			switch {
			case g.Error != nil:
				if err == nil || !strings.Contains(err.Error(), *g.Error) {
					t.Fatalf("want error containing %q, got %q %v", *g.Error, out, err)
				}
			case err != nil:
				t.Fatalf("unexpected error: %v", err)
			case g.Output != nil:
				var got, want any
				_ = json.Unmarshal(out, &got)
				_ = json.Unmarshal(g.Output, &want)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("output %s, want %s", out, g.Output)
				}
			case g.OutputContains != nil:
				if !strings.Contains(string(out), *g.OutputContains) {
					t.Fatalf("output %s does not contain %s", out, *g.OutputContains)
				}
			}
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
