// Package pdk embeds the guest-side kits (pdk/go, pdk/c, pdk/rust,
// pdk/assemblyscript) so `reef new` and `reef build` can vendor them into
// skills created outside this repository. The kits themselves are guest
// code; this package is only their source files.
package pdk

import "embed"

// FS holds the PDK sources, under the same paths as in the repository:
// c/reef.h, rust/reef.rs, go/*.go, assemblyscript/{package.json,index.ts,
// assembly/*.ts}.
//
//go:embed c/reef.h rust/reef.rs go/*.go assemblyscript/package.json assemblyscript/index.ts assemblyscript/assembly/*.ts
var FS embed.FS
