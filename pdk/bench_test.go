package pdk_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/reefhq/reef/runtime/author"
	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

// helloSkills caches the `reef new` hello skill of each language, built
// outside the repository (the embedded PDK, exactly what authors get).
var helloSkills sync.Map

func hello(b *testing.B, lang author.Lang) *skill.Skill {
	b.Helper()
	if v, ok := helloSkills.Load(lang); ok {
		return v.(*skill.Skill)
	}
	name := "hello-" + string(lang)
	dir := filepath.Join(b.TempDir(), name)
	if _, err := author.Scaffold(dir, name, lang, author.ScaffoldOptions{}); err != nil {
		b.Fatal(err)
	}
	wd, _ := os.Getwd()
	tc := author.Toolchains{ASC: filepath.Join(wd, "assemblyscript", "node_modules", ".bin", "asc")}
	if _, err := author.Build(context.Background(), dir, author.BuildOptions{Toolchains: tc}); err != nil {
		b.Fatal(err)
	}
	s, err := skill.Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	helloSkills.Store(lang, s)
	return s
}

func newBenchEngine(b *testing.B, cacheDir string) *engine.Engine {
	b.Helper()
	c := engine.NewConfig()
	if cacheDir != "" {
		c = c.WithCacheDir(cacheDir)
	}
	e, err := engine.New(context.Background(), c)
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func loadPlugin(b *testing.B, e *engine.Engine, s *skill.Skill) *engine.Plugin {
	b.Helper()
	p, err := policy.Compute(s, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	pl, err := e.Load(context.Background(), s, p, engine.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return pl
}

// BenchmarkHello measures the `reef new` hello skill of each language:
// module size, compile time without and with the on-disk cache,
// instantiation (Load of an already compiled module: first instance
// created), memory held by one idle instance, and the p50 of a pooled
// call.
//
//	go test -run '^$' -bench Hello -benchtime 20x ./pdk/
func BenchmarkHello(b *testing.B) {
	ctx := context.Background()
	input := []byte(`{"name":"Ada"}`)
	for _, lang := range author.Langs {
		b.Run(string(lang)+"/compile-cold", func(b *testing.B) {
			s := hello(b, lang)
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				e := newBenchEngine(b, "")
				b.StartTimer()
				pl := loadPlugin(b, e, s)
				b.StopTimer()
				pl.Close(ctx)
				_ = e.Close(ctx)
				b.StartTimer()
			}
			b.ReportMetric(float64(len(s.Wasm)), "wasm-bytes")
		})
		b.Run(string(lang)+"/compile-cached", func(b *testing.B) {
			s := hello(b, lang)
			cache := b.TempDir()
			warm := newBenchEngine(b, cache)
			loadPlugin(b, warm, s).Close(ctx)
			_ = warm.Close(ctx)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				e := newBenchEngine(b, cache)
				b.StartTimer()
				pl := loadPlugin(b, e, s)
				b.StopTimer()
				pl.Close(ctx)
				_ = e.Close(ctx)
				b.StartTimer()
			}
		})
		b.Run(string(lang)+"/instantiate", func(b *testing.B) {
			s := hello(b, lang)
			e := newBenchEngine(b, "")
			defer e.Close(ctx)
			keep := loadPlugin(b, e, s) // holds the compiled module
			defer keep.Close(ctx)
			if _, err := keep.Call(ctx, "greet", input); err != nil {
				b.Fatal(err)
			}
			mem := keep.Stats().IdleMemoryBytes
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				loadPlugin(b, e, s).Close(ctx)
			}
			b.ReportMetric(float64(mem), "instance-bytes")
		})
		b.Run(string(lang)+"/call", func(b *testing.B) {
			s := hello(b, lang)
			e := newBenchEngine(b, "")
			defer e.Close(ctx)
			pl := loadPlugin(b, e, s)
			defer pl.Close(ctx)
			d := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t := time.Now()
				if _, err := pl.Call(ctx, "greet", input); err != nil {
					b.Fatal(err)
				}
				d = append(d, time.Since(t))
			}
			b.StopTimer()
			sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
			b.ReportMetric(float64(d[len(d)/2].Nanoseconds()), "p50-ns")
		})
	}
}

// goVariant is one way to build a Go hello skill.
type goVariant struct {
	name  string
	src   string
	flags []string
}

const goHelloTyped = `//go:build wasip1

package main

import reef "github.com/reefhq/reef/pdk/go"

type in struct{ Name string ` + "`json:\"name\"`" + ` }
type out struct{ Greeting string ` + "`json:\"greeting\"`" + ` }

//go:wasmexport greet
func greet() int32 { return reef.Run(func(i in) (out, error) { return out{"Hello, " + i.Name + "!"}, nil }) }

func main() {}
`

const goHelloLean = `//go:build wasip1

package main

import reef "github.com/reefhq/reef/pdk/go"

//go:wasmexport greet
func greet() int32 {
	return reef.RunBytes(func(b []byte) ([]byte, error) {
		v, err := reef.InputValue()
		if err != nil {
			return nil, err
		}
		name, _ := v.(map[string]any)["name"].(string)
		return []byte("{\"greeting\":\"Hello, " + name + "!\"}"), nil
	})
}

func main() {}
`

// BenchmarkGoFlags builds the Go hello skill with the flag sets
// pdk/go/README.md compares and reports size and instantiation time.
//
//	go test -run '^$' -bench GoFlags -benchtime 10x ./pdk/
func BenchmarkGoFlags(b *testing.B) {
	ctx := context.Background()
	variants := []goVariant{
		{"typed-json/no-flags", goHelloTyped, []string{"build", "-buildmode=c-shared"}},
		{"typed-json/trimpath", goHelloTyped, []string{"build", "-buildmode=c-shared", "-trimpath"}},
		{"typed-json/s-w-trimpath", goHelloTyped, []string{"build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w"}},
		{"lean/s-w-trimpath", goHelloLean, []string{"build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w"}},
		{"lean/s-w-trimpath-nojson", goHelloLean, []string{"build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-tags", "reef_nojson"}},
	}
	wd, _ := os.Getwd()
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			dir, err := os.MkdirTemp(filepath.Join(wd, "testdata"), "goflags-")
			if err != nil {
				b.Fatal(err)
			}
			defer os.RemoveAll(dir)
			if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(v.src), 0o644); err != nil {
				b.Fatal(err)
			}
			out := filepath.Join(b.TempDir(), "hello.wasm")
			args := append(append([]string{}, v.flags...), "-o", out, ".")
			if err := runGo(dir, args...); err != nil {
				b.Fatal(err)
			}
			wasm, err := os.ReadFile(out)
			if err != nil {
				b.Fatal(err)
			}
			s := &skill.Skill{Name: "hello-go", Bare: true, Wasm: wasm, Digest: digest(wasm), Manifest: skill.Manifest{Isolation: skill.IsolationPooled}}
			e := newBenchEngine(b, "")
			defer e.Close(ctx)
			keep := loadPlugin(b, e, s)
			defer keep.Close(ctx)
			if out, err := keep.Call(ctx, "greet", []byte(`{"name":"Ada"}`)); err != nil || string(out) != `{"greeting":"Hello, Ada!"}` {
				b.Fatalf("%s %v", out, err)
			}
			mem := keep.Stats().IdleMemoryBytes
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				loadPlugin(b, e, s).Close(ctx)
			}
			b.ReportMetric(float64(len(wasm)), "wasm-bytes")
			b.ReportMetric(float64(mem), "instance-bytes")
		})
	}
}
