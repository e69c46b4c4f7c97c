package jsonstr

import (
	"encoding/json"
	"testing"
)

// FuzzAppend: any string encodes exactly as encoding/json
// encodes it.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\\b\f\n\r\t\x00\x1f\x7f", "<>&", "\u2028\u2029", "\xff", "\xe2\x82", "é☃😀", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := Append(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}
