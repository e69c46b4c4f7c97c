// Package registry holds the skills of a skill directory: it scans
// SKILL_DIR, loads each skill through runtime/skill, compiles it in the
// engine under its effective policy, and swaps versions atomically when
// files or grants change (fsnotify, debounced).
//
// It sits between skill (parse) and engine (call) in reef's one-way flow.
//
// # Caveats
//
// A broken skill never hides the others: it is listed with its
// *SkillLoadError, and if an older version was serving it keeps serving.
// Callers take a Lease for every call, so a swapped-out version is closed
// only after its in-flight calls finish.
package registry
