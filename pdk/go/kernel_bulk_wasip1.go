//go:build wasip1 && !reef_extism

package reef

// This file moves buffers with reef's bulk-copy kernel extensions: one host
// call per buffer. Build with -tags reef_extism for the plain Extism ABI.

import "unsafe"

//go:wasmimport extism:host/env reef_input_read
func reefInputRead(dst unsafe.Pointer, n uint32) uint32

//go:wasmimport extism:host/env reef_output_write
func reefOutputWrite(src unsafe.Pointer, n uint32)

//go:wasmimport extism:host/env reef_error_write
func reefErrorWrite(src unsafe.Pointer, n uint32)

//go:wasmimport extism:host/env reef_load
func reefLoad(h uint64, dst unsafe.Pointer, n uint32) uint32

//go:wasmimport extism:host/env reef_store
func reefStore(src unsafe.Pointer, n uint32) uint64

// store copies b into a new kernel block.
func store(b []byte) uint64 { return reefStore(ptr(b), uint32(len(b))) }

// load copies a kernel block into Go memory.
func load(h uint64) []byte {
	if h == 0 {
		return nil
	}
	n := extismLength(h)
	b := make([]byte, n)
	if n > 0 {
		reefLoad(h, ptr(b), uint32(n))
	}
	return b
}

func readInput(b []byte) { reefInputRead(ptr(b), uint32(len(b))) }

func writeOutput(b []byte) { reefOutputWrite(ptr(b), uint32(len(b))) }

func writeError(b []byte) { reefErrorWrite(ptr(b), uint32(len(b))) }
