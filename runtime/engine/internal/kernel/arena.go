// Package kernel holds the per-call memory arena behind reef's native
// implementation of the Extism kernel ABI.
//
// Extism guests never see host memory: they ask the kernel to allocate
// blocks and copy bytes in and out by handle. reef keeps those blocks in a
// Go byte slice per instance, bump-allocated and reset at the start of each
// call, so a call costs no allocation once the arena has grown to its
// working size.
package kernel

import "encoding/binary"

// header is the size of the length prefix stored before each block.
const header = 8

// Arena is a bump allocator of length-prefixed blocks. Handle 0 is never a
// block. An Arena is not safe for concurrent use; an instance serves one
// call at a time.
type Arena struct {
	buf []byte
	// starts lists block handles in increasing order, so Length can reject
	// handles that do not start a block (Extism's "length" contract).
	starts []uint64
	limit  uint64
	// lent is the block last handed out by Lend and not yet settled by
	// Adopt (0: none).
	lent uint64
}

// NewArena returns an arena that refuses to grow past limit bytes.
func NewArena(limit uint64) *Arena {
	return &Arena{buf: make([]byte, 0, 4096), limit: limit}
}

// Reset drops every block; capacity is kept for the next call.
func (a *Arena) Reset() {
	a.buf = a.buf[:0]
	a.starts = a.starts[:0]
	a.lent = 0
}

// Cap is the arena's capacity in bytes.
func (a *Arena) Cap() uint64 { return uint64(cap(a.buf)) }

// Size is the number of bytes in use (the Extism memory_bytes figure).
func (a *Arena) Size() uint64 { return uint64(len(a.buf)) }

// Alloc reserves n bytes and returns the block's handle, or 0 when the
// arena limit would be exceeded.
func (a *Arena) Alloc(n uint64) uint64 {
	h, fresh := a.alloc(n)
	if h != 0 && !fresh {
		clear(a.buf[h:])
	}
	return h
}

// alloc is Alloc without zeroing reused capacity; fresh reports that the
// arena grew, so the block is new (zeroed) memory.
func (a *Arena) alloc(n uint64) (h uint64, fresh bool) {
	start := uint64(len(a.buf))
	end := start + header + n
	if n > a.limit || end > a.limit || end < start {
		return 0, false
	}
	if end > uint64(cap(a.buf)) {
		c := uint64(cap(a.buf)) * 2
		if c < end {
			c = end
		}
		if c > a.limit {
			c = a.limit
		}
		nb := make([]byte, end, c)
		copy(nb, a.buf)
		a.buf = nb
		fresh = true
	} else {
		a.buf = a.buf[:end]
	}
	binary.LittleEndian.PutUint64(a.buf[start:], n)
	h = start + header
	a.starts = append(a.starts, h)
	return h, fresh
}

// AllocBytes copies b into a new block; 0 when b is empty or the arena is
// full.
func (a *Arena) AllocBytes(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	h, _ := a.alloc(uint64(len(b))) // every byte is overwritten: no zeroing
	if h != 0 {
		copy(a.buf[h:], b)
	}
	return h
}

// Lend allocates a block of n bytes for a host function to fill in place
// (abi.ResponseBuffer) and returns it; nil when n is 0 or the arena is
// full. The slice aliases the arena: it is valid until the next Alloc,
// Lend, Adopt or Reset. Settle it with Adopt.
//
// Unlike Alloc, Lend does not zero the block (a 1 MiB read would pay a
// full extra pass over memory for it). That exposes nothing: only the
// prefix the host function returns — bytes it wrote — becomes a block the
// guest can load, and anything else reused capacity may still hold was
// put there during this instance's earlier calls, by its own guest or for
// it, so the same guest could already read it. Arenas are per instance
// and instances never serve another skill.
func (a *Arena) Lend(n uint64) []byte {
	a.release()
	if n == 0 {
		return nil
	}
	h, _ := a.alloc(n)
	if h == 0 {
		return nil
	}
	a.lent = h
	return a.buf[h : h+n : h+n]
}

