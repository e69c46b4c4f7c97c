package hosthttp

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

var fetchJSONSeeds = []string{
	`{"url":"http://127.0.0.1:8080/x"}`,
	` { "method" : "POST" , "url":"https://example.test/a?b=c", "headers":{"X-A":"1","Accept":"*/*"}, "timeout_ms": 250, "max_bytes":-0, "follow_redirects":false } `,
	`{"url":"a","url":"b","headers":{"a":"1"},"headers":{"b":"2","a":"3"}}`,
	`{"URL":"http://x/"}`,
	`{"url":"\u0068ttp://x/"}`,
	`{"url":"http://x/\n"}`,
	`{"timeout_ms":1e3}`,
	`{"timeout_ms":01}`,
	`{"timeout_ms":9223372036854775808}`,
	`{"follow_redirects":null}`,
	`{"follow_redirects":truex}`,
	`{"headers":{}}`,
	`{}`,
	`{"url":"ok"} x`,
	`{"url":"ok"}}`,
	`{"nope":1}`,
	"{\"url\":\"caf\xc3\xa9\"}",
	"{\"url\":\"bad\xff\"}",
	``,
	`[]`,
}

// TestDecodeFetchRequestMatchesEncodingJSON: the scanner's answers are
// encoding/json's, and what it cannot read goes to encoding/json.
func TestDecodeFetchRequestMatchesEncodingJSON(t *testing.T) {
	for _, in := range fetchJSONSeeds {
		checkFetchJSON(t, []byte(in))
	}
	// The scanner must take the requests the PDKs send, or it is useless.
	for _, in := range fetchJSONSeeds[:3] {
		if _, ok := scanFetchRequest([]byte(in)); !ok {
			t.Errorf("scanner refused the plain request %s", in)
		}
	}
	for _, in := range []string{`{"URL":"x"}`, `{"url":"\u0068"}`, `{"timeout_ms":1e3}`, `{"nope":1}`, "{\"url\":\"bad\xff\"}"} {
		if _, ok := scanFetchRequest([]byte(in)); ok {
			t.Errorf("scanner took %s, which is encoding/json's to decide", in)
		}
	}
}

func FuzzDecodeFetchRequest(f *testing.F) {
	for _, in := range fetchJSONSeeds {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkFetchJSON(t, in) })
}

func checkFetchJSON(t *testing.T, in []byte) {
	t.Helper()
	got, ok := scanFetchRequest(in)
	if !ok {
		return
	}
	var want FetchRequest
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&want); err != nil {
		t.Fatalf("scanner accepted %q, encoding/json refuses it: %v", in, err)
	}
	if dec.More() {
		t.Fatalf("scanner accepted %q with trailing data", in)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: scanner %+v, encoding/json %+v", in, got, want)
	}
}
