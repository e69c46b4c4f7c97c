package hostkv

import (
	"bytes"
	"testing"

	"github.com/reefhq/reef/hostfuncs/abi"
)

// FuzzHandlers feeds arbitrary requests and payloads to every handler. No
// input may panic, touch another skill's namespace, push the namespace over
// its quota, or leave the metadata out of step with the data.
func FuzzHandlers(f *testing.F) {
	seeds := []struct {
		op        uint8
		req, data string
	}{
		{0, `{"key":"a"}`, ""},
		{1, `{"key":"a"}`, "value"},
		{1, `{"key":"meta"}`, "x"},
		{2, `{"key":"a"}`, ""},
		{3, `{"prefix":"a","limit":2,"after":"a"}`, ""},
		{4, `{"key":"a","old_present":false}`, "v"},
		{4, `{"key":"a","old_present":true,"old":"dmFsdWU=","delete":true}`, ""},
		{1, "{\"key\":\"\\u0000\"}", ""},
		{1, "{\"key\":\"\xff\"}", ""},
		{3, `{"limit":99999}`, ""},
	}
	for _, s := range seeds {
		f.Add(s.op, []byte(s.req), []byte(s.data))
	}
	const quota = 4096
	m := openTest(f, Options{MaxKeyBytes: 64, MaxValueBytes: 1024})
	victim := call(f, "victim", 1<<20)
	if _, err := m.set(victim, []byte(`{"key":"a"}`), []byte("victim-value")); err != nil {
		f.Fatal(err)
	}
	funcs := m.Funcs()
	f.Fuzz(func(t *testing.T, op uint8, req, data []byte) {
		c := call(t, "fuzz", quota)
		fn := funcs[int(op)%len(funcs)]
		_, err := fn.Handler(c, req, data)
		if err != nil {
			switch doc := abi.ToDocument("kv", err); doc.Code {
			case abi.CodeInvalid, abi.CodeNotFound, abi.CodeLimit:
			default:
				t.Fatalf("%s %q: unexpected error %v", fn.Name, req, err)
			}
		}
		if _, n := recount(t, m, "fuzz"); n > quota {
			t.Fatalf("namespace holds %d bytes, quota %d", n, quota)
		}
		got, err := m.get(victim, []byte(`{"key":"a"}`), nil)
		if err != nil || !bytes.Equal(got, []byte("victim-value")) {
			t.Fatalf("victim's value changed: %q %v", got, err)
		}
		if keys, _ := recount(t, m, "victim"); keys != 1 {
			t.Fatalf("victim has %d keys", keys)
		}
	})
}

// FuzzFastKey checks that the fast path for {"key":"…"} accepts only
// requests the strict decoder accepts, with the same key.
func FuzzFastKey(f *testing.F) {
	for _, s := range []string{`{"key":"a"}`, `{"key":""}`, `{"key":"a\"b"}`, `{"key":"a\\"}`, `{"key":"é"}`, "{\"key\":\"\xff\"}", `{"key":"a","x":1}`, `{"key":"a"}}`, `{"key":"a"} `, `{"key":"\u0041"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, req []byte) {
		k, ok := fastKey(req)
		if !ok {
			return
		}
		var r keyReq
		if err := decode("get", req, &r); err != nil {
			t.Fatalf("fast path accepted %q, decoder refuses: %v", req, err)
		}
		if r.Key != k {
			t.Fatalf("fast path key %q, decoder key %q", k, r.Key)
		}
	})
}
