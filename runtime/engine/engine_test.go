package engine_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

// fixture loads testdata/<name>.wasm, built by `make testdata`.
func fixture(t testing.TB, name string) *skill.Skill {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".wasm"))
	if err != nil {
		t.Fatalf("fixture %s: %v (run `make testdata` to build the Wasm fixtures)", name, err)
	}
	sum := sha256.Sum256(b)
	return &skill.Skill{Name: strings.ReplaceAll(name, "_", "-"), Bare: true, Wasm: b, Digest: "sha256:" + hex.EncodeToString(sum[:]),
		Manifest: skill.Manifest{Isolation: skill.IsolationPooled}}
}

func newEngine(t testing.TB) *engine.Engine {
	t.Helper()
	e, err := engine.New(context.Background(), engine.NewConfig().WithCacheDir(testCacheDir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return e
}

func load(t testing.TB, e *engine.Engine, s *skill.Skill, limits skill.Limits, opts engine.LoadOptions) *engine.Plugin {
	t.Helper()
	s.Manifest.Limits = limits
	p, err := policy.Compute(s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := e.Load(context.Background(), s, p, opts)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

func TestGreet(t *testing.T) {
	e := newEngine(t)
	for _, fx := range []string{"greet", "greet_bulk"} {
		t.Run(fx, func(t *testing.T) {
			pl := load(t, e, fixture(t, fx), skill.Limits{}, engine.LoadOptions{Config: map[string]string{}})
			for i := 0; i < 3; i++ { // pooled instance reused
				out, err := pl.Call(context.Background(), "greet", []byte("reef"))
				if err != nil {
					t.Fatal(err)
				}
				if string(out) != "Hello, reef!" {
					t.Fatalf("got %q", out)
				}
			}
			if got := pl.Stats().Idle; got != 1 {
				t.Fatalf("idle instances = %d, want 1 (reused)", got)
			}
		})
	}
}

func TestConfigVarsErrors(t *testing.T) {
	e := newEngine(t)
	pl := load(t, e, fixture(t, "greet"), skill.Limits{}, engine.LoadOptions{Config: map[string]string{"greeting": "Ahoy"}})
	out, err := pl.Call(context.Background(), "greet", []byte("x"))
	if err != nil || string(out) != "Ahoy, x!" {
		t.Fatalf("config: %q %v", out, err)
	}
	for want := 1; want <= 3; want++ {
		out, err := pl.Call(context.Background(), "count", nil)
		if err != nil || string(out) != string(rune('0'+want)) {
			t.Fatalf("count %d: %q %v", want, out, err)
		}
	}
	_, err = pl.Call(context.Background(), "fail", nil)
	var ce *engine.CallError
	if !errors.As(err, &ce) || ce.Kind != engine.KindGuest || !strings.Contains(err.Error(), "this plugin always fails") || ce.Skill != "greet" || ce.Function != "fail" {
		t.Fatalf("fail: %v", err)
	}
	_, err = pl.Call(context.Background(), "code", nil)
	if !errors.As(err, &ce) || ce.Code != 7 {
		t.Fatalf("code: %v", err)
	}
	_, err = pl.Call(context.Background(), "nope", nil)
	if engine.KindOf(err) != engine.KindNotFound || !strings.Contains(err.Error(), "greet") {
		t.Fatalf("missing function: %v", err)
	}
	// The instance survives guest errors.
	if out, err := pl.Call(context.Background(), "greet", []byte("y")); err != nil || string(out) != "Ahoy, y!" {
		t.Fatalf("after errors: %q %v", out, err)
	}
}

func TestHostileCalls(t *testing.T) {
	e := newEngine(t)
	pl := load(t, e, fixture(t, "hostile"), skill.Limits{Memory: 16 << 20, Timeout: skill.Duration(200 * time.Millisecond), Output: 1 << 20}, engine.LoadOptions{})
	cases := []struct {
		fn   string
		kind engine.Kind
		text string
	}{
		{"loop", engine.KindTimeout, "timeout"},
		{"sleepy", engine.KindTimeout, "timeout"},
		{"recurse", engine.KindTrap, "stack"},
		{"trap", engine.KindTrap, "unreachable"},
		{"oob", engine.KindTrap, "out of bounds"},
		{"bigout", engine.KindOutput, "exceeds the limit"},
		{"bigalloc", engine.KindGuest, "alloc refused"},
		{"badhandle", engine.KindTrap, "outside kernel memory"},
	}
	for _, c := range cases {
		t.Run(c.fn, func(t *testing.T) {
			start := time.Now()
			_, err := pl.Call(context.Background(), c.fn, nil)
			if engine.KindOf(err) != c.kind || !strings.Contains(err.Error(), c.text) || !strings.Contains(err.Error(), `"hostile"`) {
				t.Fatalf("%s: got %v (kind %v), want kind %v containing %q", c.fn, err, engine.KindOf(err), c.kind, c.text)
			}
			if c.kind == engine.KindTimeout {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("timeout does not match context.DeadlineExceeded: %v", err)
				}
				if el := time.Since(start); el > 5*time.Second {
					t.Fatalf("loop not interrupted: %v", el)
				}
			}
			// The next call works.
			out, err := pl.Call(context.Background(), "ok", nil)
			if err != nil || string(out) != "ok" {
				t.Fatalf("after %s: %q %v", c.fn, out, err)
			}
		})
	}
	// memory.grow stops at the limit inside the guest (own timeout: growing
	// page by page is slow under the race detector).
	s := fixture(t, "hostile")
	s.Name = "hostile-grow"
	grow := load(t, e, s, skill.Limits{Memory: 16 << 20, Timeout: skill.Duration(time.Minute)}, engine.LoadOptions{})
	out, err := grow.Call(context.Background(), "grow", nil)
	if err != nil {
		t.Fatal(err)
	}
	if pages := string(out); pages == "0" || len(pages) > 3 {
		t.Fatalf("grew %s pages under a 16 MiB limit", pages)
	}
}

func TestLoadErrors(t *testing.T) {
	e := newEngine(t)
	good := fixture(t, "greet")
	cases := []struct {
		name   string
		sk     *skill.Skill
		limits skill.Limits
		text   string
	}{
		{"not wasm", &skill.Skill{Name: "junk", Wasm: []byte("#!/bin/sh\necho hi\n"), Digest: "sha256:1"}, skill.Limits{}, "not a WebAssembly module"},
		{"truncated", &skill.Skill{Name: "trunc", Wasm: good.Wasm[:len(good.Wasm)/2], Digest: "sha256:2"}, skill.Limits{}, "invalid WebAssembly module"},
		{"unknown import", fixture(t, "unknown_import"), skill.Limits{}, "extism:host/user.steal_secrets"},
		{"start traps", fixture(t, "start_trap"), skill.Limits{}, "first instance failed"},
		{"memory over cap", fixture(t, "bigmem"), skill.Limits{Memory: 32 << 20}, "minimum memory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.sk.Manifest.Limits = c.limits
			p, _ := policy.Compute(c.sk, nil, nil)
			_, err := e.Load(context.Background(), c.sk, p, engine.LoadOptions{})
			var le *engine.LoadError
			if !errors.As(err, &le) || !strings.Contains(err.Error(), c.text) || !strings.Contains(err.Error(), c.sk.Name) {
				t.Fatalf("got %v, want LoadError containing %q", err, c.text)
			}
		})
	}
	t.Run("missing export", func(t *testing.T) {
		s := fixture(t, "nomem")
		s.Bare = false
		s.Manifest.Functions = []skill.Function{{Name: "run"}, {Name: "nothere"}, {Name: "add"}}
		p, _ := policy.Compute(s, nil, nil)
		_, err := e.Load(context.Background(), s, p, engine.LoadOptions{})
		if err == nil || !strings.Contains(err.Error(), `"nothere" is declared`) || !strings.Contains(err.Error(), `"add" has signature`) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestIsolationCall(t *testing.T) {
	e := newEngine(t)
	s := fixture(t, "greet")
	s.Manifest.Isolation = skill.IsolationCall
	pl := load(t, e, s, skill.Limits{}, engine.LoadOptions{})
	for i := 0; i < 3; i++ {
		if out, err := pl.Call(context.Background(), "greet", []byte("a")); err != nil || string(out) != "Hello, a!" {
			t.Fatalf("%q %v", out, err)
		}
	}
	// Used instances are discarded; at most one fresh, prewarmed instance
	// waits for the next call.
	if st := pl.Stats(); st.Idle > 1 {
		t.Fatalf("idle = %d: isolation call must not keep used instances", st.Idle)
	}
	// Every call ran on an instance of its own: at least one per call
	// (prewarming, racing the calls, may add a few).
	if n := e.Stats().InstancesCreated; n < 3 || n > 6 {
		t.Fatalf("instances created = %d, want 3 to 6", n)
	}
}

func TestConcurrentCalls(t *testing.T) {
	e := newEngine(t)
	pl := load(t, e, fixture(t, "greet_bulk"), skill.Limits{}, engine.LoadOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				in := []byte(strings.Repeat("z", g+i%7))
				out, err := pl.Call(context.Background(), "echo", in)
				if err != nil || !bytes.Equal(out, in) {
					errs <- errors.New("mismatch or error")
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestCallerCancel(t *testing.T) {
	e := newEngine(t)
	pl := load(t, e, fixture(t, "hostile"), skill.Limits{Timeout: skill.Duration(time.Minute)}, engine.LoadOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := pl.Call(ctx, "loop", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel2)
	_, err = pl.Call(ctx2, "loop", nil)
	if engine.KindOf(err) != engine.KindCanceled {
		t.Fatalf("got %v", err)
	}
}

func TestLazyLoad(t *testing.T) {
	e := newEngine(t)
	s := fixture(t, "greet")
	p, _ := policy.Compute(s, nil, nil)
	pl, err := e.Load(context.Background(), s, p, engine.LoadOptions{Lazy: true})
	if err != nil {
		t.Fatal(err)
	}
	if pl.Compiled() {
		t.Fatal("lazy plugin compiled at load")
	}
	if out, err := pl.Call(context.Background(), "greet", []byte("l")); err != nil || string(out) != "Hello, l!" {
		t.Fatalf("%q %v", out, err)
	}
	if !pl.Compiled() {
		t.Fatal("not compiled after the first call")
	}
	// A broken module loads lazily and fails, clearly, on every call.
	bad := &skill.Skill{Name: "junk", Wasm: []byte("nope, not wasm"), Digest: "sha256:junk"}
	bp, _ := policy.Compute(bad, nil, nil)
	bpl, err := e.Load(context.Background(), bad, bp, engine.LoadOptions{Lazy: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		_, err := bpl.Call(context.Background(), "run", nil)
		var le *engine.LoadError
		if engine.KindOf(err) != engine.KindInstance || !errors.As(err, &le) || !strings.Contains(err.Error(), "not a WebAssembly module") {
			t.Fatalf("call %d: %v", i, err)
		}
	}
}

// TestStartFunctionLoop: a wasm start section that never returns would
// hang instantiation if it ran inside it; reef runs it as a call under the
// skill's timeout, so the load fails with a timeout naming the skill.
func TestStartFunctionLoop(t *testing.T) {
	e := newEngine(t)
	// (module (func loop br 0 end) (start 0))
	bin := []byte("\x00asm\x01\x00\x00\x00" +
		"\x01\x04\x01\x60\x00\x00" + // type () -> ()
		"\x03\x02\x01\x00" + // func 0: type 0
		"\x08\x01\x00" + // start 0
		"\x0a\x09\x01\x07\x00\x03\x40\x0c\x00\x0b\x0b") // loop br 0 end
	sum := sha256.Sum256(bin)
	s := &skill.Skill{Name: "start-spin", Bare: true, Wasm: bin, Digest: "sha256:" + hex.EncodeToString(sum[:])}
	s.Manifest.Limits = skill.Limits{Timeout: skill.Duration(100 * time.Millisecond)}
	p, err := policy.Compute(s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.Load(context.Background(), s, p, engine.LoadOptions{})
		done <- err
	}()
	select {
	case err := <-done:
		if engine.KindOf(err) != engine.KindTimeout || !strings.Contains(err.Error(), "start-spin") || !strings.Contains(err.Error(), "start function") {
			t.Fatalf("got %v (kind %v), want a timeout of the start function naming the skill", err, engine.KindOf(err))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a looping start function hung Load")
	}
}
