//go:build !wasip1

// Package catalog holds the host-side tests of reef's bundled skills in
// skills-src/: every skill folder must load (valid SKILL.md and reef.yaml),
// pass the Agent Skills reference validator, and give the expected result
// for each of its tests/*.json golden cases when run through the engine.
//
// The modules are built by `make skills` before `make test`; a missing
// module fails the test with that hint rather than skipping it.
package catalog
