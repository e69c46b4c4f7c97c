//go:build wasip1 && reef_extism

package reef

// This file speaks only the plain Extism kernel ABI (8 bytes per host
// call), so modules also run under Extism hosts. It is selected with
// -tags reef_extism.

import "encoding/binary"

// store copies b into a new kernel block.
func store(b []byte) uint64 {
	h := extismAlloc(uint64(len(b)))
	i := 0
	for ; i+8 <= len(b); i += 8 {
		extismStoreU64(h+uint64(i), binary.LittleEndian.Uint64(b[i:]))
	}
	for ; i < len(b); i++ {
		extismStoreU8(h+uint64(i), uint32(b[i]))
	}
	return h
}

// load copies a kernel block into Go memory.
func load(h uint64) []byte {
	if h == 0 {
		return nil
	}
	n := extismLength(h)
	b := make([]byte, n)
	i := uint64(0)
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], extismLoadU64(h+i))
	}
	for ; i < n; i++ {
		b[i] = byte(extismLoadU8(h + i))
	}
	return b
}

func readInput(b []byte) {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], extismInputLoadU64(uint64(i)))
	}
	for ; i < len(b); i++ {
		b[i] = byte(extismInputLoadU8(uint64(i)))
	}
}

func writeOutput(b []byte) { extismOutputSet(store(b), uint64(len(b))) }

func writeError(b []byte) { extismErrorSet(store(b)) }
