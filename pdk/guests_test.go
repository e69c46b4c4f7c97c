package pdk_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/reefhq/reef/hostfuncs/abi"
	hostfs "github.com/reefhq/reef/hostfuncs/fs"
	hostkv "github.com/reefhq/reef/hostfuncs/kv"
	"github.com/reefhq/reef/runtime/author"
	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

var langs = []string{"c", "go", "rust", "as"}

// guestBuilds caches each guest per test binary: building the four
// languages twice (bulk and Extism ABI) is the slow part of this package.
var guestBuilds sync.Map // key "lang/abi" -> *guestBuild

type guestBuild struct {
	once sync.Once
	s    *skill.Skill
	err  error
}

// guest builds testdata/guest-<lang> with the repository's PDK, in a
// temporary copy inside the repository (so Go, C and AssemblyScript
// resolve the PDK from here), and returns the loaded skill.
func guest(t testing.TB, lang string, extismOnly bool) *skill.Skill {
	t.Helper()
	key := fmt.Sprintf("%s/%v", lang, extismOnly)
	v, _ := guestBuilds.LoadOrStore(key, &guestBuild{})
	g := v.(*guestBuild)
	g.once.Do(func() { g.s, g.err = buildGuest(lang, extismOnly) })
	if g.err != nil {
		t.Fatalf("build guest-%s: %v", lang, g.err)
	}
	return g.s
}

func buildGuest(lang string, extismOnly bool) (*skill.Skill, error) {
	pdkDir, err := filepath.Abs(".")
	if err != nil {
		return nil, err
	}
	base, err := os.MkdirTemp(filepath.Join(pdkDir, "testdata"), "build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(base)
	src := filepath.Join("testdata", "guest-"+lang)
	dst := filepath.Join(base, "guest-"+lang)
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if strings.HasSuffix(p, ".wasm") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, ".rs") { // the copy is one level deeper
			b = []byte(strings.Replace(string(b), `#[path = "../../rust/reef.rs"]`, fmt.Sprintf("#[path = %q]", filepath.Join(pdkDir, "rust", "reef.rs")), 1))
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		return nil, err
	}
	tc := author.Toolchains{ASC: filepath.Join(pdkDir, "assemblyscript", "node_modules", ".bin", "asc")}
	if _, err := author.Build(context.Background(), dst, author.BuildOptions{Toolchains: tc, ExtismOnly: extismOnly}); err != nil {
		return nil, err
	}
	return skill.Load(dst)
}

type env struct {
	eng  *engine.Engine
	data string // host directory granted as /data
}

