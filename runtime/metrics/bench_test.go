package metrics_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reefhq/reef/runtime/metrics"
)

// BenchmarkInvocation is the per-call metrics cost on the daemon's hot
// path (one counter, one histogram observation).
//
//	go test -run '^$' -bench Invocation ./runtime/metrics/
func BenchmarkInvocation(b *testing.B) {
	m := metrics.New(prometheus.NewRegistry(), metrics.Options{NoProcessCollectors: true})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Invocation("hello", "greet", metrics.OutcomeOK, 30*time.Microsecond)
		}
	})
}

// TestInvocationAllocs: once a series exists, counting a call allocates
// nothing.
func TestInvocationAllocs(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry(), metrics.Options{NoProcessCollectors: true})
	m.Invocation("hello", "greet", metrics.OutcomeOK, time.Millisecond)
	if n := testing.AllocsPerRun(100, func() { m.Invocation("hello", "greet", metrics.OutcomeOK, time.Millisecond) }); n != 0 {
		t.Fatalf("%v allocations per call", n)
	}
}
