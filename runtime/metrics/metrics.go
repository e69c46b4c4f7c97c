package metrics

import (
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/reefhq/reef/runtime/policy"
)

// Other is the label value used for a skill or function name that is not
// part of the loaded registry (and for unknown capabilities).
const Other = "_other"

// Outcome is the closed set of invocation outcomes (the outcome label).
type Outcome string

// Outcomes of an invocation; the HTTP problem codes of runtime/server map
// one to one onto these.
const (
	OutcomeOK          Outcome = "ok"
	OutcomeGuestError  Outcome = "guest_error"
	OutcomeTrap        Outcome = "trap"
	OutcomeTimeout     Outcome = "timeout"
	OutcomeTooLarge    Outcome = "too_large"
	OutcomeDenied      Outcome = "denied"
	OutcomeNotFound    Outcome = "not_found"
	OutcomeBadRequest  Outcome = "bad_request"
	OutcomeOverloaded  Outcome = "overloaded"
	OutcomeUnavailable Outcome = "unavailable"
	OutcomeCanceled    Outcome = "canceled"
	OutcomeForbidden   Outcome = "forbidden"
	OutcomeError       Outcome = "error"
)

var outcomes = map[Outcome]bool{
	OutcomeOK: true, OutcomeGuestError: true, OutcomeTrap: true, OutcomeTimeout: true, OutcomeTooLarge: true,
	OutcomeDenied: true, OutcomeNotFound: true, OutcomeBadRequest: true, OutcomeOverloaded: true,
	OutcomeUnavailable: true, OutcomeCanceled: true, OutcomeForbidden: true, OutcomeError: true,
}

var capabilities = map[string]bool{
	policy.CapFS: true, policy.CapHTTP: true, policy.CapBrowser: true, policy.CapEval: true,
	policy.CapMail: true, policy.CapKV: true, policy.CapSecrets: true,
}

// DurationBuckets are the classic histogram buckets of
// reef_invocation_duration_seconds: a trivial call takes tens of
// microseconds, a browser call seconds, the default timeout is 10 s.
var DurationBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// SkillStats is one loaded skill at scrape time.
type SkillStats struct {
	Name string
	// Instances is the number of live instances (idle + busy).
	Instances int
}

// Snapshot is what the scrape-time collectors read.
type Snapshot struct {
	// Skills are the loaded skills.
	Skills []SkillStats
	// Failed counts skills whose last load failed (an older version may
	// still be serving).
	Failed int
}

// Options configure New.
type Options struct {
	// Version is reef's version for reef_build_info ("" = the module
	// version from the build info, else "devel").
	Version string
	// Source is read at scrape time for reef_instances and
	// reef_skills_loaded (nil: those series are absent).
	Source func() Snapshot
	// NoProcessCollectors leaves out the process and Go collectors (golden
	// tests, where their values are not deterministic).
	NoProcessCollectors bool
}

// Metrics holds reef's series.
type Metrics struct {
	invocations *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	queueDepth  prometheus.Gauge
	workersBusy prometheus.Gauge
	loadErrors  *prometheus.CounterVec
	denials     *prometheus.CounterVec

	// series caches the counter and observer of each (skill, function,
	// outcome) seen, so a call costs one map read instead of hashing its
	// label values into the vectors twice. It holds exactly the series
	// the vectors hold (bounded the same way: see the package doc). seriesMu
	// orders cache fills against Forget, so a removed skill's series is
	// never left cached after it was deleted from the vectors.
	series   sync.Map // seriesKey -> *seriesHandles
	seriesMu sync.Mutex
}

type seriesKey struct {
	skill, function string
	outcome         Outcome
}

type seriesHandles struct {
	count prometheus.Counter
	dur   prometheus.Observer // nil: calls with this outcome are not timed
}

// New creates every series on reg.
func New(reg prometheus.Registerer, opts Options) *Metrics {
	f := promauto.With(reg)
	if !opts.NoProcessCollectors && reg != nil {
		reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	}
	m := &Metrics{
		invocations: f.NewCounterVec(prometheus.CounterOpts{
			Name: "reef_invocations_total",
			Help: "Skill function invocations by outcome.",
		}, []string{"skill", "function", "outcome"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "reef_invocation_duration_seconds",
			Help:    "Time from admission to the end of a skill call (queue wait excluded).",
			Buckets: DurationBuckets,
			// Also a native histogram for servers that scrape protobuf.
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  100,
			NativeHistogramMinResetDuration: time.Hour,
		}, []string{"skill"}),
		queueDepth: f.NewGauge(prometheus.GaugeOpts{
			Name: "reef_queue_depth",
			Help: "Calls waiting for a worker.",
		}),
		workersBusy: f.NewGauge(prometheus.GaugeOpts{
			Name: "reef_workers_busy",
			Help: "Workers running a skill call.",
		}),
		loadErrors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "reef_skill_load_errors_total",
			Help: "Failed skill loads (the previous version, if any, kept serving).",
		}, []string{"skill"}),
		denials: f.NewCounterVec(prometheus.CounterOpts{
			Name: "reef_capability_denials_total",
			Help: "Capability uses denied by policy.",
		}, []string{"skill", "capability"}),
	}
	version := opts.Version
	goVersion := runtime.Version()
	if version == "" {
		version = "devel"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version
		}
	}
	f.NewGauge(prometheus.GaugeOpts{
		Name:        "reef_build_info",
		Help:        "reef's version and the Go version it was built with; always 1.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": goVersion},
	}).Set(1)
	if opts.Source != nil && reg != nil {
		reg.MustRegister(&snapshotCollector{source: opts.Source})
	}
	return m
}

