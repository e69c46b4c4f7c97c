// Package abi is the contract between reef's engine and its capability
// modules (hostfuncs/fs, http, browser, mail, kv, log), and between reef and
// guest PDKs: import module names, function names, the calling convention
// and the error document. PDKs are checked against names.go.
//
// # Calling convention
//
// Every capability function lives in the "extism:host/user" module and has
// the one signature
//
//	(req i64, data i64) -> i64
//
// req is an Extism memory handle holding a JSON request, data an optional
// handle with raw payload bytes (0 = none). A result >= 0 is a handle to
// the response bytes (0 = empty response); a result < 0 is the negated
// handle of a JSON Error document. Handles live in the per-call kernel
// arena and are released when the call ends.
//
// # Zero-copy responses
//
// A handler returns its response as a []byte that the engine copies into
// the kernel arena. A handler producing a large response (a file read)
// can avoid that copy through the optional ResponseBuffer extension of
// Call: it asks for n bytes of arena memory, fills them and returns them
// (see buffer.go for the contract). The extension is additive: the
// calling convention and what the guest sees are unchanged, and a handler
// must still work with a Call that does not implement it (abitest.Call).
package abi
