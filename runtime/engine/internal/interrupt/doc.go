// Package interrupt rewrites a WebAssembly module so that the host can stop
// it: every loop header reads an exported mutable global and traps when the
// host has set it, which lets reef interrupt runaway guests without
// wazero's per-call watcher goroutine.
package interrupt
