// Package skill parses a skill bundle — SKILL.md, reef.yaml and the Wasm
// module — into a validated, immutable Skill.
//
// It is the first step of reef's one-way flow: skill (parse) -> registry
// (hold versions) -> engine (instantiate, call), with policy deciding what
// each capability may do.
//
// # Caveats
//
// Parsing never runs guest code and never touches the network. Every
// validation error is a *ValidationError naming the file, the line (where
// known) and the rule that failed, so authors can fix a bundle without
// reading reef's source.
package skill
