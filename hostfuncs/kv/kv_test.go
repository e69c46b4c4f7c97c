package hostkv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/hostfuncs/abi/abitest"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

// step is one handler call in a sequence and what it must return.
type step struct {
	fn       string
	req      string
	data     string
	wantCode string // "" = success
	want     string // exact response on success (checked when wantSet)
	wantSet  bool
}

func ok(fn, req, data, want string) step {
	return step{fn: fn, req: req, data: data, want: want, wantSet: true}
}

func fail(fn, req, data, code string) step {
	return step{fn: fn, req: req, data: data, wantCode: code}
}

func runSteps(t *testing.T, m *Module, c abi.Call, steps []step) {
	t.Helper()
	for i, s := range steps {
		var data []byte
		if s.data != "" {
			data = []byte(s.data)
		}
		got, err := handler(t, m, s.fn)(c, []byte(s.req), data)
		if gc := code(err); gc != s.wantCode {
			t.Fatalf("step %d %s %s: code %q (err %v), want %q", i, s.fn, s.req, gc, err, s.wantCode)
		}
		if err == nil && s.wantSet && string(got) != s.want {
			t.Fatalf("step %d %s %s: got %q, want %q", i, s.fn, s.req, got, s.want)
		}
	}
}

func TestOps(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"get missing", []step{
			fail(abi.KVGet, `{"key":"a"}`, "", abi.CodeNotFound),
		}},
		{"set get", []step{
			ok(abi.KVSet, `{"key":"a"}`, "hello", `{}`),
			ok(abi.KVGet, `{"key":"a"}`, "", "hello"),
		}},
		{"overwrite", []step{
			ok(abi.KVSet, `{"key":"a"}`, "one", `{}`),
			ok(abi.KVSet, `{"key":"a"}`, "two!", `{}`),
			ok(abi.KVGet, `{"key":"a"}`, "", "two!"),
		}},
		{"empty value is not missing", []step{
			ok(abi.KVSet, `{"key":"e"}`, "", `{}`),
			ok(abi.KVGet, `{"key":"e"}`, "", ""),
			ok(abi.KVDelete, `{"key":"e"}`, "", `{"deleted":true}`),
			fail(abi.KVGet, `{"key":"e"}`, "", abi.CodeNotFound),
		}},
		{"delete", []step{
			ok(abi.KVDelete, `{"key":"a"}`, "", `{"deleted":false}`),
			ok(abi.KVSet, `{"key":"a"}`, "x", `{}`),
			ok(abi.KVDelete, `{"key":"a"}`, "", `{"deleted":true}`),
			ok(abi.KVDelete, `{"key":"a"}`, "", `{"deleted":false}`),
			fail(abi.KVGet, `{"key":"a"}`, "", abi.CodeNotFound),
		}},
		{"binary value", []step{
			ok(abi.KVSet, `{"key":"b"}`, "\x00\xff\x01", `{}`),
			ok(abi.KVGet, `{"key":"b"}`, "", "\x00\xff\x01"),
		}},
		{"unicode and reserved-looking keys", []step{
			ok(abi.KVSet, `{"key":"clé/日本"}`, "u", `{}`),
			ok(abi.KVSet, `{"key":"meta"}`, "m", `{}`),
			ok(abi.KVSet, `{"key":"data"}`, "d", `{}`),
			ok(abi.KVGet, `{"key":"clé/日本"}`, "", "u"),
			ok(abi.KVGet, `{"key":"meta"}`, "", "m"),
			ok(abi.KVList, `{}`, "", `{"keys":["clé/日本","data","meta"],"more":false}`),
		}},
		{"list empty namespace", []step{
			ok(abi.KVList, `{}`, "", `{"keys":[],"more":false}`),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := openTest(t, Options{})
			runSteps(t, m, call(t, "demo", 1<<20), tt.steps)
			recount(t, m, "demo")
		})
	}
}

