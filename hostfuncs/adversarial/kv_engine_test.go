package adversarial

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/skill"
)

// TestKVIsolationAndQuota: a skill cannot reach another skill's keys by
// any key spelling, cannot exceed its quota, and kv without a grant is
// denied.
func TestKVIsolationAndQuota(t *testing.T) {
	victim := load(t, "hostile", "kv-victim", grantSpec{kv: 4096})
	if r := runCap(t, victim, nil, 1, "reef_kv_set", `{"key":"balance"}`, []byte("100")); r.err != nil {
		t.Fatal(r.err)
	}
	_, vBytes, err := w.kv.Stats("kv-victim")
	must(t, err)
	att := load(t, "hostile", "kv-attacker", grantSpec{kv: 1024})
	for _, key := range []string{"../kv-victim/balance", "/kv-victim/balance", "kv-victim/balance", "kv-victim\x00balance", "..\\kv-victim\\balance"} {
		r := runCap(t, att, nil, 1, "reef_kv_set", `{"key":`+jsonStr(key)+`}`, []byte("0"))
		if r.err != nil && r.err.Code != "invalid" {
			t.Fatalf("set %q: %+v", key, r.err)
		}
		r = runCap(t, att, nil, 1, "reef_kv_get", `{"key":`+jsonStr(key)+`}`, nil)
		if r.err == nil && string(r.body) == "100" {
			t.Fatalf("read the victim's value through %q", key)
		}
	}
	// Listing shows only the attacker's own keys.
	r := runCap(t, att, nil, 1, "reef_kv_list", `{}`, nil)
	if r.err != nil || strings.Contains(string(r.body), "balance\"") && !strings.Contains(string(r.body), "kv-victim") {
		t.Fatalf("list: %+v %s", r.err, r.body)
	}
	// Quota: 1 KiB requested and granted; a 2 KiB value and a flood of keys.
	r = runCap(t, att, nil, 1, "reef_kv_set", `{"key":"big"}`, make([]byte, 2048))
	wantCode(t, r.err, "limit", "kv")
	r = runCap(t, att, nil, 20, "reef_kv_set", `{"key":"k"}`, make([]byte, 512)) // 20 × 512 B to one key: no growth
	if r.err != nil {
		t.Fatalf("rewriting one key: %+v", r.err)
	}
	flood := load(t, "hostile_go", "kv-flooder", grantSpec{kv: 1024})
	var limited bool
	for i := 0; i < 40 && !limited; i++ {
		g := runGo(t, flood, nil, map[string]any{"op": "kv_set", "path": "key-" + itoa(i), "content": strings.Repeat("v", 64)})
		if !g.OK {
			wantCode(t, g.doc(), "limit", "kv")
			limited = true
		}
	}
	if !limited {
		t.Fatal("40 × 70 bytes fit in a 1 KiB quota")
	}
	if _, b, _ := w.kv.Stats("kv-flooder"); b > 1024 {
		t.Fatalf("kv-flooder uses %d bytes over a 1 KiB quota", b)
	}
	// No grant: denied with the key as value.
	none := load(t, "hostile", "kv-nogrant", grantSpec{})
	r = runCap(t, none, nil, 1, "reef_kv_get", `{"key":"balance"}`, nil)
	wantDenied(t, r.err, "kv", "balance")
	// The victim is untouched.
	r = runCap(t, victim, nil, 1, "reef_kv_get", `{"key":"balance"}`, nil)
	if r.err != nil || string(r.body) != "100" {
		t.Fatalf("victim's value changed: %+v %q", r.err, r.body)
	}
	if _, b, _ := w.kv.Stats("kv-victim"); b != vBytes {
		t.Fatalf("victim's namespace changed size: %d -> %d", vBytes, b)
	}
}

// TestEngineLimits: output bombs, runaway loops with capability calls,
// and the host-call budget.
func TestEngineLimits(t *testing.T) {
	// Memory is generous so the bomb really has 100 MiB to hand over; the
	// output limit (1 MiB) must stop it.
	pl := load(t, "hostile", "limits-attacker", grantSpec{kv: 1024, limits: skill.Limits{Memory: 256 << 20}})
	t.Run("zip-bomb-like output", func(t *testing.T) {
		_, err := call(t, pl, nil, "bomb", []byte("100"))
		if engine.KindOf(err) != engine.KindOutput {
			t.Fatalf("100 MiB output: %v (kind %v)", err, engine.KindOf(err))
		}
	})
	t.Run("runaway loop with capability calls", func(t *testing.T) {
		start := time.Now()
		_, err := call(t, pl, nil, "loop_cap", nil)
		if engine.KindOf(err) != engine.KindTimeout || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("loop: %v", err)
		}
		if el := time.Since(start); el > callTimeout+3*time.Second {
			t.Fatalf("loop stopped after %v (timeout %v)", el, callTimeout)
		}
	})
	t.Run("host-call budget", func(t *testing.T) {
		// Gets of an existing key (cheap, no fsync) until the budget stops them.
		if r := runCap(t, pl, nil, 1, "reef_kv_set", `{"key":"x"}`, []byte("1")); r.err != nil {
			t.Fatal(r.err)
		}
		r := runCap(t, pl, nil, hostCallBudget+100, "reef_kv_get", `{"key":"x"}`, nil)
		wantCode(t, r.err, "limit", "kv")
		if r.ok != hostCallBudget {
			t.Fatalf("%d calls succeeded, budget %d", r.ok, hostCallBudget)
		}
		if !strings.Contains(r.err.Message, "capability calls in one call") {
			t.Fatalf("budget message: %q", r.err.Message)
		}
	})
	t.Run("instance survives", func(t *testing.T) {
		r := runCap(t, pl, nil, 1, "reef_kv_set", `{"key":"x"}`, []byte("2"))
		if r.err != nil {
			t.Fatal(r.err)
		}
	})
}
