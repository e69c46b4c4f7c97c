// Package author is the skill-authoring side of reef: it scaffolds a new
// skill in one of the four guest languages (Scaffold), detects a skill's
// language and compiles it with the right toolchain and flags (Detect,
// Build), and runs a skill's golden tests (LoadCases, RunCases). The
// commands `reef new`, `reef build` and `reef test` are thin wrappers over
// it.
//
// # Where the PDK comes from
//
// A skill inside the reef repository (a folder below a go.mod declaring
// module github.com/reefhq/reef) builds against the repository's pdk/
// directory, so PDK edits take effect at once. A skill anywhere else uses
// the PDK embedded in the reef binary (package pdk): Scaffold vendors the
// Go module and the Rust file into the skill, and Build supplies the C
// header and the AssemblyScript package from a temporary directory.
//
// # Outputs
//
// Build compiles into a temporary file beside the target and renames it
// over the target only after the compiler succeeded. When compilation
// fails, the previous module is removed too, so `reef run` can never run
// a module older than its source; the error says so.
package author
