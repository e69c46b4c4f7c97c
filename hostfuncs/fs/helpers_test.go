package hostfs

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/hostfuncs/abi/abitest"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

const skillName = "tester"

// recorder is a policy.Recorder that keeps every decision.
type recorder struct {
	mu sync.Mutex
	ds []policy.Decision
}

func (r *recorder) Record(d policy.Decision) {
	r.mu.Lock()
	r.ds = append(r.ds, d)
	r.mu.Unlock()
}

func (r *recorder) denials() []policy.Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []policy.Decision
	for _, d := range r.ds {
		if !d.Allowed {
			out = append(out, d)
		}
	}
	return out
}

func (r *recorder) byID(id string) (policy.Decision, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.ds {
		if d.ID == id {
			return d, true
		}
	}
	return policy.Decision{}, false
}

// env is a skill with three mounts over real directories under
// t.TempDir(), plus a directory outside every mount holding a secret.
//
//	/data  -> base/data   rw
//	/other -> base/other  rw
//	/ro    -> base/ro     ro (granted rw, requested ro)
//	          base/outside/secret.txt (never reachable)
type env struct {
	t       *testing.T
	base    string
	data    string
	other   string
	ro      string
	outside string
	secret  string
	rec     *recorder
	pol     *policy.Policy
	m       *Module
}

func newEnv(t testing.TB, opts Options) *env {
	tt, _ := t.(*testing.T)
	base := t.TempDir()
	e := &env{
		t:       tt,
		base:    base,
		data:    filepath.Join(base, "data"),
		other:   filepath.Join(base, "other"),
		ro:      filepath.Join(base, "ro"),
		outside: filepath.Join(base, "outside"),
		secret:  "TOP-SECRET-" + filepath.Base(base),
		rec:     &recorder{},
	}
	for _, d := range []string{e.data, e.other, e.ro, e.outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(t, filepath.Join(e.outside, "secret.txt"), e.secret)
	mustWrite(t, filepath.Join(e.data, "a.txt"), "hello")
	mustWrite(t, filepath.Join(e.ro, "r.txt"), "read only")
	s := &skill.Skill{Name: skillName, Manifest: skill.Manifest{Capabilities: skill.Capabilities{FS: map[string]skill.Access{
		"/data": skill.ReadWrite, "/other": skill.ReadWrite, "/ro": skill.ReadOnly,
	}}}}
	g := &policy.Grant{FS: map[string]string{
		"/data": e.data + ":rw", "/other": e.other + ":rw", "/ro": e.ro + ":rw",
	}}
	p, err := policy.Compute(s, g, e.rec)
	if err != nil {
		t.Fatal(err)
	}
	e.pol = p
	e.m = New(opts)
	return e
}

func mustWrite(t testing.TB, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readHost(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// call runs the handler fn with req (a string is sent as is, anything else
// as JSON).
func (e *env) call(fn string, req any, data []byte) ([]byte, error) {
	var raw []byte
	switch r := req.(type) {
	case string:
		raw = []byte(r)
	default:
		b, err := json.Marshal(r)
		if err != nil {
			panic(err)
		}
		raw = b
	}
	for _, f := range e.m.Funcs() {
		if f.Name == fn {
			return f.Handler(abitest.New(context.Background(), skillName, e.pol), raw, data)
		}
	}
	panic("no function " + fn)
}

func (e *env) mustCall(t testing.TB, fn string, req any, data []byte) []byte {
	t.Helper()
	out, err := e.call(fn, req, data)
	if err != nil {
		t.Fatalf("%s %v: %v", fn, req, err)
	}
	return out
}

func code(err error) string {
	if err == nil {
		return ""
	}
	return abi.ToDocument(policy.CapFS, err).Code
}

// wantDenied asserts err is a *policy.Denial for value naming the skill
// and "fs", recorded through the recorder under the same id.
func (e *env) wantDenied(t testing.TB, err error, value, reasonPart string) {
	t.Helper()
	var d *policy.Denial
	if !errors.As(err, &d) {
		t.Fatalf("want *policy.Denial for %q, got %T %v", value, err, err)
	}
	if d.Skill != skillName || d.Capability != policy.CapFS || d.Value != value {
		t.Fatalf("denial names skill %q capability %q value %q; want %q fs %q", d.Skill, d.Capability, d.Value, skillName, value)
	}
	if reasonPart != "" && !strings.Contains(d.Reason, reasonPart) {
		t.Fatalf("denial reason %q does not mention %q", d.Reason, reasonPart)
	}
	rd, ok := e.rec.byID(d.ID)
	if !ok || rd.Allowed || rd.Value != value || rd.Skill != skillName || rd.Capability != policy.CapFS {
		t.Fatalf("denial %s not recorded as such: %+v (found %v)", d.ID, rd, ok)
	}
	if doc := abi.ToDocument(policy.CapFS, err); doc.Code != abi.CodeDenied {
		t.Fatalf("guest code %q, want denied", doc.Code)
	}
}

// wantNoSecret fails if out is (or contains) the outside secret.
func (e *env) wantNoSecret(t testing.TB, out []byte) {
	t.Helper()
	if strings.Contains(string(out), e.secret) {
		t.Fatalf("outside secret leaked: %q", out)
	}
}
