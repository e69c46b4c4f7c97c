package hostbrowser

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestUnwrapLauncher: a distribution's shell launcher is replaced by the
// binary it runs, of its own name first; real binaries stay as they are.
func TestUnwrapLauncher(t *testing.T) {
	bin, lib := t.TempDir(), t.TempDir()
	write := func(path, content string) string {
		if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	shell := write(filepath.Join(bin, "chromium-headless-shell"), "#!/bin/sh -e\nexec /x \"$@\"\n")
	full := write(filepath.Join(bin, "chromium"), "#!/bin/sh\nexec /y \"$@\"\n")
	alpine := write(filepath.Join(bin, "chromium-browser"), "#!/bin/sh\nexec /z \"$@\"\n")
	elf := write(filepath.Join(bin, "chrome"), "\x7fELF....")
	libShell := write(filepath.Join(lib, "chromium-headless-shell"), "\x7fELF")
	libFull := write(filepath.Join(lib, "chromium"), "\x7fELF")
	for _, c := range []struct{ in, want string }{
		{shell, libShell},
		{full, libFull},
		{alpine, libFull},
		{elf, elf},
		{filepath.Join(bin, "missing"), filepath.Join(bin, "missing")},
	} {
		if got := unwrapLauncherIn(lib, c.in); got != c.want {
			t.Errorf("unwrapLauncher(%s) = %s, want %s", filepath.Base(c.in), got, c.want)
		}
	}
	// A launcher with nothing behind it is run as it is.
	if got := unwrapLauncherIn(t.TempDir(), shell); got != shell {
		t.Errorf("launcher without a packaged binary: %s", got)
	}
}

// TestFullChromium: the full browser (what reef runs when no headless
// shell is installed, or when browser.exec_path names it) reads pages and
// is confined the same way. The other tests run the headless shell.
func TestFullChromium(t *testing.T) {
	full := filepath.Join(packagedDir, "chromium")
	if _, err := os.Stat(full); err != nil {
		t.Fatalf("%s: %v (the Makefile installs Debian's chromium)", full, err)
	}
	m := testModule(Options{ExecPath: full, CallTimeout: 20 * time.Second, SelectorTimeout: time.Second})
	defer m.Close()
	subresourcesBlocked(t, m)
	if got, err := m.execPath(); got != full {
		t.Errorf("browser binary %q (%v), want %q", got, err, full)
	}
}

// TestPrefersHeadlessShell: with both installed (the Makefile installs
// both), reef runs the headless shell's real binary.
func TestPrefersHeadlessShell(t *testing.T) {
	got, err := New(Options{}).execPath()
	if want := filepath.Join(packagedDir, "chromium-headless-shell"); got != want {
		t.Fatalf("default browser %q (%v), want %q", got, err, want)
	}
}
