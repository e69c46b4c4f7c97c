//go:build !wasip1

package catalog

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/reefhq/reef/runtime/author"
	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

// BenchmarkSkills reports, for every bundled skill: wasm size, compile
// time cold and from the disk cache, a fresh instance (isolation call),
// memory per pooled instance and the call time on its first passing golden
// case. `make skills` must have built the modules.
func BenchmarkSkills(b *testing.B) {
	ctx := context.Background()
	mods := catalogModules(b)
	for _, dir := range skillDirs(b) {
		s, err := skill.Load(dir)
		if err != nil {
			b.Fatalf("%s: %v (run make skills)", filepath.Base(dir), err)
		}
		cases, err := author.LoadCases(dir)
		if err != nil {
			b.Fatal(err)
		}
		var c *author.Case
		for i := range cases {
			if cases[i].Error == nil {
				c = &cases[i]
				break
			}
		}
		if c == nil {
			continue
		}
		pol, err := policy.Compute(s, c.Grants, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(s.Name+"/compile-cold", func(b *testing.B) {
			for b.Loop() {
				eng, err := engine.New(ctx, mods)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := eng.Load(ctx, s, pol, engine.LoadOptions{Config: c.Config}); err != nil {
					b.Fatal(err)
				}
				_ = eng.Close(ctx)
			}
			b.ReportMetric(float64(len(s.Wasm)), "wasm-bytes")
		})
		cache := b.TempDir()
		b.Run(s.Name+"/compile-cached", func(b *testing.B) {
			warm, _ := engine.New(ctx, mods.WithCacheDir(cache))
			if _, err := warm.Load(ctx, s, pol, engine.LoadOptions{Config: c.Config}); err != nil {
				b.Fatal(err)
			}
			_ = warm.Close(ctx)
			for b.Loop() {
				eng, err := engine.New(ctx, mods.WithCacheDir(cache))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := eng.Load(ctx, s, pol, engine.LoadOptions{Config: c.Config}); err != nil {
					b.Fatal(err)
				}
				_ = eng.Close(ctx)
			}
		})
		eng, err := engine.New(ctx, mods.WithCacheDir(cache))
		if err != nil {
			b.Fatal(err)
		}
		in := caseInput(s, *c)
		b.Run(s.Name+"/call", func(b *testing.B) {
			pl, err := eng.Load(ctx, s, pol, engine.LoadOptions{Config: c.Config})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := pl.Call(ctx, c.Function, in); err != nil {
				b.Fatal(err)
			}
			mem := pl.Stats().IdleMemoryBytes
			for b.Loop() {
				if _, err := pl.Call(ctx, c.Function, in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(mem), "bytes/instance")
		})
		b.Run(s.Name+"/call-fresh-instance", func(b *testing.B) {
			fresh := *pol
			fresh.Isolation = skill.IsolationCall
			pl, err := eng.Load(ctx, s, &fresh, engine.LoadOptions{Config: c.Config})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := pl.Call(ctx, c.Function, in); err != nil {
					b.Fatal(err)
				}
			}
		})
		_ = eng.Close(ctx)
	}
}

// caseInput is the input a golden case sends (a JSON string is passed as
// text to a function without a schema, as reef test does).
func caseInput(s *skill.Skill, c author.Case) []byte {
	if f, ok := s.Function(c.Function); ok && f.Input == nil && len(c.Input) > 0 && c.Input[0] == '"' {
		var str string
		if err := json.Unmarshal(c.Input, &str); err == nil {
			return []byte(str)
		}
	}
	return c.Input
}
