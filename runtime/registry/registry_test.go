package registry_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/registry"
)

func wasm(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "engine", "testdata", name+".wasm"))
	if err != nil {
		t.Fatalf("%v (run `make testdata`)", err)
	}
	return b
}

func writeBundle(t *testing.T, dir, name string, wasmBytes []byte, fn string) {
	t.Helper()
	d := filepath.Join(dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	md := "---\nname: " + name + "\ndescription: Test skill " + name + ".\n---\n# " + name + "\n"
	yml := "wasm: " + name + ".wasm\nfunctions:\n  - name: " + fn + "\n"
	for f, b := range map[string][]byte{"SKILL.md": []byte(md), "reef.yaml": []byte(yml), name + ".wasm": wasmBytes} {
		if err := os.WriteFile(filepath.Join(d, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func newEngine(t *testing.T) *engine.Engine {
	e, err := engine.New(context.Background(), engine.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return e
}

func TestScanListsBrokenSkillsBesideGoodOnes(t *testing.T) {
	dir := t.TempDir()
	writeBundle(t, dir, "good", wasm(t, "greet"), "greet")
	writeBundle(t, dir, "broken", []byte("not wasm at all"), "greet")
	if err := os.WriteFile(filepath.Join(dir, "bare.wasm"), wasm(t, "greet_bulk"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A folder without SKILL.md is ignored; a bad manifest is an error.
	writeBundle(t, dir, "badyaml", wasm(t, "greet"), "greet")
	if err := os.WriteFile(filepath.Join(dir, "badyaml", "reef.yaml"), []byte("wasm: badyaml.wasm\nfunctions: []\nsurprise: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := registry.New(registry.Options{Dir: dir, Engine: newEngine(t)})
	err := r.Scan(context.Background())
	var le *registry.SkillLoadError
	if !errors.As(err, &le) {
		t.Fatalf("scan error %v is not a SkillLoadError", err)
	}
	got := map[string]string{}
	for _, st := range r.List() {
		status := "ok"
		if st.LoadErr != nil {
			status = st.LoadErr.Error()
		}
		got[st.Name] = status
	}
	if got["good"] != "ok" || got["bare"] != "ok" || !strings.Contains(got["broken"], "not a WebAssembly module") || !strings.Contains(got["badyaml"], "surprise") {
		t.Fatalf("list: %v", got)
	}
	l, err := r.Acquire("good")
	if err != nil {
		t.Fatal(err)
	}
	out, err := l.Plugin.Call(context.Background(), "greet", []byte("x"))
	l.Release()
	if err != nil || string(out) != "Hello, x!" {
		t.Fatalf("%q %v", out, err)
	}
	if _, err := r.Acquire("broken"); !errors.As(err, &le) {
		t.Fatalf("acquire broken: %v", err)
	}
	if _, err := r.Acquire("nope"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("acquire unknown: %v", err)
	}
}

func TestBrokenUpdateKeepsOldVersion(t *testing.T) {
	dir := t.TempDir()
	writeBundle(t, dir, "s", wasm(t, "greet"), "greet")
	r := registry.New(registry.Options{Dir: dir, Engine: newEngine(t)})
	if err := r.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "s", "s.wasm"), []byte("\x00asm\x01\x00\x00\x00garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(context.Background(), "s"); err == nil {
		t.Fatal("broken reload succeeded")
	}
	l, err := r.Acquire("s")
	if err != nil {
		t.Fatalf("old version not serving: %v", err)
	}
	defer l.Release()
	if out, err := l.Plugin.Call(context.Background(), "greet", []byte("y")); err != nil || string(out) != "Hello, y!" {
		t.Fatalf("%q %v", out, err)
	}
	if st := r.List(); st[0].LoadErr == nil || st[0].Entry == nil {
		t.Fatalf("want both serving entry and load error: %+v", st[0])
	}
}

// TestHotReloadUnderLoad swaps a skill's module many times while clients
// call it continuously: no call may fail and every output comes from one
// of the two versions.
func TestHotReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	greet, bulk := wasm(t, "greet"), wasm(t, "greet_bulk")
	writeBundle(t, dir, "s", greet, "greet")
	r := registry.New(registry.Options{Dir: dir, Engine: newEngine(t)})
	if err := r.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var calls, failures atomic.Int64
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil && n < 20000; n++ {
				l, err := r.Acquire("s")
				if err != nil {
					failures.Add(1)
					continue
				}
				out, err := l.Plugin.Call(context.Background(), "greet", []byte("z"))
				l.Release()
				calls.Add(1)
				if err != nil || string(out) != "Hello, z!" {
					failures.Add(1)
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		b := greet
		if i%2 == 0 {
			b = bulk
		}
		tmp := filepath.Join(dir, "s", ".s.wasm.tmp")
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "s", "s.wasm")); err != nil {
			t.Fatal(err)
		}
		if err := r.Reload(context.Background(), "s"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if failures.Load() != 0 || calls.Load() == 0 {
		t.Fatalf("%d failures in %d calls", failures.Load(), calls.Load())
	}
}

func TestWatchPicksUpNewSkill(t *testing.T) {
	dir := t.TempDir()
	r := registry.New(registry.Options{Dir: dir, Engine: newEngine(t)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Watch(ctx, registry.WatchOptions{Debounce: 20 * time.Millisecond}) }()
	time.Sleep(50 * time.Millisecond)
	writeBundle(t, dir, "late", wasm(t, "greet"), "greet")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if l, err := r.Acquire("late"); err == nil {
			l.Release()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("watcher did not load the new skill")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.RemoveAll(filepath.Join(dir, "late")); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := r.Acquire("late"); errors.Is(err, registry.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("watcher did not remove the skill")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestLazyScan: a lazy scan compiles nothing and keeps no module bytes; the
// first call compiles (re-reading the file, checked against its digest).
func TestLazyScan(t *testing.T) {
	dir := t.TempDir()
	writeBundle(t, dir, "s", wasm(t, "greet"), "greet")
	writeBundle(t, dir, "broken", []byte("not wasm"), "greet")
	r := registry.New(registry.Options{Dir: dir, Engine: newEngine(t), Lazy: true})
	if err := r.Scan(context.Background()); err != nil {
		t.Fatalf("lazy scan reported %v", err)
	}
	l, err := r.Acquire("s")
	if err != nil {
		t.Fatal(err)
	}
	if l.Plugin.Compiled() || l.Skill.Wasm != nil {
		t.Fatal("lazy scan compiled the module or kept its bytes")
	}
	out, err := l.Plugin.Call(context.Background(), "greet", []byte("q"))
	l.Release()
	if err != nil || string(out) != "Hello, q!" {
		t.Fatalf("%q %v", out, err)
	}
	b, err := r.Acquire("broken")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	if _, err := b.Plugin.Call(context.Background(), "greet", nil); err == nil || !strings.Contains(err.Error(), "not a WebAssembly module") {
		t.Fatalf("broken skill's first call: %v", err)
	}
	// A module replaced on disk after the scan is not run unchecked.
	writeBundle(t, dir, "t", wasm(t, "nomem"), "run") // a digest not compiled yet
	if err := r.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "t", "t.wasm"), wasm(t, "greet_bulk"), 0o644); err != nil {
		t.Fatal(err)
	}
	lt, err := r.Acquire("t")
	if err != nil {
		t.Fatal(err)
	}
	defer lt.Release()
	if _, err := lt.Plugin.Call(context.Background(), "run", nil); err == nil || !strings.Contains(err.Error(), "changed on disk") {
		t.Fatalf("swapped module: %v", err)
	}
}
