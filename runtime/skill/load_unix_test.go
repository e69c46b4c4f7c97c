//go:build unix

package skill_test

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/reefhq/reef/runtime/skill"
)

// A FIFO named as the module would block a naive open forever; Load must
// refuse it as "not a regular file" without opening it.
func TestLoadRefusesFIFO(t *testing.T) {
	dir := bundle(t, "x", map[string]string{"SKILL.md": skillMD("x"), "reef.yaml": goodManifest})
	if err := syscall.Mkfifo(filepath.Join(dir, "m.wasm"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	_, err := skill.Load(dir)
	wantProblem(t, err, "reef.yaml:1: wasm:", "not a regular file")

	dir = bundle(t, "y", map[string]string{"reef.yaml": goodManifest, "m.wasm": string(wasmHeader)})
	if err := syscall.Mkfifo(filepath.Join(dir, "SKILL.md"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	_, err = skill.Load(dir)
	wantProblem(t, err, "SKILL.md:", "not a regular file")
}
