// Package engine runs Wasm skills: one wazero runtime per process, a native
// Go implementation of the Extism kernel ABI, compiled modules cached in
// memory and on disk, a pool of warm instances per skill version, and
// per-call limits (timeout, memory, output, host-call budget).
//
// It is the last step of reef's one-way flow: skill (parse) -> registry
// (hold versions) -> engine (instantiate, call). Capabilities plug in as
// hostfuncs modules (hostfuncs/abi) and ask runtime/policy for every
// decision.
//
// # Basics
//
//	eng, _ := engine.New(ctx, engine.NewConfig().WithCacheDir(dir))
//	plug, _ := eng.Load(ctx, sk, pol, engine.LoadOptions{})
//	out, err := plug.Call(ctx, "greet", []byte(`{"name":"reef"}`))
//
// # Caveats
//
// An instance never serves two calls at once. A call that traps, times out
// or breaks a limit discards its instance, never the pool or the process.
// Errors are *CallError or *LoadError; errors.Is relates timeouts to
// context.DeadlineExceeded. See RATIONALE.md for the design choices.
package engine
