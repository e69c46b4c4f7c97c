package metrics_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/reefhq/reef/runtime/metrics"
	"github.com/reefhq/reef/runtime/policy"
)

func newMetrics(t *testing.T, snap *metrics.Snapshot) (*metrics.Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m := metrics.New(reg, metrics.Options{Version: "v1.2.3", NoProcessCollectors: true, Source: func() metrics.Snapshot { return *snap }})
	return m, reg
}

// exercise feeds every series once.
func exercise(m *metrics.Metrics) {
	m.Invocation("hello", "greet", metrics.OutcomeOK, 3*time.Millisecond)
	m.Invocation("hello", "greet", metrics.OutcomeOK, 40*time.Millisecond)
	m.Invocation("hello", "greet", metrics.OutcomeTimeout, 2*time.Second)
	m.Invocation(metrics.Other, metrics.Other, metrics.OutcomeNotFound, 0)
	m.Invocation("hello", "greet", metrics.Outcome("made-up"), 0) // folded into "error"
	m.QueueAdd(3)
	m.QueueAdd(-1)
	m.WorkersAdd(4)
	m.LoadError("broken")
	rec := m.Recorder()
	rec.Record(policy.Decision{Skill: "hello", Capability: policy.CapHTTP, Allowed: false})
	rec.Record(policy.Decision{Skill: "hello", Capability: policy.CapHTTP, Allowed: true}) // allowed: not counted
	rec.Record(policy.Decision{Skill: "hello", Capability: "teleport", Allowed: false})    // unknown capability
}

func TestGoldenExposition(t *testing.T) {
	snap := &metrics.Snapshot{Skills: []metrics.SkillStats{{Name: "web-text", Instances: 2}, {Name: "hello", Instances: 1}}, Failed: 1}
	m, reg := newMetrics(t, snap)
	exercise(m)
	golden := filepath.Join("testdata", "exposition.golden")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, mf := range mfs {
			if strings.HasPrefix(mf.GetName(), "reef_") {
				if err := writeText(&b, mf); err != nil {
					t.Fatal(err)
				}
			}
		}
		out := strings.ReplaceAll(b.String(), runtime.Version(), "{{goversion}}")
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	// The Go version is the toolchain's; the golden file holds a placeholder.
	f := strings.NewReader(strings.ReplaceAll(string(want), "{{goversion}}", runtime.Version()))
	names := []string{"reef_invocations_total", "reef_invocation_duration_seconds", "reef_queue_depth", "reef_workers_busy",
		"reef_skill_load_errors_total", "reef_capability_denials_total", "reef_instances", "reef_skills_loaded", "reef_skills_failed", "reef_build_info"}
	if err := testutil.GatherAndCompare(reg, f, names...); err != nil {
		t.Fatal(err)
	}
}

func TestLint(t *testing.T) {
	snap := &metrics.Snapshot{Skills: []metrics.SkillStats{{Name: "hello", Instances: 1}}}
	m, reg := newMetrics(t, snap)
	exercise(m)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestProcessCollectors(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics.New(reg, metrics.Options{})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"process_resident_memory_bytes": false, "go_goroutines": false, "reef_build_info": false}
	for _, mf := range mfs {
		if _, ok := want[mf.GetName()]; ok {
			want[mf.GetName()] = true
		}
	}
	for n, ok := range want {
		if !ok {
			t.Errorf("series %s missing", n)
		}
	}
}

// TestTwoInstances proves there is no global state: two Metrics on two
// registries do not collide (promauto on the default registry would panic).
func TestTwoInstances(t *testing.T) {
	a, b := prometheus.NewRegistry(), prometheus.NewRegistry()
	ma := metrics.New(a, metrics.Options{})
	metrics.New(b, metrics.Options{})
	ma.WorkersAdd(1)
	const head = "# HELP reef_workers_busy Workers running a skill call.\n# TYPE reef_workers_busy gauge\n"
	if err := testutil.GatherAndCompare(a, strings.NewReader(head+"reef_workers_busy 1\n"), "reef_workers_busy"); err != nil {
		t.Fatal(err)
	}
	if err := testutil.GatherAndCompare(b, strings.NewReader(head+"reef_workers_busy 0\n"), "reef_workers_busy"); err != nil {
		t.Fatal(err)
	}
}

func TestForgetBoundsSeries(t *testing.T) {
	snap := &metrics.Snapshot{}
	m, reg := newMetrics(t, snap)
	for i := 0; i < 3; i++ {
		m.Invocation("gone", "f", metrics.OutcomeOK, time.Millisecond)
		m.LoadError("gone")
		m.Recorder().Record(policy.Decision{Skill: "gone", Capability: policy.CapFS})
	}
	m.Invocation("kept", "f", metrics.OutcomeOK, time.Millisecond)
	m.Forget("gone")
	if n, err := testutil.GatherAndCount(reg, "reef_invocations_total"); err != nil || n != 1 {
		t.Fatalf("invocation series after Forget = %d, want 1", n)
	}
	for _, name := range []string{"reef_skill_load_errors_total", "reef_capability_denials_total"} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n != 0 {
			t.Fatalf("%s series after Forget = %d, want 0", name, n)
		}
	}
}

func TestNilMetricsIsSafe(t *testing.T) {
	var m *metrics.Metrics
	m.Invocation("a", "b", metrics.OutcomeOK, 0)
	m.QueueAdd(1)
	m.WorkersAdd(1)
	m.LoadError("a")
	m.Forget("a")
	m.Recorder().Record(policy.Decision{Skill: "a", Capability: policy.CapFS})
}
