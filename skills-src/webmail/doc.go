//go:build !wasip1

// Package webmail holds the end-to-end tests of reef's bundled browser and
// mail skills: web-text, web-form and mail-send (Go PDK), web-screenshot
// and mail-digest (C PDK).
//
// TestMain builds each skill from skills-src/ into a temporary directory
// (Go: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared; C: clang-19
// --target=wasm32-wasi -mexec-model=reactor), loads it with skill.Load
// from a temporary copy of its bundle, grants it loopback test servers
// and runs it through runtime/engine with the real capability modules:
// hostbrowser driving one real Chromium for the whole test binary, and
// hostmail talking to real in-process SMTP (emersion/go-smtp) and IMAP
// (go-imap v2 imapserver + imapmemserver) servers on 127.0.0.1.
//
// Every dial goes through internal/netguard (a non-loopback connection
// fails the run) and every name through a stub resolver, never real DNS.
// A second web server is never granted; any request that reaches it fails
// the run.
//
// Requirements: chromium, clang-19 with wasi-libc and
// libclang-rt-19-dev-wasm32, and Go (see /work/shared/TOOLCHAINS.md).
// A missing tool fails the tests with the package to install; nothing is
// skipped.
//
//	CGO_ENABLED=1 go test -race ./skills-src/webmail/
package webmail
