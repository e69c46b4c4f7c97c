package reef

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    any
		wantErr string
	}{
		{`{"a":1,"b":[true,false,null],"c":"x\ny"}`, map[string]any{"a": 1.0, "b": []any{true, false, nil}, "c": "x\ny"}, ""},
		{` "\u00e9\ud83d\ude00" `, "é😀", ""},
		{`"\ud800"`, "\ufffd", ""},
		{`-0.5e+2`, -50.0, ""},
		{`{}`, map[string]any{}, ""},
		{`{"a":}`, nil, "byte 5"},
		{`{"a":1,}`, nil, "expected a string key"},
		{`[1 2]`, nil, "expected ',' or ']'"},
		{`01`, nil, "data after"},
		{`"abc`, nil, "unterminated"},
		{"\"a\x01\"", nil, "control character"},
		{`tru`, nil, "invalid literal"},
		{``, nil, "unexpected end"},
		{`1e999`, nil, "out of range"},
		{strings.Repeat("[", 300) + strings.Repeat("]", 300), nil, "nested too deeply"},
	}
	for _, tc := range tests {
		got, err := ParseJSON([]byte(tc.in))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrJSON) {
				t.Errorf("ParseJSON(%q) error = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseJSON(%q) = %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
}

func TestRequestBuilders(t *testing.T) {
	r := HTTPRequest{Method: "POST", URL: "https://x.example/a?b=<c>", Headers: map[string]string{"Authorization": "Bearer {{secret:T}}"}, NoRedirects: true, TimeoutMS: 5}
	var m map[string]any
	if err := json.Unmarshal(r.json(), &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"method": "POST", "url": "https://x.example/a?b=<c>", "headers": map[string]any{"Authorization": "Bearer {{secret:T}}"},
		"timeout_ms": 5.0, "follow_redirects": false}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("http request %s", r.json())
	}
	c := CAS{Key: "k", OldPresent: true, Old: []byte("v1"), New: []byte("v2")}
	if got := string(c.json()); got != `{"key":"k","old_present":true,"old":"djE="}` {
		t.Fatalf("cas %s", got)
	}
	mail := Mail{To: []string{"a@b.example"}, Subject: "s", Text: "t", Attachments: []Attachment{{Name: "x.txt", Content: []byte("hi")}}}
	if err := json.Unmarshal(mail.json(), &m); err != nil || m["attachments"].([]any)[0].(map[string]any)["content_base64"] != "aGk=" {
		t.Fatalf("mail %s %v", mail.json(), err)
	}
	if got := string(Type("#q", "reef").raw); got != `{"type":{"selector":"#q","text":"reef"}}` {
		t.Fatalf("type action %s", got)
	}
	if got := string(Screenshot("").raw); got != `{"screenshot":null}` {
		t.Fatalf("screenshot action %s", got)
	}
}

func TestParseHTTPResponse(t *testing.T) {
	head := []byte(`{"status":404,"headers":{"Content-Type":"text/plain"},"url":"https://x.example/"}`)
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(head)))
	b = append(append(b, head...), "gone"...)
	r, err := parseHTTPResponse(b)
	if err != nil || r.Status != 404 || r.Headers["Content-Type"] != "text/plain" || string(r.Body) != "gone" || r.URL != "https://x.example/" {
		t.Fatalf("%+v %v", r, err)
	}
	for _, bad := range [][]byte{nil, {1, 0}, {200, 0, 0, 0, '{'}, append(binary.LittleEndian.AppendUint32(nil, 3), "{x}"...)} {
		if _, err := parseHTTPResponse(bad); err == nil {
			t.Errorf("parseHTTPResponse(%q) accepted", bad)
		}
	}
}

func TestErrorDoc(t *testing.T) {
	e := parseErrorDoc([]byte(`{"code":"denied","capability":"kv","value":"k","message":"kv not granted","id":"a1"}`))
	if !errors.Is(e, ErrDenied) || errors.Is(e, ErrNotFound) || e.Error() != "capability not granted: kv not granted" || e.ID != "a1" {
		t.Fatalf("%+v", e)
	}
	if e := parseErrorDoc([]byte(`{"code":"not_found","message":"no key"}`)); !errors.Is(e, ErrNotFound) || e.Error() != "not_found: no key" {
		t.Fatalf("%+v", e)
	}
	if e := parseErrorDoc([]byte(`garbage`)); e.Code != "io" || !strings.Contains(e.Message, "garbage") {
		t.Fatalf("%+v", e)
	}
}

// FuzzParseJSON checks ParseJSON against encoding/json: it accepts exactly
// the documents encoding/json accepts (up to its nesting limit) and
// decodes them to the same values.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":null}]}`, `"\ud83d\ude00"`, `-1.5e3`, `[]`, `{"a":1,"a":2}`, "\"\xff\"", `"\ud800\u0041"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ParseJSON(b)
		var want any
		werr := json.Unmarshal(b, &want)
		if err != nil {
			if werr == nil && !strings.Contains(err.Error(), "nested too deeply") {
				t.Fatalf("ParseJSON(%q) = %v, encoding/json accepts it", b, err)
			}
			return
		}
		if werr != nil {
			t.Fatalf("ParseJSON(%q) accepted what encoding/json refuses: %v", b, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ParseJSON(%q) = %#v, encoding/json %#v", b, got, want)
		}
	})
}

// FuzzAppendJSONString: the writer's output decodes back to the string
// (invalid UTF-8 replaced) with encoding/json.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"plain", "quote\"back\\slash", "\x00\x1f\u2028<>&", "\xff\xfe", "é😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got string
		b := appendJSONString(nil, s)
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q -> %s: %v", s, b, err)
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); got != want && utf8.ValidString(s) {
			t.Fatalf("%q -> %s -> %q", s, b, got)
		}
		if back, err := ParseJSON(b); err != nil || back != got {
			t.Fatalf("ParseJSON(%s) = %q, %v; want %q", b, back, err, got)
		}
	})
}