// Invocation counts one finished call. skill and function must be names
// of the loaded registry, or Other.
func (m *Metrics) Invocation(skill, function string, outcome Outcome, d time.Duration) {
	if m == nil {
		return
	}
	if !outcomes[outcome] {
		outcome = OutcomeError
	}
	k := seriesKey{skill, function, outcome}
	v, ok := m.series.Load(k)
	if !ok {
		v = m.fill(k)
	}
	h := v.(*seriesHandles)
	h.count.Inc()
	if h.dur != nil {
		h.dur.Observe(d.Seconds())
	}
}

// fill creates (or finds) the series of k and caches their handles.
func (m *Metrics) fill(k seriesKey) any {
	m.seriesMu.Lock()
	defer m.seriesMu.Unlock()
	if v, ok := m.series.Load(k); ok {
		return v
	}
	h := &seriesHandles{count: m.invocations.WithLabelValues(k.skill, k.function, string(k.outcome))}
	switch k.outcome {
	case OutcomeOK, OutcomeGuestError, OutcomeTrap, OutcomeTimeout, OutcomeDenied, OutcomeTooLarge:
		// Only calls that ran are timed; refusals would skew the
		// distribution towards zero.
		if k.skill != Other {
			h.dur = m.duration.WithLabelValues(k.skill)
		}
	}
	m.series.Store(k, h)
	return h
}

// QueueAdd moves the queue depth gauge by delta.
func (m *Metrics) QueueAdd(delta int) {
	if m != nil {
		m.queueDepth.Add(float64(delta))
	}
}

// WorkersAdd moves the busy workers gauge by delta.
func (m *Metrics) WorkersAdd(delta int) {
	if m != nil {
		m.workersBusy.Add(float64(delta))
	}
}

// LoadError counts a failed load of skill (a name from the skill
// directory).
func (m *Metrics) LoadError(skill string) {
	if m != nil {
		m.loadErrors.WithLabelValues(skill).Inc()
	}
}

// Forget deletes every series of a removed skill.
func (m *Metrics) Forget(skill string) {
	if m == nil {
		return
	}
	l := prometheus.Labels{"skill": skill}
	m.seriesMu.Lock()
	m.series.Range(func(k, _ any) bool {
		if k.(seriesKey).skill == skill {
			m.series.Delete(k)
		}
		return true
	})
	m.invocations.DeletePartialMatch(l)
	m.duration.DeletePartialMatch(l)
	m.seriesMu.Unlock()
	m.loadErrors.DeletePartialMatch(l)
	m.denials.DeletePartialMatch(l)
}

// Recorder returns a policy.Recorder that counts denials in
// reef_capability_denials_total (allowed decisions are ignored).
func (m *Metrics) Recorder() policy.Recorder {
	return policy.RecorderFunc(func(d policy.Decision) {
		if m == nil || d.Allowed {
			return
		}
		c := d.Capability
		if !capabilities[c] {
			c = Other
		}
		m.denials.WithLabelValues(d.Skill, c).Inc()
	})
}

// snapshotCollector reads Source at scrape time.
type snapshotCollector struct {
	source func() Snapshot
}

var (
	instancesDesc = prometheus.NewDesc("reef_instances", "Live Wasm instances (idle and busy) per loaded skill.", []string{"skill"}, nil)
	loadedDesc    = prometheus.NewDesc("reef_skills_loaded", "Skills loaded and serving.", nil, nil)
	failedDesc    = prometheus.NewDesc("reef_skills_failed", "Skills whose last load failed (an older version may still be serving).", nil, nil)
)

func (c *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- instancesDesc
	ch <- loadedDesc
	ch <- failedDesc
}

func (c *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.source()
	sort.Slice(s.Skills, func(i, j int) bool { return s.Skills[i].Name < s.Skills[j].Name })
	for _, sk := range s.Skills {
		ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(sk.Instances), sk.Name)
	}
	ch <- prometheus.MustNewConstMetric(loadedDesc, prometheus.GaugeValue, float64(len(s.Skills)))
	ch <- prometheus.MustNewConstMetric(failedDesc, prometheus.GaugeValue, float64(s.Failed))
}