// Adopt settles the block lent by Lend. When out is a prefix of it (same
// first byte, not longer) the block is shortened to len(out) and its
// handle returned: the bytes are handed out without a copy. Otherwise it
// returns 0 and the lent block is released (freed if it is still the most
// recent block); the caller then copies out as usual.
func (a *Arena) Adopt(out []byte) uint64 {
	h := a.lent
	if h == 0 {
		return 0
	}
	n := binary.LittleEndian.Uint64(a.buf[h-header:])
	if len(out) == 0 || uint64(len(out)) > n || &out[0] != &a.buf[h] {
		a.release()
		return 0
	}
	a.lent = 0
	k := uint64(len(out))
	binary.LittleEndian.PutUint64(a.buf[h-header:], k)
	if last := a.starts[len(a.starts)-1]; last == h {
		a.buf = a.buf[:h+k]
	}
	return h
}

// release frees an unsettled lent block if it is the most recent block;
// otherwise it stays allocated until Reset.
func (a *Arena) release() {
	if a.lent != 0 {
		a.Free(a.lent)
		a.lent = 0
	}
}

// Free releases the block if it is the most recent one; other blocks live
// until Reset (Extism guests free rarely and calls are short).
func (a *Arena) Free(h uint64) {
	if n := len(a.starts); n > 0 && a.starts[n-1] == h {
		a.buf = a.buf[:h-header]
		a.starts = a.starts[:n-1]
	}
}

// Length returns the length of the block at h, or 0 if h is not a block.
func (a *Arena) Length(h uint64) uint64 {
	lo, hi := 0, len(a.starts)
	for lo < hi {
		m := (lo + hi) / 2
		switch s := a.starts[m]; {
		case s == h:
			return binary.LittleEndian.Uint64(a.buf[h-header:])
		case s < h:
			lo = m + 1
		default:
			hi = m
		}
	}
	return 0
}

// LengthUnsafe reads the length prefix without checking that h starts a
// block; out-of-range handles give 0.
func (a *Arena) LengthUnsafe(h uint64) uint64 {
	if h < header || h > uint64(len(a.buf)) {
		return 0
	}
	return binary.LittleEndian.Uint64(a.buf[h-header:])
}

// Bytes returns the block at h (nil for 0 or an invalid handle). The slice
// aliases the arena and is valid until the next Alloc or Reset.
func (a *Arena) Bytes(h uint64) []byte {
	if h == 0 {
		return nil
	}
	n := a.Length(h)
	if n == 0 {
		return nil
	}
	return a.buf[h : h+n]
}

// Range returns buf[off:off+n] if it lies inside the arena.
func (a *Arena) Range(off, n uint64) ([]byte, bool) {
	end := off + n
	if end < off || end > uint64(len(a.buf)) {
		return nil, false
	}
	return a.buf[off:end], true
}

// LoadU8 reads one byte; ok is false out of range.
func (a *Arena) LoadU8(off uint64) (byte, bool) {
	if off >= uint64(len(a.buf)) {
		return 0, false
	}
	return a.buf[off], true
}

// LoadU64 reads a little-endian u64.
func (a *Arena) LoadU64(off uint64) (uint64, bool) {
	if off+8 < off || off+8 > uint64(len(a.buf)) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(a.buf[off:]), true
}

// StoreU8 writes one byte. Stores may run past the last block into the
// arena's spare capacity, as they may into Extism's kernel memory:
// @extism/as-pdk 1.0.0 sizes string output in UTF-16 units and writes
// UTF-8, and Extism hosts tolerate the overrun (the extra bytes are simply
// not part of any block).
func (a *Arena) StoreU8(off uint64, v byte) bool {
	if off >= uint64(cap(a.buf)) {
		return false
	}
	a.buf[:cap(a.buf)][off] = v
	return true
}

// StoreU64 writes a little-endian u64 (see StoreU8 for the bounds).
func (a *Arena) StoreU64(off, v uint64) bool {
	if off+8 < off || off+8 > uint64(cap(a.buf)) {
		return false
	}
	binary.LittleEndian.PutUint64(a.buf[:cap(a.buf)][off:], v)
	return true
}
