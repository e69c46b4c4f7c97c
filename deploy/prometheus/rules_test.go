// Package promrules holds no code: its tests check reef's Prometheus
// alerting rules with the real promtool and against the series reef
// exports.
package promrules

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/reefhq/reef/runtime/metrics"
	"github.com/reefhq/reef/runtime/policy"
)

func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (%v): it comes with the Debian package \"prometheus\"; `make deps` installs it", err)
	}
	return p
}

func TestPromtoolCheckRules(t *testing.T) {
	out, err := exec.Command(promtool(t), "check", "rules", "alerts.yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	out, err := exec.Command(promtool(t), "test", "rules", "rules_test.yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// TestAlertsUseExportedSeries: every metric an alert reads is one reef
// exports (or Prometheus' own "up"), so a renamed series cannot leave a
// silently dead alert.
func TestAlertsUseExportedSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, metrics.Options{Source: func() metrics.Snapshot {
		return metrics.Snapshot{Skills: []metrics.SkillStats{{Name: "s", Instances: 1}}}
	}})
	m.Invocation("s", "f", metrics.OutcomeOK, time.Millisecond)
	m.LoadError("s")
	m.Recorder().Record(policy.Decision{Skill: "s", Capability: policy.CapHTTP})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{"up": true}
	for _, mf := range mfs {
		exported[mf.GetName()] = true
		if mf.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				exported[mf.GetName()+s] = true
			}
		}
	}
	data, err := os.ReadFile("alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	ident := regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	keywords := map[string]bool{"sum": true, "by": true, "rate": true, "increase": true, "avg_over_time": true, "histogram_quantile": true,
		"instance": true, "skill": true, "job": true, "le": true, "outcome": true, "capability": true, "e9": true}
	n := 0
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			n++
			expr := regexp.MustCompile(`"[^"]*"|\[[^\]]*\]`).ReplaceAllString(r.Expr, "")
			for _, id := range ident.FindAllString(expr, -1) {
				if keywords[id] {
					continue
				}
				if !exported[id] {
					t.Errorf("alert %s reads %q, which reef does not export", r.Alert, id)
				}
			}
			if !strings.Contains(string(data), "alertname: "+r.Alert) {
				rt, _ := os.ReadFile("rules_test.yaml")
				if !strings.Contains(string(rt), "alertname: "+r.Alert) {
					t.Errorf("alert %s has no promtool test in rules_test.yaml", r.Alert)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no alerts parsed")
	}
}
