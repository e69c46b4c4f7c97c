package policy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/reefhq/reef/runtime/skill"
)

type line struct {
	Kind       string    `json:"kind"`
	Time       time.Time `json:"time"`
	Skill      string    `json:"skill"`
	Capability string    `json:"capability"`
	Value      string    `json:"value"`
	Allowed    *bool     `json:"allowed"`
	Reason     string    `json:"reason"`
	ID         string    `json:"id"`
	Actor      string    `json:"actor"`
	Action     string    `json:"action"`
	Target     string    `json:"target"`
	Detail     string    `json:"detail"`
	Count      uint64    `json:"count"`
}

func readLines(t *testing.T, data []byte) []line {
	t.Helper()
	var out []line
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l line
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatal("log does not end with a newline")
	}
	return out
}

func TestAuditFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(p, []byte(`{"kind":"admin","time":"2020-01-01T00:00:00Z","actor":"old","action":"x","target":"y"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := OpenAudit(p)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := Compute(newSkill(skill.Capabilities{}), &Grant{}, a)
	if err != nil {
		t.Fatal(err)
	}
	denyErr := pol.CheckHTTP("GET", "https", "evil.example", 0)
	pol.Allow(CapFS, "/data/x")
	a.Admin("token:ops", "grant", "web-text")
	a.AdminDetail("token:ops", "revoke", "web-text", "http api.example.org")
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	a.Record(Decision{Skill: "late"}) // after Close: dropped, no panic

	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, data)
	if len(lines) != 5 {
		t.Fatalf("%d lines:\n%s", len(lines), data)
	}
	if lines[0].Actor != "old" {
		t.Fatal("existing content not kept (file not opened for append)")
	}
	var den *Denial
	errors.As(denyErr, &den)
	d := lines[1]
	if d.Kind != "decision" || d.Skill != "probe" || d.Capability != CapHTTP || d.Allowed == nil || *d.Allowed || d.ID != den.ID || d.Reason == "" || d.Time.IsZero() {
		t.Fatalf("denial line %+v (denial %+v)", d, den)
	}
	if l := lines[2]; l.Kind != "decision" || l.Allowed == nil || !*l.Allowed || l.Value != "/data/x" {
		t.Fatalf("allow line %+v", l)
	}
	if l := lines[3]; l.Kind != "admin" || l.Actor != "token:ops" || l.Action != "grant" || l.Target != "web-text" || l.Allowed != nil {
		t.Fatalf("admin line %+v", l)
	}
	if l := lines[4]; l.Detail != "http api.example.org" {
		t.Fatalf("admin detail line %+v", l)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	if st := a.Stats(); st.Written != 4 || st.Dropped != 1 || st.Errors != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestAuditNewFileMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.log")
	a, err := OpenAudit(p)
	if err != nil {
		t.Fatal(err)
	}
	_ = a.Close()
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("new audit log: %v %v", fi.Mode(), err)
	}
	if _, err := OpenAudit(filepath.Join(t.TempDir(), "missing", "audit.log")); err == nil {
		t.Fatal("OpenAudit in a missing directory succeeded")
	}
}

func TestAuditHostileValues(t *testing.T) {
	var buf syncBuffer
	a := newAudit(&buf, AuditOptions{})
	long := strings.Repeat("é", MaxAuditField) // 2 bytes each: cut falls mid-rune
	a.Record(Decision{Skill: "s", Capability: CapFS, Value: "x\n{\"kind\":\"admin\",\"actor\":\"root\"}\r\n", Reason: "\x00\x1b[31m"})
	a.Record(Decision{Skill: "s", Capability: CapFS, Value: long})
	a.Record(Decision{Skill: "s", Capability: CapFS, Value: "\xff\xfe not utf-8"})
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, buf.Bytes())
	if len(lines) != 3 {
		t.Fatalf("injected newline split a line: %d lines\n%s", len(lines), buf.Bytes())
	}
	if lines[0].Kind != "decision" || lines[0].Actor != "" || !strings.Contains(lines[0].Value, "\n{") {
		t.Fatalf("line 0 %+v", lines[0])
	}
	if len(lines[1].Value) > MaxAuditField+len("…[truncated]") || !strings.HasSuffix(lines[1].Value, "…[truncated]") || !utf8.ValidString(lines[1].Value) || strings.ContainsRune(lines[1].Value, utf8.RuneError) {
		t.Fatalf("long value not cut cleanly: %d bytes", len(lines[1].Value))
	}
}

// gateWriter blocks every Write until release is closed.
type gateWriter struct {
	release chan struct{}
	entered chan struct{}
	once    sync.Once
	buf     syncBuffer
}

func (g *gateWriter) Write(p []byte) (int, error) {
	g.once.Do(func() { close(g.entered) })
	<-g.release
	return g.buf.Write(p)
}

func TestAuditOverflowDropsInsteadOfBlocking(t *testing.T) {
	g := &gateWriter{release: make(chan struct{}), entered: make(chan struct{})}
	const queue = 4
	a := newAudit(g, AuditOptions{Queue: queue})
	a.Record(Decision{Skill: "first"})
	<-g.entered // the writer now holds one entry and is stuck in Write

	const n = 200
	done := make(chan struct{})
	go func() {
		for range n {
			a.Record(Decision{Skill: "s", Capability: CapHTTP})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second): // liveness bound, not a speed assertion
		t.Fatal("Record blocked while the writer was stuck")
	}
	if d := a.Stats().Dropped; d != n-queue {
		t.Fatalf("dropped %d, want %d", d, n-queue)
	}
	close(g.release)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, g.buf.Bytes())
	var decisions, droppedLines int
	var droppedCount uint64
	for _, l := range lines {
		switch l.Kind {
		case "decision":
			decisions++
		case "dropped":
			droppedLines++
			droppedCount += l.Count
		}
	}
	if decisions != 1+queue || droppedCount != n-queue || droppedLines == 0 {
		t.Fatalf("%d decisions, %d dropped in %d lines; want %d, %d", decisions, droppedCount, droppedLines, 1+queue, n-queue)
	}
	if st := a.Stats(); st.Written != uint64(len(lines)) {
		t.Fatalf("stats %+v, %d lines", st, len(lines))
	}
}

func TestAuditConcurrent(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.log")
	a, err := OpenAuditOptions(p, AuditOptions{Queue: 64})
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, each = 8, 400
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if i%10 == 0 {
					a.Admin("actor", "act", strings.Repeat("t", g*50))
				} else {
					a.Record(Decision{Skill: "s", Capability: CapKV, Value: strings.Repeat("v", i)})
				}
			}
		}()
	}
	wg.Wait()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	lines := readLines(t, data) // every line is whole, valid JSON
	st := a.Stats()
	var entries, dropped uint64
	for _, l := range lines {
		if l.Kind == "dropped" {
			dropped += l.Count
		} else {
			entries++
		}
	}
	if entries+st.Dropped != goroutines*each || dropped != st.Dropped || st.Written != uint64(len(lines)) {
		t.Fatalf("%d entries + %d dropped (logged %d) != %d; stats %+v", entries, st.Dropped, dropped, goroutines*each, st)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestAuditWriteError(t *testing.T) {
	a := newAudit(failWriter{}, AuditOptions{})
	a.Record(Decision{Skill: "s"})
	err := a.Close()
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Close = %v", err)
	}
	if st := a.Stats(); st.Errors == 0 || st.Written != 0 {
		t.Fatalf("stats %+v", st)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

func BenchmarkAuditRecord(b *testing.B) {
	a, err := OpenAudit(filepath.Join(b.TempDir(), "audit.log"))
	if err != nil {
		b.Fatal(err)
	}
	d := Decision{Time: time.Now(), Skill: "web-text", Capability: CapHTTP, Value: "GET https://api.example.org", Allowed: true}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a.Record(d)
		}
	})
	b.StopTimer()
	_ = a.Close()
	st := a.Stats()
	b.ReportMetric(float64(st.Dropped)/float64(st.Dropped+st.Written), "dropped/op")
}

// BenchmarkAuditWriter measures the writer side: encoding one decision line
// and appending it to a real file in batches, i.e. the sustained rate
// beyond which Record starts dropping.
func BenchmarkAuditWriter(b *testing.B) {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "audit.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	a := &Audit{w: f}
	e := auditEntry{d: Decision{Time: time.Now(), Skill: "web-text", Capability: CapHTTP, Value: "GET https://api.example.org", Allowed: true}}
	var buf []byte
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = a.appendEntry(buf, e)
		if len(buf) >= maxBatch {
			a.flush(buf, 1)
			buf = buf[:0]
		}
	}
	a.flush(buf, 1)
}

func checkEncoding(t *testing.T, d Decision) {
	t.Helper()
	got := appendDecision(nil, d)
	d.Skill, d.Capability, d.Value, d.Reason, d.ID = clip(d.Skill), clip(d.Capability), clip(d.Value), clip(d.Reason), clip(d.ID)
	want, err := json.Marshal(decisionLine{Kind: "decision", Decision: d})
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if !bytes.Equal(got, want) {
		t.Fatalf("hand encoder differs from encoding/json:\n got %s\nwant %s", got, want)
	}
}

func TestAuditEncodingMatchesJSON(t *testing.T) {
	ts := time.Date(2025, 1, 2, 3, 4, 5, 6789, time.UTC)
	for _, s := range []string{"", "plain", `q"uote\back`, "ctl\x00\x01\x1f\x7f\n\r\t\b\f", "<script>&amp;", "é漢字🙂",
		"\xff\xfe\xc3", "line\u2028sep\u2029", strings.Repeat("x", MaxAuditField+10), strings.Repeat("é", MaxAuditField)} {
		checkEncoding(t, Decision{Time: ts, Skill: s, Capability: s, Value: s, Reason: s, ID: s})
		checkEncoding(t, Decision{Time: ts.In(time.FixedZone("x", 3600)), Skill: s, Allowed: true})
	}
}

