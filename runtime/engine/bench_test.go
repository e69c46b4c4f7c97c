package engine_test

import (
	"bytes"
	"context"
	"testing"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/skill"
)

// BenchmarkTrivialCall compares one trivial call (greet with input "x",
// ≈20 kernel calls on the plain Extism ABI) under reef, extism go-sdk and
// raw wazero (api.Function.Call of an empty export, the floor).
func BenchmarkTrivialCall(b *testing.B) {
	ctx := context.Background()
	input := []byte("x")
	b.Run("reef/extism-abi", func(b *testing.B) {
		e := newEngine(b)
		pl := load(b, e, fixture(b, "greet"), skill.Limits{}, engine.LoadOptions{})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := pl.Call(ctx, "greet", input); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reef/bulk-abi", func(b *testing.B) {
		e := newEngine(b)
		pl := load(b, e, fixture(b, "greet_bulk"), skill.Limits{}, engine.LoadOptions{})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := pl.Call(ctx, "greet", input); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The same shape as wazero-raw: an export that does nothing, so the
	// difference is reef's own per-call cost.
	b.Run("reef/empty-export", func(b *testing.B) {
		e := newEngine(b)
		pl := load(b, e, fixture(b, "greet_bulk"), skill.Limits{}, engine.LoadOptions{})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := pl.Call(ctx, "empty", nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("extism-go-sdk", func(b *testing.B) {
		p := extismPlugin(b, "greet")
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := p.Call("greet", input); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Raw wazero calling an empty export, as a user would write it with
	// interruption (CloseOnContextDone, a watcher goroutine per call) and
	// without (a guest loop could then never be stopped).
	b.Run("wazero-raw", func(b *testing.B) { rawWazero(b, true) })
	b.Run("wazero-raw-uninterruptible", func(b *testing.B) { rawWazero(b, false) })
}

func rawWazero(b *testing.B, interruptible bool) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(interruptible))
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	mod, err := rt.InstantiateWithConfig(ctx, fixture(b, "nomem").Wasm, wazero.NewModuleConfig().WithStartFunctions("_initialize"))
	if err != nil {
		b.Fatal(err)
	}
	f := mod.ExportedFunction("run")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Call(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEcho1MiB moves 1 MiB in and out.
func BenchmarkEcho1MiB(b *testing.B) {
	ctx := context.Background()
	input := bytes.Repeat([]byte("r"), 1<<20)
	for _, fx := range []string{"greet_bulk", "greet"} {
		name := map[string]string{"greet": "reef/extism-abi", "greet_bulk": "reef/bulk-abi"}[fx]
		b.Run(name, func(b *testing.B) {
			e := newEngine(b)
			pl := load(b, e, fixture(b, fx), skill.Limits{}, engine.LoadOptions{})
			b.SetBytes(1 << 20)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := pl.Call(ctx, "echo", input); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("extism-go-sdk", func(b *testing.B) {
		p := extismPlugin(b, "greet")
		b.SetBytes(1 << 20)
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := p.Call("echo", input); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCleanInstanceCall measures isolation "call" (a fresh instance
// per call).
func BenchmarkCleanInstanceCall(b *testing.B) {
	ctx := context.Background()
	e := newEngine(b)
	s := fixture(b, "greet_bulk")
	s.Manifest.Isolation = skill.IsolationCall
	pl := load(b, e, s, skill.Limits{}, engine.LoadOptions{})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pl.Call(ctx, "greet", []byte("x")); err != nil {
			b.Fatal(err)
		}
	}
}

func extismPlugin(b testing.TB, name string) *extism.Plugin {
	ctx := context.Background()
	m := extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: fixture(b, name).Wasm}}}
	p, err := extism.NewPlugin(ctx, m, extism.PluginConfig{EnableWasi: true, RuntimeConfig: extismRuntimeConfig()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close(ctx) })
	return p
}

// BenchmarkInstance reports what one instance costs: the time to create it
// (instantiate + _initialize, measured with isolation "call" and no
// prewarming between calls being faster than the loop) and the memory a
// pooled instance holds idle after a call.
func BenchmarkInstance(b *testing.B) {
	ctx := context.Background()
	for _, fx := range []string{"greet_bulk", "greet_go"} {
		b.Run(fx, func(b *testing.B) {
			e := newEngine(b)
			pooled := load(b, e, fixture(b, fx), skill.Limits{}, engine.LoadOptions{})
			if _, err := pooled.Call(ctx, "greet", []byte("x")); err != nil {
				b.Fatal(err)
			}
			mem := pooled.Stats().IdleMemoryBytes
			s := fixture(b, fx)
			s.Name += "-call"
			s.Manifest.Isolation = skill.IsolationCall
			pl := load(b, e, s, skill.Limits{}, engine.LoadOptions{})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := pl.Call(ctx, "empty", nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(mem), "bytes/instance")
		})
	}
}