func newEnv(t testing.TB) *env {
	t.Helper()
	kv, err := hostkv.Open(hostkv.Options{Path: filepath.Join(t.TempDir(), "kv.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kv.Close() })
	eng, err := engine.New(context.Background(), engine.NewConfig().WithModules([]abi.Module{kv, hostfs.New(hostfs.Options{})}...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "hello.txt"), []byte("hello from the host"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &env{eng: eng, data: data}
}

func (e *env) load(t testing.TB, s *skill.Skill, g *policy.Grant, config map[string]string) *engine.Plugin {
	t.Helper()
	p, err := policy.Compute(s, g, nil)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := e.eng.Load(context.Background(), s, p, engine.LoadOptions{Config: config})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pl.Close(context.Background()) })
	return pl
}

func (e *env) grant() *policy.Grant {
	return &policy.Grant{KV: &policy.KVGrant{Quota: 64 << 10}, FS: map[string]string{"/data": e.data + ":rw"}}
}

// TestGuests runs the same guest written with each PDK, built for reef's
// bulk ABI and for the plain Extism ABI, through the engine.
func TestGuests(t *testing.T) {
	for _, lang := range langs {
		for _, extism := range []bool{false, true} {
			abiName := map[bool]string{false: "bulk", true: "extism"}[extism]
			t.Run(lang+"/"+abiName, func(t *testing.T) {
				t.Parallel()
				s := guest(t, lang, extism)
				e := newEnv(t)
				ctx := context.Background()
				granted := e.load(t, s, e.grant(), map[string]string{"greeting": "Ahoy"})
				denied := e.load(t, s, nil, nil)

				imports := strings.Join(granted.Imports(), " ")
				if extism == strings.Contains(imports, "reef_input_read") || extism == strings.Contains(imports, "reef_store") {
					t.Errorf("extism=%v but imports: %s", extism, imports)
				}

				call := func(pl *engine.Plugin, fn, in string) (string, error) {
					out, err := pl.Call(ctx, fn, []byte(in))
					return string(out), err
				}
				// JSON in and out, config
				if out, err := call(granted, "greet", `{"name":"Ada"}`); err != nil || out != `{"greeting":"Ahoy, Ada!"}` {
					t.Errorf("greet: %q %v", out, err)
				}
				if out, err := call(denied, "greet", `{"name":"Ada"}`); err != nil || out != `{"greeting":"Hello, Ada!"}` {
					t.Errorf("greet without config: %q %v", out, err)
				}
				// invalid JSON: a clear guest error, never a trap
				for _, bad := range []string{`{"name":`, `not json`, ``, `{"name":"x"} trailing`} {
					_, err := call(granted, "greet", bad)
					var ce *engine.CallError
					if !errors.As(err, &ce) || ce.Kind != engine.KindGuest || !strings.Contains(strings.ToLower(err.Error()), "invalid json") {
						t.Errorf("greet(%q): want a guest error naming invalid JSON, got %v", bad, err)
					}
				}
				// nesting past every PDK's depth limit: an error, not a stack overflow
				deep := `{"name":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`
				if _, err := call(granted, "greet", deep); engine.KindOf(err) != engine.KindGuest {
					t.Errorf("greet(deeply nested): want a guest error, got %v", err)
				}
				// the instance survived the bad inputs (no trap discarded it)
				if out, err := call(granted, "greet", `{"name":"again"}`); err != nil || !strings.Contains(out, "again") {
					t.Errorf("after bad input: %q %v", out, err)
				}
				// vars persist across calls
				for i := 1; i <= 2; i++ {
					if out, err := call(granted, "count", ""); err != nil || out != fmt.Sprint(i) {
						t.Errorf("count #%d: %q %v", i, out, err)
					}
				}
				if out, err := call(granted, "logs", ""); err != nil || out != "logged" {
					t.Errorf("logs: %q %v", out, err)
				}
				// kv: granted round trip, denied without a grant
				if out, err := call(granted, "kv", "color=teal"); err != nil || out != "teal" {
					t.Errorf("kv granted: %q %v", out, err)
				}
				if _, err := call(denied, "kv", "color=red"); err == nil || !strings.Contains(err.Error(), "capability not granted") {
					t.Errorf("kv denied: want \"capability not granted\", got %v", err)
				}
				// fs: read and write through the grant; denied without
				if out, err := call(granted, "fsread", "/data/hello.txt"); err != nil || out != "hello from the host" {
					t.Errorf("fsread: %q %v", out, err)
				}
				if out, err := call(granted, "fswrite", "/data/sub/new.txt=12345"); err != nil || out != "5" {
					t.Errorf("fswrite: %q %v", out, err)
				}
				if b, err := os.ReadFile(filepath.Join(e.data, "sub", "new.txt")); err != nil || string(b) != "12345" {
					t.Errorf("written file: %q %v", b, err)
				}
				if _, err := call(granted, "fsread", "/data/missing.txt"); err == nil || !strings.Contains(err.Error(), "not_found") {
					t.Errorf("fsread missing: want a not_found error, got %v", err)
				}
				if _, err := call(denied, "fsread", "/data/hello.txt"); err == nil || !strings.Contains(err.Error(), "capability not granted") {
					t.Errorf("fsread denied: want \"capability not granted\", got %v", err)
				}
				if _, err := call(granted, "fsread", "/data/../../etc/passwd"); err == nil {
					t.Error("fsread escaped the mount")
				}
			})
		}
	}
}
