package kernel

import (
	"bytes"
	"testing"
)

// TestLendAdopt covers abi.ResponseBuffer's arena side: a prefix of the
// lent block is handed out in place — and nothing past it, even when the
// lent memory still holds bytes of an earlier call — anything else is
// refused and the block released.
func TestLendAdopt(t *testing.T) {
	for _, c := range []struct {
		name string
		// out picks what the handler returns from the lent buffer.
		out       func(lent []byte) []byte
		adopted   bool
		wantBytes string
	}{
		{"whole buffer", func(l []byte) []byte { copy(l, "abcdefgh"); return l }, true, "abcdefgh"},
		{"short read prefix", func(l []byte) []byte { copy(l, "abc"); return l[:3] }, true, "abc"},
		{"empty", func(l []byte) []byte { return l[:0] }, false, ""},
		{"nil", func([]byte) []byte { return nil }, false, ""},
		{"not at the start", func(l []byte) []byte { return l[1:4] }, false, ""},
		{"other memory", func([]byte) []byte { return []byte("abcdefgh") }, false, ""},
		{"longer than lent", func(l []byte) []byte { return append(l, 'x') }, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := NewArena(1 << 20)
			// An earlier call left bytes behind in the arena's capacity.
			a.AllocBytes(bytes.Repeat([]byte{0xAA}, 64))
			a.Reset()
			before := a.AllocBytes([]byte("req"))
			lent := a.Lend(8)
			if len(lent) != 8 || cap(lent) != 8 {
				t.Fatalf("lent len %d cap %d, want 8 8", len(lent), cap(lent))
			}
			size := a.Size()
			h := a.Adopt(c.out(lent))
			if (h != 0) != c.adopted {
				t.Fatalf("adopted = %v, want %v", h != 0, c.adopted)
			}
			if c.adopted {
				if got := string(a.Bytes(h)); got != c.wantBytes {
					t.Fatalf("block holds %q, want %q", got, c.wantBytes)
				}
				if a.Length(h) != uint64(len(c.wantBytes)) || a.Size() != size-8+uint64(len(c.wantBytes)) {
					t.Fatalf("length %d, arena size %d", a.Length(h), a.Size())
				}
				// The stale bytes after the prefix are not loadable.
				if _, ok := a.LoadU8(h + uint64(len(c.wantBytes))); ok {
					t.Fatal("a byte past the adopted prefix is loadable")
				}
			} else if a.Size() != before+3 {
				t.Fatalf("refused lent block not released: size %d, want %d", a.Size(), before+3)
			}
			if string(a.Bytes(before)) != "req" {
				t.Fatal("earlier block damaged")
			}
			// Settled: a second Adopt never hands anything out.
			if a.Adopt(lent) != 0 {
				t.Fatal("a settled buffer was adopted twice")
			}
		})
	}
}

// TestLendStale: a buffer lent before the arena grew is stale; it is
// never adopted (the engine copies it), and the newer one is.
func TestLendStale(t *testing.T) {
	a := NewArena(1 << 20)
	old := a.Lend(16)
	a.Lend(64 << 10) // grows the arena: old now points to freed memory
	if a.Adopt(old) != 0 {
		t.Fatal("stale buffer adopted")
	}
	newer := a.Lend(32)
	copy(newer, "fresh")
	if h := a.Adopt(newer[:5]); h == 0 || string(a.Bytes(h)) != "fresh" {
		t.Fatalf("newest buffer not adopted (%d)", h)
	}
}

func TestLendLimit(t *testing.T) {
	a := NewArena(1024)
	if b := a.Lend(2048); b != nil {
		t.Fatal("lend past the limit")
	}
	if b := a.Lend(0); b != nil {
		t.Fatal("lend of 0 bytes")
	}
	if a.Adopt([]byte("x")) != 0 || a.Size() != 0 {
		t.Fatal("adopt without a lent block")
	}
}

// TestResetDropsLent: a buffer lent in one call is never adopted in the
// next.
func TestResetDropsLent(t *testing.T) {
	a := NewArena(1 << 20)
	l := a.Lend(8)
	a.Reset()
	if a.Adopt(l) != 0 {
		t.Fatal("buffer of an earlier call adopted")
	}
}

// TestAllocZeroes: blocks from Alloc are zeroed even where the arena
// reuses capacity (Lend and AllocBytes skip that pass; Alloc must not).
func TestAllocZeroes(t *testing.T) {
	a := NewArena(1 << 20)
	a.AllocBytes(bytes.Repeat([]byte{0xAA}, 256))
	a.Lend(128)
	a.Reset()
	h := a.Alloc(200)
	if b := a.Bytes(h); !bytes.Equal(b, make([]byte, 200)) {
		t.Fatalf("Alloc returned stale bytes: %x", b[:16])
	}
}
