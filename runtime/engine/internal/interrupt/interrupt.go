package interrupt

import (
	"bytes"
	"fmt"

	"github.com/reefhq/reef/internal/leb128"
)

// Export is the name under which the rewritten module exports its
// interrupt flag, a mutable i32 global: 0 runs, anything else traps at the
// next yield point.
const Export = "__reef_interrupt"

// FuelExport is the name of the exported loop budget, a mutable i32
// global counted down at every loop header. When it reaches zero the
// guest yields to the Go scheduler and checks the flag. Setting it to 0
// makes the guest check the flag at its next loop iteration.
const FuelExport = "__reef_fuel"

// StartExport is the name under which the rewritten module exports its
// start function, if it had one. The start section itself is removed: a
// start function runs inside instantiation, before the host can reach the
// flag, so the host calls StartExport right after instantiating instead.
const StartExport = "__reef_start"

// Fuel is how many loop iterations run between two yields.
const Fuel = 1000

// Error is a module the rewriter cannot instrument. Every such module is
// refused: reef never runs a guest it could not make interruptible.
type Error struct {
	Offset int // byte offset in the original module
	Msg    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("wasm offset %#x: %s", e.Offset, e.Msg)
}

// Section ids of the core binary format.
const (
	secImport    = 2
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

// Instrument returns a copy of the module bin in which every loop begins
// with
//
//	fuel = fuel - 1
//	if fuel <= 0 {
//	    memory.grow 0          ;; a call into Go: the scheduler can preempt here
//	    if flag { unreachable }
//	    fuel = Fuel
//	}
//
// where flag and fuel are new mutable i32 globals exported as Export and
// FuelExport. Wasm repeats work only through loops (recursion overflows
// the stack and tail calls are not enabled), so a guest observes a set
// flag within Fuel iterations of its innermost running loop, at once if
// the host also zeroes fuel. The yield matters as much as the flag: Go
// cannot preempt compiled Wasm, so a guest that never calls into Go would
// block every stop-the-world (garbage collection) of the whole process.
// wazero's own answer, WithCloseOnContextDone, calls into Go at every
// iteration and starts a goroutine per call; this costs a decrement and a
// branch per iteration and nothing per call. A module without memory gets
// an empty one so that memory.grow exists.
//
// The decoder reads instructions exactly as wazero's compiler does for
// the features reef enables (WebAssembly 2.0: multi-value, bulk memory,
// reference types, SIMD, sign extension, saturating truncation) and
// refuses anything else, so the rewritten module cannot hide a loop from
// it. Original code that names the new globals' indices (only possible in
// a module that was invalid before the rewrite) is refused too, so a guest
// can neither read nor reset them.
func Instrument(bin []byte) ([]byte, error) {
	r := &reader{b: bin}
	if len(bin) < 8 || !bytes.Equal(bin[:4], []byte("\x00asm")) {
		return nil, &Error{0, "not a WebAssembly module (bad magic)"}
	}
	if !bytes.Equal(bin[4:8], []byte{1, 0, 0, 0}) {
		return nil, &Error{4, "unsupported binary version"}
	}
	r.pos = 8

	type section struct {
		id         byte
		start, end int // payload
		head       int // start of the section header
	}
	var secs []section
	for r.pos < len(bin) {
		head := r.pos
		id := r.byte()
		size := r.u32()
		if r.err != nil {
			return nil, r.err
		}
		if uint64(size) > uint64(len(bin)-r.pos) {
			return nil, &Error{head, fmt.Sprintf("section %d overruns the module", id)}
		}
		secs = append(secs, section{id: id, start: r.pos, end: r.pos + int(size), head: head})
		r.pos += int(size)
	}

	var imp imports
	definedGlobals := 0
	hasMemory := false
	start := int64(-1)
	for _, s := range secs {
		switch s.id {
		case secImport:
			var err error
			if imp, err = readImports(bin, s.start, s.end); err != nil {
				return nil, err
			}
		case secMemory:
			hasMemory = true
		case secGlobal:
			sr := &reader{b: bin[:s.end], pos: s.start}
			definedGlobals = int(sr.u32())
			if sr.err != nil {
				return nil, sr.err
			}
		case secStart:
			sr := &reader{b: bin[:s.end], pos: s.start}
			start = int64(sr.u32())
			if sr.err != nil {
				return nil, sr.err
			}
			if sr.pos != s.end {
				return nil, &Error{sr.pos, "start section has trailing bytes"}
			}
		}
	}
	g := globals{flag: uint32(imp.globals + definedGlobals)}
	g.fuel = g.flag + 1
	needMemory := !hasMemory && !imp.memory

	out := make([]byte, 0, len(bin)+len(bin)/8+64)
	out = append(out, bin[:8]...)
	wroteMemory, wroteGlobal, wroteExport := !needMemory, false, false
	// Where the added sections go, in the order the format requires.
	afterMemory := func(id byte) bool { return id == secTag || afterGlobal(id) || id == secGlobal }
	for _, s := range secs {
		if !wroteMemory && afterMemory(s.id) {
			out = appendSection(out, secMemory, []byte{1, 0x00, 0x00}) // one memory, min 0
			wroteMemory = true
		}
		if !wroteGlobal && afterGlobal(s.id) {
			out = appendSection(out, secGlobal, g.section(nil, 0))
			wroteGlobal = true
		}
		if !wroteExport && afterExport(s.id) {
			out = appendSection(out, secExport, g.exports(nil, 0, start))
			wroteExport = true
		}
		payload := bin[s.start:s.end]
		switch s.id {
		case secGlobal:
			out = appendSection(out, secGlobal, g.section(payload, definedGlobals))
			wroteGlobal = true
		case secExport:
			p, err := g.addExports(bin, s.start, s.end, start)
			if err != nil {
				return nil, err
			}
			out = appendSection(out, secExport, p)
			wroteExport = true
		case secStart:
			// dropped: exported as StartExport instead
		case secCode:
			p, err := rewriteCode(bin, s.start, s.end, g)
			if err != nil {
				return nil, err
			}
			out = appendSection(out, secCode, p)
		default:
			out = append(out, bin[s.head:s.end]...)
		}
	}
	if !wroteMemory {
		out = appendSection(out, secMemory, []byte{1, 0x00, 0x00})
	}
	if !wroteGlobal {
		out = appendSection(out, secGlobal, g.section(nil, 0))
	}
	if !wroteExport {
		out = appendSection(out, secExport, g.exports(nil, 0, start))
	}
	return out, nil
}

// afterGlobal and afterExport tell the sections that must follow the
// global and export sections.
func afterGlobal(id byte) bool { return id == secExport || afterExport(id) }
func afterExport(id byte) bool {
	return id == secStart || id == secElement || id == secDataCount || id == secCode || id == secData
}

func appendSection(out []byte, id byte, payload []byte) []byte {
	out = append(out, id)
	out = appendU32(out, uint32(len(payload)))
	return append(out, payload...)
}

// globals are the indices of the two added globals.
type globals struct{ flag, fuel uint32 }

// section returns a global section payload: the original entries
// (payload with its count, n entries) plus flag and fuel.
func (g globals) section(payload []byte, n int) []byte {
	p := appendU32(nil, uint32(n+2))
	if payload != nil {
		r := &reader{b: payload}
		r.u32()
		p = append(p, payload[r.pos:]...)
	}
	p = append(p, 0x7f, 0x01, 0x41, 0x00, 0x0b) // flag: mut i32 = 0
	p = append(p, 0x7f, 0x01, 0x41)             // fuel: mut i32 = Fuel
	p = appendS32(p, Fuel)
	return append(p, 0x0b)
}

// exports returns an export section payload: the original entries (rest,
// n of them), flag, fuel and, if start >= 0, the start function.
func (g globals) exports(rest []byte, n int, start int64) []byte {
	extra := 2
	if start >= 0 {
		extra++
	}
	p := appendU32(nil, uint32(n+extra))
	p = append(p, rest...)
	p = appendExport(p, Export, 0x03, g.flag)
	p = appendExport(p, FuelExport, 0x03, g.fuel)
	if start >= 0 {
		p = appendExport(p, StartExport, 0x00, uint32(start))
	}
	return p
}

func appendExport(p []byte, name string, kind byte, idx uint32) []byte {
	p = appendU32(p, uint32(len(name)))
	p = append(p, name...)
	p = append(p, kind)
	return appendU32(p, idx)
}

func (g globals) addExports(bin []byte, begin, end int, start int64) ([]byte, error) {
	r := &reader{b: bin[:end], pos: begin}
	n := r.u32()
	first := r.pos
	for i := uint32(0); i < n && r.err == nil; i++ {
		at := r.pos
		name := r.name()
		r.byte()
		r.u32()
		if r.err == nil && (name == Export || name == FuelExport || name == StartExport) {
			return nil, &Error{at, fmt.Sprintf("export name %q is reserved by reef", name)}
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if r.pos != end {
		return nil, &Error{r.pos, "export section has trailing bytes"}
	}
	return g.exports(bin[first:end], int(n), start), nil
}

// imports is what the rewrite needs to know of the import section.
type imports struct {
	globals int
	memory  bool
}

func readImports(bin []byte, start, end int) (imports, error) {
	var im imports
	r := &reader{b: bin[:end], pos: start}
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		r.name()
		r.name()
		at := r.pos
		switch kind := r.byte(); kind {
		case 0x00: // func
			r.u32()
		case 0x01: // table
			r.byte()
			r.limits()
		case 0x02: // memory
			r.limits()
			im.memory = true
		case 0x03: // global
			r.byte()
			r.byte()
			im.globals++
		default:
			if r.err == nil {
				return im, &Error{at, fmt.Sprintf("unsupported import kind %#x", kind)}
			}
		}
	}
	return im, r.err
}

// yieldCheck is the sequence put at every loop header.
func (g globals) yieldCheck() []byte {
	c, f := appendU32(nil, g.fuel), appendU32(nil, g.flag)
	var b []byte
	b = append(append(append(b, 0x23), c...), 0x41, 0x01, 0x6b) // fuel - 1
	b = append(append(b, 0x24), c...)                           // -> fuel
	b = append(append(b, 0x23), c...)                           // fuel
	b = append(b, 0x41, 0x00, 0x4c, 0x04, 0x40)                 // <= 0: if
	b = append(b, 0x41, 0x00, 0x40, 0x00, 0x1a)                 //   memory.grow 0; drop
	b = append(append(b, 0x23), f...)                           //   flag
	b = append(b, 0x04, 0x40, 0x00, 0x0b)                       //   if unreachable end
	b = append(b, 0x41)                                         //   fuel = Fuel
	b = appendS32(b, Fuel)
	b = append(append(b, 0x24), c...)
	return append(b, 0x0b) // end
}

func rewriteCode(bin []byte, start, end int, g globals) ([]byte, error) {
	r := &reader{b: bin[:end], pos: start}
	n := r.u32()
	if r.err != nil {
		return nil, r.err
	}
	p := appendU32(make([]byte, 0, end-start+end/8+16), n)
	check := g.yieldCheck()
	var body []byte
	for i := uint32(0); i < n; i++ {
		size := r.u32()
		if r.err != nil {
			return nil, r.err
		}
		if uint64(size) > uint64(end-r.pos) {
			return nil, &Error{r.pos, fmt.Sprintf("function body %d overruns the code section", i)}
		}
		fr := &reader{b: bin[:r.pos+int(size)], pos: r.pos}
		var err error
		body, err = rewriteBody(body[:0], fr, g.flag, check)
		if err != nil {
			return nil, fmt.Errorf("function body %d: %w", i, err)
		}
		p = appendU32(p, uint32(len(body)))
		p = append(p, body...)
		r.pos += int(size)
	}
	if r.pos != end {
		return nil, &Error{r.pos, "code section has trailing bytes"}
	}
	return p, nil
}

// rewriteBody copies one function body (r is positioned at its start and
// ends with it) to out, inserting check after every loop instruction.
// Code that names a global from added on (the rewrite's own) is refused.
func rewriteBody(out []byte, r *reader, added uint32, check []byte) ([]byte, error) {
	begin := r.pos
	groups := r.u32()
	for i := uint32(0); i < groups && r.err == nil; i++ {
		r.u32()
		r.valtype()
	}
	if r.err != nil {
		return nil, r.err
	}
	out = append(out, r.b[begin:r.pos]...)
	copied := r.pos
	for r.pos < len(r.b) && r.err == nil {
		at := r.pos
		op := r.byte()
		switch {
		case op == 0x03: // loop
			r.blocktype()
			if r.err == nil {
				out = append(out, r.b[copied:r.pos]...)
				out = append(out, check...)
				copied = r.pos
			}
		case op == 0x02 || op == 0x04: // block, if
			r.blocktype()
		case op <= 0x01, op == 0x05, op == 0x0b, op == 0x0f, op == 0x1a, op == 0x1b,
			op >= 0x45 && op <= 0xc4, op == 0xd1:
			// no immediates
		case op == 0x0c || op == 0x0d: // br, br_if
			r.u32()
		case op == 0x0e: // br_table
			n := r.u32()
			for i := uint32(0); i <= n && r.err == nil; i++ {
				r.u32()
			}
		case op == 0x10: // call
			r.u32()
		case op == 0x11: // call_indirect: type, table
			r.u32()
			r.u32()
		case op == 0x1c: // select t*: wazero reads exactly one one-byte type
			if c := r.byte(); c != 1 && r.err == nil {
				r.fail(at, "typed select must name exactly one type")
			}
			r.valtype()
		case op >= 0x20 && op <= 0x22: // local.get/set/tee
			r.u32()
		case op == 0x23 || op == 0x24: // global.get/set
			if g := r.u32(); g >= added && r.err == nil {
				r.fail(at, fmt.Sprintf("global index %d out of range", g))
			}
		case op == 0x25 || op == 0x26: // table.get/set
			r.u32()
		case op >= 0x28 && op <= 0x3e: // loads and stores
			r.memarg()
		case op == 0x3f || op == 0x40: // memory.size/grow: one zero byte
			r.zero(at)
		case op == 0x41:
			r.s32()
		case op == 0x42:
			r.s64()
		case op == 0x43:
			r.skip(4)
		case op == 0x44:
			r.skip(8)
		case op == 0xd0: // ref.null
			if t := r.byte(); t != 0x70 && t != 0x6f && r.err == nil {
				r.fail(at, fmt.Sprintf("unsupported reference type %#x", t))
			}
		case op == 0xd2: // ref.func
			r.u32()
		case op == 0xfc:
			r.misc(at)
		case op == 0xfd:
			r.simd()
		default:
			r.fail(at, fmt.Sprintf("unsupported opcode %#x", op))
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return append(out, r.b[copied:r.pos]...), nil
}

// reader decodes LEB128 and friends, remembering the first error.
type reader struct {
	b   []byte
	pos int
	err error
}

func (r *reader) fail(at int, msg string) {
	if r.err == nil {
		r.err = &Error{at, msg}
	}
	r.pos = len(r.b)
}

func (r *reader) byte() byte {
	if r.pos < len(r.b) && r.err == nil {
		r.pos++
		return r.b[r.pos-1]
	}
	if r.err == nil {
		r.fail(r.pos, "unexpected end")
	}
	return 0
}

func (r *reader) skip(n int) {
	if r.err == nil && len(r.b)-r.pos < n {
		r.fail(r.pos, "unexpected end")
		return
	}
	r.pos += n
}

// leb reads an LEB128 number of at most maxBytes bytes and returns its
// raw bits; the caller checks the range. Like wazero it stops at the first
// byte without the continuation bit.
func (r *reader) leb(maxBytes int) uint64 {
	at := r.pos
	var v uint64
	for i := 0; ; i++ {
		if i == maxBytes {
			r.fail(at, "LEB128 number too long")
			return 0
		}
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v
		}
	}
}

func (r *reader) u32() uint32 {
	if r.pos < len(r.b) && r.b[r.pos] < 0x80 { // one-byte fast path
		r.pos++
		return uint32(r.b[r.pos-1])
	}
	return r.u32slow()
}

func (r *reader) u32slow() uint32 {
	at := r.pos
	v := r.leb(5)
	if v > 0xffffffff {
		r.fail(at, "u32 out of range")
	}
	return uint32(v)
}

func (r *reader) s32() {
	if r.pos < len(r.b) && r.b[r.pos] < 0x80 {
		r.pos++
		return
	}
	r.leb(5)
}
func (r *reader) s64() { r.leb(10) }

func (r *reader) name() string {
	n := r.u32()
	if r.err != nil {
		return ""
	}
	if uint64(n) > uint64(len(r.b)-r.pos) {
		r.fail(r.pos, "name overruns its section")
		return ""
	}
	s := string(r.b[r.pos : r.pos+int(n)])
	r.pos += int(n)
	return s
}

func (r *reader) limits() {
	switch f := r.byte(); f {
	case 0x00, 0x02:
		r.u32()
	case 0x01, 0x03:
		r.u32()
		r.u32()
	default:
		if r.err == nil {
			r.fail(r.pos-1, fmt.Sprintf("unsupported limits flag %#x", f))
		}
	}
}

// valtype reads a one-byte value type: i32 i64 f32 f64 v128 funcref
// externref.
func (r *reader) valtype() {
	at := r.pos
	switch t := r.byte(); t {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
	default:
		if r.err == nil {
			r.fail(at, fmt.Sprintf("unsupported value type %#x", t))
		}
	}
}

// blocktype reads an s33: the empty type, one value type, or a type index.
func (r *reader) blocktype() {
	at := r.pos
	if r.pos < len(r.b) {
		switch r.b[r.pos] {
		case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
			r.pos++
			return
		}
	}
	v := r.leb(5)
	if r.err != nil {
		return
	}
	// A type index is a non-negative s33. Negative values (value types in
	// longer encodings, reference types with heap types) are refused.
	if bits := 7 * (r.pos - at); v&(1<<(bits-1)) != 0 || v > 0xffffffff {
		r.fail(at, "unsupported block type")
	}
}

func (r *reader) memarg() {
	align := r.u32()
	if align >= 32 && r.err == nil {
		r.fail(r.pos, "invalid memory alignment")
	}
	r.u32()
}

// zero reads the one reserved zero byte of memory instructions.
func (r *reader) zero(at int) {
	if c := r.byte(); c != 0 && r.err == nil {
		r.fail(at, "memory index must be a single zero byte")
	}
}

// misc reads a 0xFC instruction: wazero decodes its opcode as a u32.
func (r *reader) misc(at int) {
	switch op := r.u32(); op {
	case 0, 1, 2, 3, 4, 5, 6, 7: // saturating truncation
	case 8: // memory.init data, 0
		r.u32()
		r.zero(at)
	case 9: // data.drop
		r.u32()
	case 10: // memory.copy 0 0
		r.zero(at)
		r.zero(at)
	case 11: // memory.fill 0
		r.zero(at)
	case 12: // table.init elem table
		r.u32()
		r.u32()
	case 13: // elem.drop
		r.u32()
	case 14: // table.copy dst src
		r.u32()
		r.u32()
	case 15, 16, 17: // table.grow, table.size, table.fill
		r.u32()
	default:
		if r.err == nil {
			r.fail(at, fmt.Sprintf("unsupported 0xfc opcode %d", op))
		}
	}
}

// simd reads a 0xFD instruction. wazero decodes the opcode as one byte;
// opcodes from 0x80 are two-byte LEB128 whose second byte (0x01) it then
// reads as a nop. Reading one byte here keeps both decoders on the same
// instruction boundaries for every module.
func (r *reader) simd() {
	switch op := r.byte(); {
	case op <= 0x0b, op == 0x5c, op == 0x5d: // loads, store, load zero
		r.memarg()
	case op == 0x0c, op == 0x0d: // v128.const, i8x16.shuffle
		r.skip(16)
	case op >= 0x15 && op <= 0x22: // extract/replace lane
		r.skip(1)
	case op >= 0x54 && op <= 0x5b: // load/store lane
		r.memarg()
		r.skip(1)
	}
}

func appendS32(b []byte, v int32) []byte { return leb128.AppendSigned(b, int64(v)) }

func appendU32(b []byte, v uint32) []byte { return leb128.AppendUnsigned(b, uint64(v)) }
