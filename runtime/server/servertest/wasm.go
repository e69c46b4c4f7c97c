// Package servertest builds tiny Wasm modules by hand for the daemon's
// tests (and other packages' tests that run a daemon): behaviours the C
// fixtures of runtime/engine/testdata lack, without a toolchain.
// Each is a few dozen bytes; the comments give the equivalent WAT.
package servertest

import "github.com/reefhq/reef/internal/leb128"

func uleb(v uint64) []byte { return leb128.AppendUnsigned(nil, v) }

func sleb(v int64) []byte { return leb128.AppendSigned(nil, v) }

func name(s string) []byte { return append(uleb(uint64(len(s))), s...) }

func section(id byte, items ...[]byte) []byte {
	var body []byte
	body = append(body, uleb(uint64(len(items)))...)
	for _, it := range items {
		body = append(body, it...)
	}
	return append(append([]byte{id}, uleb(uint64(len(body)))...), body...)
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

const (
	i32 = 0x7f
	i64 = 0x7e
)

func functype(params, results []byte) []byte {
	return cat([]byte{0x60}, uleb(uint64(len(params))), params, uleb(uint64(len(results))), results)
}

func code(locals []byte, body []byte) []byte {
	fn := cat(locals, body)
	return cat(uleb(uint64(len(fn))), fn)
}

// DenyWasm:
//
//	(import "extism:host/env" "http_request" (func (param i64 i64) (result i64)))
//	(memory (export "memory") 1)
//	(func (export "fetch") (result i32) (drop (call 0 (i64.const 0) (i64.const 0))) (i32.const 0))
//
// With no http capability configured, http_request is denied.
func DenyWasm() []byte {
	return cat([]byte("\x00asm\x01\x00\x00\x00"),
		section(1, functype([]byte{i64, i64}, []byte{i64}), functype(nil, []byte{i32})),
		section(2, cat(name("extism:host/env"), name("http_request"), []byte{0x00, 0x00})),
		section(3, []byte{0x01}),
		section(5, []byte{0x00, 0x01}),
		section(7, cat(name("memory"), []byte{0x02, 0x00}), cat(name("fetch"), []byte{0x00, 0x01})),
		section(10, code([]byte{0x00}, []byte{0x42, 0x00, 0x42, 0x00, 0x10, 0x00, 0x1a, 0x41, 0x00, 0x0b})),
	)
}

// SpinWasm:
//
//	(import "extism:host/env" "input_length" (func (result i64)))
//	(memory (export "memory") 1)
//	(func (export "spin") (result i32) (local $n i64)
//	  (local.set $n (i64.mul (call 0) (i64.const 1000000)))
//	  (block (loop (br_if 1 (i64.eqz (local.get $n)))
//	    (local.set $n (i64.sub (local.get $n) (i64.const 1))) (br 0)))
//	  (i32.const 0))
func SpinWasm() []byte {
	body := cat(
		[]byte{0x10, 0x00}, []byte{0x42}, sleb(1_000_000), []byte{0x7e, 0x21, 0x00},
		[]byte{0x02, 0x40, 0x03, 0x40},
		[]byte{0x20, 0x00, 0x50, 0x0d, 0x01},
		[]byte{0x20, 0x00, 0x42, 0x01, 0x7d, 0x21, 0x00},
		[]byte{0x0c, 0x00, 0x0b, 0x0b},
		[]byte{0x41, 0x00, 0x0b},
	)
	return cat([]byte("\x00asm\x01\x00\x00\x00"),
		section(1, functype(nil, []byte{i64}), functype(nil, []byte{i32})),
		section(2, cat(name("extism:host/env"), name("input_length"), []byte{0x00, 0x00})),
		section(3, []byte{0x01}),
		section(5, []byte{0x00, 0x01}),
		section(7, cat(name("memory"), []byte{0x02, 0x00}), cat(name("spin"), []byte{0x00, 0x01})),
		section(10, code([]byte{0x01, 0x01, i64}, body)),
	)
}

// ConstWasm returns a module whose "get" outputs the single byte c:
//
//	(import "extism:host/env" "alloc" (func (param i64) (result i64)))
//	(import "extism:host/env" "store_u8" (func (param i64 i32)))
//	(import "extism:host/env" "output_set" (func (param i64 i64)))
//	(memory (export "memory") 1)
//	(func (export "get") (result i32) (local $p i64)
//	  (local.set $p (call 0 (i64.const 1)))
//	  (call 1 (local.get $p) (i32.const c))
//	  (call 2 (local.get $p) (i64.const 1))
//	  (i32.const 0))
//
// Two values of c are two versions of one skill, small enough that a
// swap costs microseconds even under the race detector.
func ConstWasm(c byte) []byte {
	body := cat(
		[]byte{0x42, 0x01, 0x10, 0x00, 0x21, 0x00},
		[]byte{0x20, 0x00, 0x41}, sleb(int64(c)), []byte{0x10, 0x01},
		[]byte{0x20, 0x00, 0x42, 0x01, 0x10, 0x02},
		[]byte{0x41, 0x00, 0x0b},
	)
	return cat([]byte("\x00asm\x01\x00\x00\x00"),
		section(1, functype([]byte{i64}, []byte{i64}), functype([]byte{i64, i32}, nil), functype([]byte{i64, i64}, nil), functype(nil, []byte{i32})),
		section(2,
			cat(name("extism:host/env"), name("alloc"), []byte{0x00, 0x00}),
			cat(name("extism:host/env"), name("store_u8"), []byte{0x00, 0x01}),
			cat(name("extism:host/env"), name("output_set"), []byte{0x00, 0x02})),
		section(3, []byte{0x03}),
		section(5, []byte{0x00, 0x01}),
		section(7, cat(name("memory"), []byte{0x02, 0x00}), cat(name("get"), []byte{0x00, 0x03})),
		section(10, code([]byte{0x01, 0x01, i64}, body)),
	)
}