func FuzzAuditEncoding(f *testing.F) {
	f.Add("web-text", "GET https://example.org", "host not granted", true)
	f.Add("\xff", "\u2028<>&\"\\", "\x00", false)
	f.Fuzz(func(t *testing.T, skill, value, reason string, allowed bool) {
		checkEncoding(t, Decision{Time: time.Unix(1700000000, 5).UTC(), Skill: skill, Capability: CapFS, Value: value, Reason: reason, Allowed: allowed, ID: reason})
	})
}

// countingWriter counts Write calls.
type countingWriter struct {
	mu     sync.Mutex
	writes int
	bytes.Buffer
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.Buffer.Write(p)
}

// TestAuditBatchesBursts: decisions recorded close together share a
// write (FlushDelay), and none is lost.
func TestAuditBatchesBursts(t *testing.T) {
	w := &countingWriter{}
	a := newAudit(w, AuditOptions{FlushDelay: 50 * time.Millisecond})
	const n = 200
	for i := range n {
		a.Record(Decision{Skill: "s", Capability: "http", Value: fmt.Sprint(i), Allowed: true})
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(w.String(), "\n"); got != n {
		t.Fatalf("wrote %d lines, want %d", got, n)
	}
	if w.writes > 2 {
		t.Fatalf("%d writes for a burst of %d decisions; want them batched", w.writes, n)
	}
}
