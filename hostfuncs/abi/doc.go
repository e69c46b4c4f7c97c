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
package abi
