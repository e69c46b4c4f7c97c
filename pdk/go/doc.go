// Package reef is the Go PDK for reef skills, built with the standard Go
// toolchain for GOOS=wasip1 GOARCH=wasm with -buildmode=c-shared.
//
// A skill exports each function with a one-line //go:wasmexport shim that
// hands a typed handler to Run:
//
//	//go:wasmexport greet
//	func greet() int32 { return reef.Run(func(in Input) (Output, error) { ... }) }
//
// Input and output are JSON with Run (RunBytes and RunString take raw
// bytes and text). Every reef capability has a typed wrapper (ReadFile,
// Fetch, BrowserText, MailSend, KVGet, …); a failed call returns an *Error
// that matches ErrDenied, ErrNotFound, … with errors.Is.
//
// Buffers move with reef's bulk-copy kernel extensions, one host call
// each; -tags reef_extism selects the plain Extism kernel ABI. Capability
// requests use the package's own small JSON code, so -tags reef_nojson
// (which drops Run, InputJSON, OutputJSON and Logf) leaves encoding/json
// and fmt out of the module: see README.md for sizes.
//
// Guest files are behind //go:build wasip1; the files without the tag
// (JSON, request and response types) also build on the host, where they
// are unit-tested and fuzzed.
package reef
