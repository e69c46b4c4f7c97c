// Package skill parses a skill bundle — SKILL.md, reef.yaml and the Wasm
// module — into a validated, immutable Skill.
//
// It is the first step of reef's one-way flow: skill (parse) -> registry
// (hold versions) -> engine (instantiate, call), with policy deciding what
// each capability may do. It imports neither policy nor engine.
//
// # Entry points
//
//   - Find resolves what a user typed (a folder, a .wasm file or a skill
//     name looked up in the skill directory), refusing names with path
//     tricks.
//   - Load reads a bundle folder or a bare .wasm file into a *Skill.
//   - ParseFrontmatter and ParseManifest validate SKILL.md and reef.yaml on
//     their own (reef build, editors, tests).
//   - Skill.ValidateInput checks a call's input against the function's
//     JSON Schema before the engine runs anything.
//
// # Rules
//
// SKILL.md follows the Agent Skills specification strictly: the
// frontmatter sits between "---" lines at the very start; only name,
// description, license, compatibility, metadata and allowed-tools are
// allowed; name is 1–64 of a-z, 0-9 and single hyphens and equals the
// folder name. reef.yaml is just as strict: an unknown key at any level is
// an error, the module path stays inside the bundle, function names are
// identifiers, input schemas must compile as JSON Schema (draft 2020-12 by
// default) and may refer only to themselves, capability values are checked
// (hosts with runtime/hostmatch, HTTP methods, mail patterns, absolute
// guest paths, secret names) and limits must lie within MinMemory..MaxMemory,
// MinTimeout..MaxTimeout and 1..MaxOutput. Omitted limits stay zero for the
// policy to fill in; isolation defaults to pooled.
//
// A bare .wasm file is a skill as well, so plain Extism plugins run as
// they are: no capabilities, and an empty function list meaning every
// export is callable. Its file name must already be a valid skill name.
//
// # Caveats
//
// Parsing never runs guest code, never compiles the module and never
// touches the network: a schema $ref to a file or URL is refused, not
// fetched. Before any YAML is parsed, files are checked against their size
// limits (MaxFrontmatterSize, MaxManifestSize, MaxSkillMDSize,
// MaxWasmSize) and for valid UTF-8; YAML is then read as a node tree and
// any anchor or alias is refused, so an alias bomb is never expanded.
// Bundle files are opened through an os.Root, so neither ".." nor a
// symlink can reach outside the bundle folder, and only regular files are
// read.
//
// Every validation error is a *ValidationError naming the file, the line
// (where known), the field and the rule that failed; a bundle with several
// problems reports them all, joined with errors.Join, so authors can fix a
// bundle in one pass without reading reef's source.
package skill
