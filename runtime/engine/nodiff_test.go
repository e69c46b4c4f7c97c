package engine_test

import (
	"context"
	"strings"
	"testing"

	extism "github.com/extism/go-sdk"

	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/skill"
)

// TestNoDiffWithExtism runs the reference corpus (C and Go plugins on the
// plain Extism ABI) under extism go-sdk and under reef: outputs, errors,
// config and vars must agree.
func TestNoDiffWithExtism(t *testing.T) {
	ctx := context.Background()
	type step struct {
		fn    string
		input string
	}
	cases := []struct {
		name   string
		config map[string]string
		steps  []step
	}{
		{"greet", nil, []step{{"greet", "reef"}, {"greet", ""}, {"greet", strings.Repeat("ü", 3000)}}},
		{"config", map[string]string{"greeting": "Ahoy"}, []step{{"greet", "crew"}}},
		{"vars persist across calls", nil, []step{{"count", ""}, {"count", ""}, {"count", ""}}},
		{"echo", nil, []step{{"echo", "a"}, {"echo", strings.Repeat("0123456789", 10000)}}},
		{"error", nil, []step{{"fail", ""}, {"greet", "after"}}},
		{"empty output", nil, []step{{"empty", ""}}},
		{"logging", nil, []step{{"logs", ""}}},
	}
	for _, fx := range []string{"greet", "greet_go"} {
		for _, c := range cases {
			t.Run(fx+"/"+c.name, func(t *testing.T) {
				m := extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: fixture(t, fx).Wasm}}, Config: c.config}
				ref, err := extism.NewPlugin(ctx, m, extism.PluginConfig{EnableWasi: true, RuntimeConfig: extismRuntimeConfig()}, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer ref.Close(ctx)
				e := newEngine(t)
				pl := load(t, e, fixture(t, fx), skill.Limits{}, engine.LoadOptions{Config: c.config})
				for i, st := range c.steps {
					rc, want, werr := ref.Call(st.fn, []byte(st.input))
					got, gerr := pl.Call(ctx, st.fn, []byte(st.input))
					if (werr != nil || rc != 0) != (gerr != nil) {
						t.Fatalf("step %d %s: extism rc=%d err=%v, reef err=%v", i, st.fn, rc, werr, gerr)
					}
					if werr != nil && !strings.Contains(gerr.Error(), werr.Error()) {
						t.Fatalf("step %d %s: error text differs: extism %q, reef %q", i, st.fn, werr, gerr)
					}
					if gerr == nil && string(got) != string(want) {
						t.Fatalf("step %d %s: output differs: extism %q, reef %q", i, st.fn, trunc(want), trunc(got))
					}
				}
			})
		}
	}
}

func trunc(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}
