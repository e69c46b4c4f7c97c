// Package extismcompat holds tests only: they prove that a plugin built
// with Extism's official AssemblyScript PDK (@extism/as-pdk 1.0.0 from
// npm, testdata/plugin/index.ts, which imports no reef code) runs
// unchanged under reef, and that reef and the Extism Go SDK
// (github.com/extism/go-sdk) agree on its results.
//
// # Extism compatibility
//
// The same .wasm is loaded by both hosts and compared call by call:
//
//   - input/output (input_length, input_load_*, output_set, alloc, free,
//     length, load_*/store_*): same outputs.
//   - error_set and non-zero return codes: both hosts fail the call with
//     the guest's message; reef classifies it as engine.KindGuest.
//   - config_get: manifest config (Extism) and engine.LoadOptions.Config
//     (reef) give the same values; a missing key reads as null in both.
//   - var_get/var_set: vars persist across calls of one plugin in both.
//   - log_info/log_warn (and debug/error): Extism's logger callback and
//     reef's slog handler receive the same messages at the same levels
//     (reef adds the skill and function as attributes).
//   - http_request/http_status_code: reef serves them through the
//     hostfuncs/http module (Module.ExtismRequest), so a request passes
//     the same checks as reef's own http capability — the skill's
//     manifest must request the host and the operator's grant must allow
//     it. Extism's allowed_hosts name host names only (any port); reef's
//     patterns may pin scheme and port ("http://127.0.0.1:PORT"), and a
//     request outside them is refused before any connection with an error
//     whose chain holds a *policy.Denial. Loopback and private addresses
//     are reachable only when named literally by both the manifest and the
//     grant.
//
// Differences: as-pdk 1.0.0 declares http_request but not
// http_status_code; the test plugin declares the latter itself (it is part
// of Extism's kernel ABI, which reef implements). Extism AssemblyScript
// plugins must be compiled with "--use abort=<file>/myAbort" so they do
// not import env.abort, which neither host provides.
//
// A bug in as-pdk 1.0.0: Host.outputString allocates s.length (UTF-16 code
// units) bytes but stores the longer UTF-8 encoding of non-ASCII text.
// Extism hosts let the store run past the block and return a truncated
// output; reef's kernel tolerates the same overrun into its arena's spare
// capacity, so both hosts return the same (truncated) bytes.
// Host.output with UTF-8 bytes, and logging (Memory.allocateString), are
// correct in both.
//
// Run with: go test ./pdk/extismcompat/ (needs the AssemblyScript compiler:
// make deps, or cd pdk/assemblyscript && npm ci).
package extismcompat
