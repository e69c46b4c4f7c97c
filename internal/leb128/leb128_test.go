package leb128

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

func TestEncodings(t *testing.T) {
	unsigned := []struct {
		v    uint64
		want []byte
	}{
		{0, []byte{0x00}},
		{127, []byte{0x7f}},
		{128, []byte{0x80, 0x01}},
		{624485, []byte{0xe5, 0x8e, 0x26}},
		{math.MaxUint32, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}},
	}
	for _, c := range unsigned {
		if got := AppendUnsigned([]byte{0xaa}, c.v); !bytes.Equal(got, append([]byte{0xaa}, c.want...)) {
			t.Errorf("AppendUnsigned(%d) = % x, want aa % x", c.v, got, c.want)
		}
	}
	signed := []struct {
		v    int64
		want []byte
	}{
		{0, []byte{0x00}},
		{63, []byte{0x3f}},
		{64, []byte{0xc0, 0x00}},
		{-1, []byte{0x7f}},
		{-64, []byte{0x40}},
		{-65, []byte{0xbf, 0x7f}},
		{-123456, []byte{0xc0, 0xbb, 0x78}},
		{math.MinInt32, []byte{0x80, 0x80, 0x80, 0x80, 0x78}},
	}
	for _, c := range signed {
		if got := AppendSigned(nil, c.v); !bytes.Equal(got, c.want) {
			t.Errorf("AppendSigned(%d) = % x, want % x", c.v, got, c.want)
		}
	}
}

// FuzzRoundTrip holds both encoders to encoding/binary's decoders (the
// same varint scheme as LEB128 for unsigned values; signed LEB128 is
// decoded here by hand).
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint64(624485), int64(-123456))
	f.Fuzz(func(t *testing.T, u uint64, s int64) {
		b := AppendUnsigned(nil, u)
		if got, n := binary.Uvarint(b); n != len(b) || got != u {
			t.Fatalf("unsigned %d: % x decodes to %d (%d bytes)", u, b, got, n)
		}
		b = AppendSigned(nil, s)
		var v int64
		var shift uint
		for i, c := range b {
			v |= int64(c&0x7f) << shift
			shift += 7
			if c&0x80 == 0 {
				if i != len(b)-1 {
					t.Fatalf("signed %d: % x ends early", s, b)
				}
				if shift < 64 && c&0x40 != 0 {
					v |= -1 << shift
				}
			}
		}
		if v != s {
			t.Fatalf("signed %d: % x decodes to %d", s, b, v)
		}
	})
}