func TestList(t *testing.T) {
	m := openTest(t, Options{})
	c := call(t, "demo", 1<<20)
	for _, k := range []string{"a", "a/1", "a/2", "a/3", "b", "b/1", "c"} {
		if _, err := m.set(c, mustJSON(t, keyReq{Key: k}), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		req      string
		want     string
		wantCode string
	}{
		{`{}`, `{"keys":["a","a/1","a/2","a/3","b","b/1","c"],"more":false}`, ""},
		{`{"prefix":"a/"}`, `{"keys":["a/1","a/2","a/3"],"more":false}`, ""},
		{`{"prefix":"a"}`, `{"keys":["a","a/1","a/2","a/3"],"more":false}`, ""},
		{`{"prefix":"zz"}`, `{"keys":[],"more":false}`, ""},
		{`{"limit":2}`, `{"keys":["a","a/1"],"more":true}`, ""},
		{`{"limit":7}`, `{"keys":["a","a/1","a/2","a/3","b","b/1","c"],"more":false}`, ""},
		{`{"limit":6}`, `{"keys":["a","a/1","a/2","a/3","b","b/1"],"more":true}`, ""},
		{`{"after":"a/1","limit":2}`, `{"keys":["a/2","a/3"],"more":true}`, ""},
		{`{"after":"a/3","limit":2}`, `{"keys":["b","b/1"],"more":true}`, ""},
		{`{"after":"b/1"}`, `{"keys":["c"],"more":false}`, ""},
		{`{"after":"c"}`, `{"keys":[],"more":false}`, ""},
		{`{"after":"a/15"}`, `{"keys":["a/2","a/3","b","b/1","c"],"more":false}`, ""},
		{`{"prefix":"b","after":"a"}`, `{"keys":["b","b/1"],"more":false}`, ""},
		{`{"prefix":"a/","after":"a/2"}`, `{"keys":["a/3"],"more":false}`, ""},
		{`{"prefix":"a/","after":"b"}`, `{"keys":[],"more":false}`, ""},
		{`{"limit":10000}`, `{"keys":["a","a/1","a/2","a/3","b","b/1","c"],"more":false}`, ""},
		{`{"limit":10001}`, ``, abi.CodeInvalid},
		{`{"limit":-1}`, ``, abi.CodeInvalid},
		{`{"limit":"3"}`, ``, abi.CodeInvalid},
		{`{"prefix":"a","extra":1}`, ``, abi.CodeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.req, func(t *testing.T) {
			got, err := m.list(c, []byte(tt.req), nil)
			if gc := code(err); gc != tt.wantCode {
				t.Fatalf("code %q (%v), want %q", gc, err, tt.wantCode)
			}
			if err == nil && string(got) != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}

	// Paging through everything with after/more visits each key once.
	var seen []string
	after := ""
	for {
		got, err := m.list(c, mustJSON(t, listReq{Limit: 3, After: after}), nil)
		if err != nil {
			t.Fatal(err)
		}
		var r listResp
		if err := json.Unmarshal(got, &r); err != nil {
			t.Fatal(err)
		}
		seen = append(seen, r.Keys...)
		if !r.More {
			break
		}
		after = r.Keys[len(r.Keys)-1]
	}
	if strings.Join(seen, ",") != "a,a/1,a/2,a/3,b,b/1,c" {
		t.Fatalf("paging saw %v", seen)
	}
}

func TestListDefaultLimit(t *testing.T) {
	m := openTest(t, Options{})
	c := call(t, "demo", 1<<30)
	err := m.db.Update(func(tx *bolt.Tx) error {
		n, _, err := openNS(tx, "demo", true)
		if err != nil {
			return err
		}
		for i := range DefaultListLimit + 5 {
			if err := n.put(fmt.Appendf(nil, "k%05d", i), nil, 1<<30); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.list(c, []byte(`{}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	var r listResp
	if err := json.Unmarshal(got, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Keys) != DefaultListLimit || !r.More {
		t.Fatalf("got %d keys, more=%v; want %d and more", len(r.Keys), r.More, DefaultListLimit)
	}
	recount(t, m, "demo")
}

func TestInvalidRequests(t *testing.T) {
	m := openTest(t, Options{MaxKeyBytes: 8})
	c := call(t, "demo", 1<<20)
	tests := []struct {
		name string
		fn   string
		req  []byte
	}{
		{"empty request", abi.KVGet, nil},
		{"blank request", abi.KVGet, []byte("  ")},
		{"not json", abi.KVGet, []byte("key=a")},
		{"array", abi.KVGet, []byte(`["a"]`)},
		{"key not string", abi.KVSet, []byte(`{"key":1}`)},
		{"missing key", abi.KVSet, []byte(`{}`)},
		{"empty key", abi.KVSet, []byte(`{"key":""}`)},
		{"NUL in key", abi.KVSet, []byte(`{"key":"a\u0000b"}`)},
		{"NUL at end", abi.KVGet, []byte(`{"key":"a\u0000"}`)},
		{"key over limit", abi.KVSet, []byte(`{"key":"123456789"}`)},
		{"multibyte key over limit", abi.KVSet, []byte(`{"key":"ééééé"}`)}, // 10 bytes, 5 runes
		{"invalid UTF-8", abi.KVSet, []byte("{\"key\":\"a\xffb\"}")},
		{"unknown field", abi.KVSet, []byte(`{"key":"a","ttl":5}`)},
		{"trailing data", abi.KVSet, []byte(`{"key":"a"}{"key":"b"}`)},
		{"trailing garbage", abi.KVDelete, []byte(`{"key":"a"} x`)},
		{"cas empty key", abi.KVCAS, []byte(`{"key":"","old_present":false}`)},
		{"list bad prefix type", abi.KVList, []byte(`{"prefix":[]}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := handler(t, m, tt.fn)(c, tt.req, []byte("v"))
			if code(err) != abi.CodeInvalid {
				t.Fatalf("code %q (%v), want invalid", code(err), err)
			}
			if msg := abi.ToDocument("kv", err).Message; msg == "" {
				t.Fatal("empty message")
			}
		})
	}
	// 8 bytes exactly is fine; nothing invalid was stored.
	if _, err := m.set(c, []byte(`{"key":"12345678"}`), nil); err != nil {
		t.Fatal(err)
	}
	if keys, _ := recount(t, m, "demo"); keys != 1 {
		t.Fatalf("%d keys stored, want 1", keys)
	}
}

func TestValueCap(t *testing.T) {
	m := openTest(t, Options{MaxValueBytes: 100})
	c := call(t, "demo", 1<<20)
	if _, err := m.set(c, []byte(`{"key":"k"}`), bytes.Repeat([]byte("x"), 100)); err != nil {
		t.Fatalf("100-byte value: %v", err)
	}
	for _, fn := range []string{abi.KVSet, abi.KVCAS} {
		req := `{"key":"k"}`
		if fn == abi.KVCAS {
			req = `{"key":"k","old_present":true,"old":"` + b64(strings.Repeat("x", 100)) + `"}`
		}
		_, err := handler(t, m, fn)(c, []byte(req), bytes.Repeat([]byte("y"), 101))
		if code(err) != abi.CodeLimit {
			t.Fatalf("%s 101-byte value: code %q (%v), want limit", fn, code(err), err)
		}
		if !strings.Contains(err.Error(), "101") || !strings.Contains(err.Error(), "100") {
			t.Fatalf("message does not give size and cap: %v", err)
		}
	}
	got, err := m.get(c, []byte(`{"key":"k"}`), nil)
	if err != nil || string(got) != strings.Repeat("x", 100) {
		t.Fatalf("value changed after refused writes: %q %v", got, err)
	}
}

func TestQuota(t *testing.T) {
	const quota = 100
	m := openTest(t, Options{})
	c := call(t, "demo", quota)
	v := func(n int) string { return strings.Repeat("v", n) }
	stats := func(wantKeys int, wantBytes int64) {
		t.Helper()
		keys, n, err := m.Stats("demo")
		if err != nil || keys != wantKeys || n != wantBytes {
			t.Fatalf("Stats = %d keys %d bytes (%v), want %d / %d", keys, n, err, wantKeys, wantBytes)
		}
		recount(t, m, "demo")
	}
	runSteps(t, m, c, []step{
		// "k" + 99 bytes = exactly the quota.
		ok(abi.KVSet, `{"key":"k"}`, v(99), `{}`),
	})
	stats(1, 100)
	runSteps(t, m, c, []step{
		// Any new byte is over, even an empty value (its key counts).
		fail(abi.KVSet, `{"key":"j"}`, "", abi.CodeLimit),
		// Growing k by one byte is over.
		fail(abi.KVSet, `{"key":"k"}`, v(100), abi.CodeLimit),
		// cas that would grow is over too, and swaps nothing.
		fail(abi.KVCAS, `{"key":"j","old_present":false}`, "x", abi.CodeLimit),
		// Same size overwrite is fine.
		ok(abi.KVSet, `{"key":"k"}`, strings.Repeat("w", 99), `{}`),
	})
	stats(1, 100)
	runSteps(t, m, c, []step{
		// Shrinking k frees 50 bytes...
		ok(abi.KVSet, `{"key":"k"}`, v(49), `{}`),
	})
	stats(1, 50)
	runSteps(t, m, c, []step{
		// ...which j can use exactly.
		fail(abi.KVSet, `{"key":"j"}`, v(50), abi.CodeLimit),
		ok(abi.KVSet, `{"key":"j"}`, v(49), `{}`),
		fail(abi.KVSet, `{"key":"i"}`, "", abi.CodeLimit),
	})
	stats(2, 100)
	runSteps(t, m, c, []step{
		// Deleting frees space.
		ok(abi.KVDelete, `{"key":"j"}`, "", `{"deleted":true}`),
		ok(abi.KVSet, `{"key":"i"}`, v(49), `{}`),
	})
	stats(2, 100)

	// The limit message names the quota and the usage.
	_, err := m.set(c, []byte(`{"key":"zz"}`), []byte("1"))
	doc := abi.ToDocument("kv", err)
	if doc.Code != abi.CodeLimit || !strings.Contains(doc.Message, "quota 100 bytes") || !strings.Contains(doc.Message, "usage 100 bytes") || doc.Capability != "kv" {
		t.Fatalf("limit document %+v", doc)
	}

	// A lowered quota still lets the skill shrink, never grow.
	low := call(t, "demo", 60)
	runSteps(t, m, low, []step{
		fail(abi.KVSet, `{"key":"new"}`, "", abi.CodeLimit),
		fail(abi.KVSet, `{"key":"k"}`, v(50), abi.CodeLimit),
		ok(abi.KVSet, `{"key":"k"}`, v(10), `{}`),
		ok(abi.KVGet, `{"key":"k"}`, "", v(10)),
	})
	stats(2, 61)
}

func TestQuotaIsRequestedIntersectGranted(t *testing.T) {
	m := openTest(t, Options{})
	// Requested 1 MiB, granted 10 bytes: 10 wins.
	c := abitest.New(context.Background(), "demo", newPolicy(t, "demo", 1<<20, 10, nil))
	runSteps(t, m, c, []step{
		ok(abi.KVSet, `{"key":"k"}`, "123456789", `{}`),
		fail(abi.KVSet, `{"key":"k"}`, "1234567890", abi.CodeLimit),
	})
	// Requested 10, granted 1 MiB: still 10.
	c = abitest.New(context.Background(), "demo", newPolicy(t, "demo", 10, 1<<20, nil))
	runSteps(t, m, c, []step{
		fail(abi.KVSet, `{"key":"k"}`, "1234567890", abi.CodeLimit),
	})
}

func TestDenied(t *testing.T) {
	tests := []struct {
		name       string
		req, grant skill.Size // -1: none
	}{
		{"requested, not granted", 1 << 20, -1},
		{"granted, not requested", -1, 1 << 20},
		{"neither", -1, -1},
		{"granted zero", 1 << 20, 0},
	}
	ops := []struct{ fn, req string }{
		{abi.KVGet, `{"key":"k"}`},
		{abi.KVSet, `{"key":"k"}`},
		{abi.KVDelete, `{"key":"k"}`},
		{abi.KVList, `{"prefix":"k"}`},
		{abi.KVCAS, `{"key":"k","old_present":false}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := openTest(t, Options{})
			// Another skill has data; the denied skill must not reach it
			// either.
			runSteps(t, m, call(t, "other", 1<<20), []step{ok(abi.KVSet, `{"key":"k"}`, "secret", `{}`)})
			rec := &decisions{}
			c := abitest.New(context.Background(), "demo", newPolicy(t, "demo", tt.req, tt.grant, rec))
			for _, op := range ops {
				out, err := handler(t, m, op.fn)(c, []byte(op.req), []byte("v"))
				var d *policy.Denial
				if !errors.As(err, &d) {
					t.Fatalf("%s: got %q, %v; want *policy.Denial", op.fn, out, err)
				}
				if d.Skill != "demo" || d.Capability != policy.CapKV || !strings.Contains(d.Value, "k") {
					t.Fatalf("%s: denial %+v", op.fn, d)
				}
				doc := abi.ToDocument("kv", err)
				if doc.Code != abi.CodeDenied || doc.ID != d.ID || doc.ID == "" {
					t.Fatalf("%s: document %+v", op.fn, doc)
				}
			}
			got := rec.list()
			if len(got) != len(ops) {
				t.Fatalf("recorded %d decisions, want %d: %+v", len(got), len(ops), got)
			}
			for _, d := range got {
				if d.Allowed || d.Capability != policy.CapKV || d.Skill != "demo" || d.ID == "" {
					t.Fatalf("decision %+v", d)
				}
			}
			if ns, _ := m.Namespaces(); strings.Join(ns, ",") != "other" {
				t.Fatalf("namespaces %v: a denied call created one", ns)
			}
		})
	}
}

func TestNamespaceIsolation(t *testing.T) {
	m := openTest(t, Options{})
	a := call(t, "alpha", 1<<20)
	b := call(t, "beta", 1<<20)
	runSteps(t, m, a, []step{
		ok(abi.KVSet, `{"key":"token"}`, "alpha-secret", `{}`),
		ok(abi.KVSet, `{"key":"beta/token"}`, "alpha-2", `{}`),
		ok(abi.KVSet, `{"key":"../beta/token"}`, "alpha-3", `{}`),
	})
	runSteps(t, m, b, []step{
		ok(abi.KVList, `{}`, "", `{"keys":[],"more":false}`),
		ok(abi.KVList, `{"prefix":"alpha"}`, "", `{"keys":[],"more":false}`),
		ok(abi.KVList, `{"prefix":"../alpha"}`, "", `{"keys":[],"more":false}`),
		ok(abi.KVList, `{"after":"\u0001"}`, "", `{"keys":[],"more":false}`),
		fail(abi.KVGet, `{"key":"token"}`, "", abi.CodeNotFound),
		fail(abi.KVGet, `{"key":"alpha/token"}`, "", abi.CodeNotFound),
		fail(abi.KVGet, `{"key":"../alpha/token"}`, "", abi.CodeNotFound),
		fail(abi.KVGet, `{"key":"alpha\u0000token"}`, "", abi.CodeInvalid),
		ok(abi.KVDelete, `{"key":"token"}`, "", `{"deleted":false}`),
		ok(abi.KVCAS, `{"key":"token","old_present":true,"old":"`+b64("alpha-secret")+`"}`, "pwned", `{"swapped":false,"present":false}`),
		// beta's own key of the same name is independent.
		ok(abi.KVSet, `{"key":"token"}`, "beta-secret", `{}`),
	})
	runSteps(t, m, a, []step{
		ok(abi.KVGet, `{"key":"token"}`, "", "alpha-secret"),
		ok(abi.KVList, `{}`, "", `{"keys":["../beta/token","beta/token","token"],"more":false}`),
	})
	runSteps(t, m, b, []step{
		ok(abi.KVGet, `{"key":"token"}`, "", "beta-secret"),
		ok(abi.KVList, `{}`, "", `{"keys":["token"],"more":false}`),
	})

	// Quotas are per namespace: beta filling its quota does not affect
	// alpha.
	small := call(t, "beta", 20)
	runSteps(t, m, small, []step{fail(abi.KVSet, `{"key":"x"}`, strings.Repeat("x", 20), abi.CodeLimit)})
	runSteps(t, m, a, []step{ok(abi.KVSet, `{"key":"x"}`, strings.Repeat("x", 20), `{}`)})

	// A skill cannot be named like the reserved bucket.
	evil := abitest.New(context.Background(), "\x00reef", newPolicy(t, "\x00reef", 1<<20, 1<<20, nil))
	for _, fn := range []string{abi.KVGet, abi.KVSet, abi.KVList} {
		if _, err := handler(t, m, fn)(evil, []byte(`{"key":"format"}`), []byte("2")); code(err) != abi.CodeInvalid {
			t.Fatalf("%s as reserved skill: %v", fn, err)
		}
	}

	// DeleteNamespace removes one skill only.
	if err := m.DeleteNamespace("beta"); err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteNamespace("beta"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if keys, n, err := m.Stats("beta"); keys != 0 || n != 0 || err != nil {
		t.Fatalf("beta after delete: %d %d %v", keys, n, err)
	}
	runSteps(t, m, a, []step{ok(abi.KVGet, `{"key":"token"}`, "", "alpha-secret")})
	if ns, err := m.Namespaces(); err != nil || strings.Join(ns, ",") != "alpha" {
		t.Fatalf("Namespaces = %v, %v", ns, err)
	}
	if err := m.DeleteNamespace("\x00reef"); err == nil {
		t.Fatal("DeleteNamespace of the reserved bucket succeeded")
	}
	recount(t, m, "alpha")
}

func b64(s string) string { return string(mustJSONString(s)) }

func mustJSONString(s string) []byte {
	b, _ := json.Marshal([]byte(s))
	return bytes.Trim(b, `"`)
}

func TestCAS(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"create if absent", []step{
			ok(abi.KVCAS, `{"key":"k","old_present":false}`, "v1", `{"swapped":true,"present":true}`),
			ok(abi.KVGet, `{"key":"k"}`, "", "v1"),
		}},
		{"create if absent, old null", []step{
			ok(abi.KVCAS, `{"key":"k","old_present":false,"old":null}`, "v1", `{"swapped":true,"present":true}`),
		}},
		{"create if absent fails when present", []step{
			ok(abi.KVSet, `{"key":"k"}`, "v0", `{}`),
			ok(abi.KVCAS, `{"key":"k","old_present":false}`, "v1", `{"swapped":false,"present":true,"current":"`+b64("v0")+`"}`),
			ok(abi.KVGet, `{"key":"k"}`, "", "v0"),
		}},
		{"swap on match", []step{
			ok(abi.KVSet, `{"key":"k"}`, "v0", `{}`),
			ok(abi.KVCAS, `{"key":"k","old_present":true,"old":"`+b64("v0")+`"}`, "v1", `{"swapped":true,"present":true}`),
			ok(abi.KVGet, `{"key":"k"}`, "", "v1"),
		}},
		{"no swap on mismatch", []step{
			ok(abi.KVSet, `{"key":"k"}`, "v0", `{}`),
			ok(abi.KVCAS, `{"key":"k","old_present":true,"old":"`+b64("vX")+`"}`, "v1", `{"swapped":false,"present":true,"current":"`+b64("v0")+`"}`),
			ok(abi.KVGet, `{"key":"k"}`, "", "v0"),
		}},
		{"no swap when missing", []step{
			ok(abi.KVCAS, `{"key":"k","old_present":true,"old":"`+b64("v0")+`"}`, "v1", `{"swapped":false,"present":false}`),
			fail(abi.KVGet, `{"key":"k"}`, "", abi.CodeNotFound),
		}},
		{"empty old matches empty value, not absence", []step{
			ok(abi.KVCAS, `{"key":"k","old_present":true}`, "v1", `{"swapped":false,"present":false}`),
			ok(abi.KVSet, `{"key":"k"}`, "", `{}`),
			ok(abi.KVCAS, `{"key":"k","old_present":false}`, "v1", `{"swapped":false,"present":true}`),
			ok(abi.KVCAS, `{"key":"k","old_present":true,"old":""}`, "v1", `{"swapped":true,"present":true}`),
			ok(abi.KVGet, `{"key":"k"}`, "", "v1"),
		}},
		{"swap to empty value", []step{
			ok(abi.KVSet, `{"key":"k"}`, "v0", `{}`),
			ok(abi.KVCAS, `{"key":"k","old_present":true,"old":"`+b64("v0")+`"}`, "", `{"swapped":true,"present":true}`),
			ok(abi.KVGet, `{"key":"k"}`, "", ""),
		}},
		{"delete on match", []step{
			ok(abi.KVSet, `{"key":"k"}`, "lock", `{}`),
			ok(abi.KVCAS, `{"key":"k","old_present":true,"old":"`+b64("other")+`","delete":true}`, "", `{"swapped":false,"present":true,"current":"`+b64("lock")+`"}`),
			ok(abi.KVCAS, `{"key":"k","old_present":true,"old":"`+b64("lock")+`","delete":true}`, "", `{"swapped":true,"present":false}`),
			fail(abi.KVGet, `{"key":"k"}`, "", abi.CodeNotFound),
			ok(abi.KVCAS, `{"key":"k","old_present":true,"old":"`+b64("lock")+`","delete":true}`, "", `{"swapped":false,"present":false}`),
		}},
		{"binary old", []step{
			ok(abi.KVSet, `{"key":"k"}`, "\x00\xff", `{}`),
			ok(abi.KVCAS, `{"key":"k","old_present":true,"old":"AP8="}`, "\x01", `{"swapped":true,"present":true}`),
		}},
		{"invalid: old_present missing", []step{
			fail(abi.KVCAS, `{"key":"k"}`, "v", abi.CodeInvalid),
			fail(abi.KVCAS, `{"key":"k","old":"djA="}`, "v", abi.CodeInvalid),
		}},
		{"invalid: old with old_present false", []step{
			fail(abi.KVCAS, `{"key":"k","old_present":false,"old":"djA="}`, "v", abi.CodeInvalid),
			fail(abi.KVCAS, `{"key":"k","old_present":false,"old":""}`, "v", abi.CodeInvalid),
		}},
		{"invalid: old not base64", []step{
			fail(abi.KVCAS, `{"key":"k","old_present":true,"old":"not base64!"}`, "v", abi.CodeInvalid),
			fail(abi.KVCAS, `{"key":"k","old_present":true,"old":123}`, "v", abi.CodeInvalid),
		}},
		{"invalid: delete combos", []step{
			fail(abi.KVCAS, `{"key":"k","old_present":false,"delete":true}`, "", abi.CodeInvalid),
			fail(abi.KVCAS, `{"key":"k","old_present":true,"delete":true}`, "data", abi.CodeInvalid),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := openTest(t, Options{})
			runSteps(t, m, call(t, "demo", 1<<20), tt.steps)
			recount(t, m, "demo")
		})
	}
}

// TestCASConcurrentCounter increments one counter from many goroutines with
// a cas retry loop: no increment may be lost.
func TestCASConcurrentCounter(t *testing.T) {
	m := openTest(t, Options{})
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := call(t, "counter", 1<<20)
			for range each {
				for {
					cur, err := m.get(c, []byte(`{"key":"n"}`), nil)
					present := err == nil
					if err != nil && code(err) != abi.CodeNotFound {
						errs <- err
						return
					}
					n := 0
					if present {
						if _, err := fmt.Sscan(string(cur), &n); err != nil {
							errs <- err
							return
						}
					}
					req := map[string]any{"key": "n", "old_present": present}
					if present {
						req["old"] = cur
					}
					out, err := m.cas(c, mustJSON(t, req), fmt.Appendf(nil, "%d", n+1))
					if err != nil {
						errs <- err
						return
					}
					var r casResp
					if err := json.Unmarshal(out, &r); err != nil {
						errs <- err
						return
					}
					if r.Swapped {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := m.get(call(t, "counter", 1<<20), []byte(`{"key":"n"}`), nil)
	if err != nil || string(got) != fmt.Sprint(workers*each) {
		t.Fatalf("counter = %q, %v; want %d", got, err, workers*each)
	}
}

// TestConcurrentSets writes from many goroutines into one namespace whose
// quota fits only some of the writes: the total never passes the quota and
// the metadata matches the data.
func TestConcurrentSets(t *testing.T) {
	m := openTest(t, Options{})
	const workers, each, valueLen = 16, 12, 90
	const quota = 50 * (valueLen + 10) // room for 50 of 192 keys ("w00-k000" keys are 8 bytes)
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := 0
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := call(t, "busy", quota)
			for i := range each {
				key := fmt.Sprintf("w%02d-k%03d", w, i)
				_, err := m.set(c, mustJSON(t, keyReq{Key: key}), bytes.Repeat([]byte{byte(w)}, valueLen))
				switch code(err) {
				case "":
					mu.Lock()
					stored++
					mu.Unlock()
				case abi.CodeLimit:
				default:
					t.Errorf("set %s: %v", key, err)
				}
				// Readers run alongside the writers.
				if _, err := m.list(c, []byte(`{"limit":5}`), nil); err != nil {
					t.Errorf("list: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	keys, n := recount(t, m, "busy")
	if keys != stored || n > quota || n != int64(stored*(valueLen+8)) {
		t.Fatalf("stored %d (counted %d), %d bytes, quota %d", stored, keys, n, quota)
	}
	if stored != quota/(valueLen+8) {
		t.Fatalf("stored %d keys, want the quota filled: %d", stored, quota/(valueLen+8))
	}
}

func TestContextCanceled(t *testing.T) {
	m := openTest(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := abitest.New(ctx, "demo", newPolicy(t, "demo", 1<<20, 1<<20, nil))
	if _, err := m.set(c, []byte(`{"key":"k"}`), []byte("v")); !errors.Is(err, context.Canceled) {
		t.Fatalf("set with canceled context: %v", err)
	}
	if keys, _, _ := m.Stats("demo"); keys != 0 {
		t.Fatal("canceled set wrote")
	}
}

func TestClosed(t *testing.T) {
	m := openTest(t, Options{})
	c := call(t, "demo", 1<<20)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Funcs() {
		req := `{"key":"k"}`
		switch f.Name {
		case abi.KVCAS:
			req = `{"key":"k","old_present":false}`
		case abi.KVList:
			req = `{}`
		}
		if _, err := f.Handler(c, []byte(req), nil); code(err) != abi.CodeUnavailable {
			t.Fatalf("%s after Close: %v", f.Name, err)
		}
	}
}

func TestOpenOptions(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		opts Options
	}{
		{"no path", Options{}},
		{"negative value cap", Options{Path: dir + "/a.db", MaxValueBytes: -1}},
		{"key cap over bbolt", Options{Path: dir + "/b.db", MaxKeyBytes: 40000}},
		{"negative lock timeout", Options{Path: dir + "/c.db", LockTimeout: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m, err := Open(tt.opts); err == nil {
				_ = m.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
}

func TestModuleSurface(t *testing.T) {
	m := openTest(t, Options{})
	if m.Name() != "kv" || m.Name() != policy.CapKV {
		t.Fatalf("Name = %q", m.Name())
	}
	var names []string
	for _, f := range m.Funcs() {
		if f.Handler == nil {
			t.Fatalf("%s has no handler", f.Name)
		}
		names = append(names, f.Name)
	}
	want := []string{abi.KVGet, abi.KVSet, abi.KVDelete, abi.KVList, abi.KVCAS}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("Funcs = %v, want %v", names, want)
	}
}
