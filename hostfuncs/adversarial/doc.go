// Package adversarial is reef's adversarial security suite: hostile skills
// written in C and Go (testdata/) run through the real engine with the
// real fs, http and kv capabilities, and the tests assert the exact denial
// each attack gets and that the host is untouched (a planted secret never
// appears in any output, no request reaches a server that was not
// granted, no file outside a mount changes, another skill's keys stay as
// they were).
//
// The package also runs the bundled skills in skills-src/ that use these
// capabilities (http-fetch, file-search, file-organizer, kv-counter) end
// to end, and benchmarks capability calls against the host doing the same
// work.
//
// It holds tests only. TestMain compiles the guests with clang-19 and the
// Go toolchain (a missing compiler fails the run with an install hint).
// Network traffic goes only to loopback servers started by the tests; the
// http capability dials through internal/netguard and resolves names with
// a stub resolver, so nothing can reach any other address.
package adversarial
