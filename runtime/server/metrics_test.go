package server_test

import (
	"bytes"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape GETs /metrics with the viewer token and parses it with the
// Prometheus text parser; keys are name{labels} (labels sorted).
func scrape(t *testing.T, h *harness) map[string]float64 {
	t.Helper()
	r := h.do("GET", "/metrics", tokViewer, nil)
	if r.Status != 200 {
		t.Fatalf("metrics: %d %s", r.Status, r.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("parsing exposition: %v", err)
	}
	out := map[string]float64{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := name + labels(m)
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[name+"_count"+labels(m)] = float64(m.GetHistogram().GetSampleCount())
			case dto.MetricType_UNTYPED:
				out[key] = m.GetUntyped().GetValue()
			}
		}
	}
	return out
}

func labels(m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return ""
	}
	var ls []string
	for _, l := range m.GetLabel() {
		ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	sort.Strings(ls)
	return "{" + strings.Join(ls, ",") + "}"
}

func TestMetricsScrape(t *testing.T) {
	h := startServer(t, harnessOpts{})
	for i := 0; i < 3; i++ {
		h.invoke(tokAdmin, "hello", "echo", `1`)
	}
	h.invoke(tokAdmin, "slow", "loop", ``)
	h.invoke(tokAdmin, "deny", "fetch", ``)
	for i := 0; i < 20; i++ { // probing random names creates no series
		h.invoke(tokAdmin, fmt.Sprintf("random-%d", i), "f", ``)
		h.invoke(tokAdmin, "hello", fmt.Sprintf("random-%d", i), ``)
	}
	m := scrape(t, h)
	want := map[string]float64{
		`reef_invocations_total{function="echo",outcome="ok",skill="hello"}`:           3,
		`reef_invocations_total{function="loop",outcome="timeout",skill="slow"}`:       1,
		`reef_invocations_total{function="fetch",outcome="denied",skill="deny"}`:       1,
		`reef_invocations_total{function="_other",outcome="not_found",skill="_other"}`: 20,
		`reef_invocations_total{function="_other",outcome="not_found",skill="hello"}`:  20,
		`reef_capability_denials_total{capability="http",skill="deny"}`:                1,
		`reef_invocation_duration_seconds_count{skill="hello"}`:                        3,
		`reef_skills_loaded`:            5,
		`reef_queue_depth`:              0,
		`reef_workers_busy`:             0,
		`reef_instances{skill="hello"}`: 1,
		`reef_build_info{goversion="` + goVersion() + `",version="test"}`: 1,
	}
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if _, ok := m["process_resident_memory_bytes"]; !ok {
		t.Errorf("process_resident_memory_bytes missing")
	}
	for k := range m {
		if strings.Contains(k, "random-") {
			t.Errorf("unbounded label: %s", k)
		}
	}
}

func goVersion() string { return runtime.Version() }
