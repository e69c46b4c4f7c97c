package hostfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"

	"github.com/reefhq/reef/runtime/policy"
)

// maxPathLen bounds a guest path (PATH_MAX on Linux).
const maxPathLen = 4096

// writeFlags are the open flags that make an open a write.
const writeFlags = os.O_WRONLY | os.O_RDWR | os.O_CREATE | os.O_TRUNC | os.O_APPEND

// target is a guest path resolved to a mount and a path relative to the
// mount's root ("." for the root itself).
type target struct {
	mount policy.Mount
	// guest is the cleaned guest path.
	guest string
	// raw is the path as the guest wrote it (what denials name).
	raw string
	rel string
}

// checkGuestPath validates an absolute guest path and returns it cleaned.
func checkGuestPath(field, p string) (string, error) {
	switch {
	case p == "":
		return "", invalidf("%s is empty", field)
	case len(p) > maxPathLen:
		return "", invalidf("%s is longer than %d bytes", field, maxPathLen)
	case strings.IndexByte(p, 0) >= 0:
		return "", invalidf("%s %q contains a NUL byte", field, p)
	case p[0] != '/':
		return "", invalidf("%s %q must be an absolute guest path such as /data/file.txt", field, p)
	}
	return path.Clean(p), nil
}

// resolve maps a guest path to its mount through the policy (which records
// a denial for paths outside every mount or writes to a read-only mount).
// ".." is resolved lexically first: "/data/../../etc/passwd" is
// "/etc/passwd", outside the mount.
func resolve(p *policy.Policy, field, raw string, write bool) (target, error) {
	clean, err := checkGuestPath(field, raw)
	if err != nil {
		return target{}, err
	}
	m, err := p.Mount(raw, write)
	if err != nil {
		return target{}, err
	}
	rel, ok := relIn(m.Guest, clean)
	if !ok {
		// policy.Mount and relIn disagree: refuse rather than guess.
		return target{}, p.Deny(policy.CapFS, raw, "path outside the mount")
	}
	return target{mount: m, guest: clean, raw: raw, rel: rel}, nil
}

// relIn returns clean (a cleaned absolute guest path) relative to the mount
// guest path, or false if it is not inside it.
func relIn(mountGuest, clean string) (string, bool) {
	if mountGuest == "/" {
		if clean == "/" {
			return ".", true
		}
		return clean[1:], true
	}
	if clean == mountGuest {
		return ".", true
	}
	if rest, ok := strings.CutPrefix(clean, mountGuest+"/"); ok && rest != "" {
		return rest, true
	}
	return "", false
}

// checkRel validates a path relative to a mount root as handed over by
// wazero: local (no "..", not absolute), no NUL. A trailing slash is kept
// (it asks for a directory).
func checkRel(rel string) (string, bool) {
	if rel == "" || rel == "/" {
		return ".", true
	}
	if strings.IndexByte(rel, 0) >= 0 || len(rel) > maxPathLen {
		return "", false
	}
	slash := strings.HasSuffix(rel, "/")
	c := path.Clean(rel)
	if c == "." {
		return ".", true
	}
	if !fs.ValidPath(c) {
		return "", false
	}
	if slash {
		c += "/"
	}
	return c, true
}

// openRoot opens a mount's host directory as an *os.Root and refuses
// kernel filesystems as mount roots.
func openRoot(m policy.Mount) (*os.Root, error) {
	r, err := os.OpenRoot(m.Host)
	if err != nil {
		return nil, &mountError{guest: m.Guest, err: err}
	}
	initEscape(r)
	d, err := r.Open(".")
	if err != nil {
		r.Close()
		return nil, &mountError{guest: m.Guest, err: err}
	}
	err = checkKernelFS(d)
	d.Close()
	if err != nil {
		r.Close()
		return nil, &mountError{guest: m.Guest, err: err}
	}
	return r, nil
}

// mountError is a mount whose host directory cannot be opened. Its
// message names the guest path only: host paths are not shown to guests.
type mountError struct {
	guest string
	err   error
}

func (e *mountError) Error() string {
	return fmt.Sprintf("mount %s is unavailable: %s", e.guest, errText(e.err))
}

func (e *mountError) Unwrap() error { return e.err }

// errEscapes is os.Root's unexported "path escapes from parent" error.
// os.Root returns it lexically (no system call) for an absolute name, so
// it is captured from the first root opened.
var (
	escapeOnce sync.Once
	errEscapes error
)

func initEscape(r *os.Root) {
	escapeOnce.Do(func() {
		_, err := r.Lstat("/")
		var pe *os.PathError
		if errors.As(err, &pe) {
			errEscapes = pe.Err
		}
	})
}

func isEscape(err error) bool {
	return errEscapes != nil && errors.Is(err, errEscapes)
}

// openChecked opens rel inside r and refuses what os.Root allows but reef
// does not: anything but a regular file or directory, files on kernel
// filesystems, and writes through a file with several hard links. O_TRUNC
// is applied only after those checks (so a refused open never truncated
// anything) and every open is non-blocking (so a FIFO swapped in after the
// pre-check cannot block the host).
func openChecked(r *os.Root, rel string, flag int, perm fs.FileMode) (*os.File, fs.FileInfo, error) {
	// Pre-check without opening: opening a device node can have side
	// effects even when the open is refused afterwards.
	if fi, err := r.Stat(rel); err == nil {
		if !fi.Mode().IsRegular() && !fi.IsDir() {
			return nil, nil, errSpecial
		}
		if fi.IsDir() && flag&(os.O_WRONLY|os.O_RDWR|os.O_TRUNC|os.O_APPEND) != 0 {
			return nil, nil, &os.PathError{Op: "open", Path: rel, Err: syscall.EISDIR}
		}
	} else if !errors.Is(err, fs.ErrNotExist) || flag&os.O_CREATE == 0 {
		return nil, nil, err
	}
	trunc := flag&os.O_TRUNC != 0
	f, err := r.OpenFile(rel, (flag&^os.O_TRUNC)|syscall.O_NONBLOCK, perm&fs.ModePerm)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		err = checkOpened(f, fi, flag)
	}
	if err == nil && trunc && fi.Mode().IsRegular() && fi.Size() != 0 {
		if err = f.Truncate(0); err == nil {
			fi, err = f.Stat()
		}
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// checkOpened applies the checks of openChecked to an open file.
func checkOpened(f *os.File, fi fs.FileInfo, flag int) error {
	if !fi.Mode().IsRegular() && !fi.IsDir() {
		return errSpecial
	}
	if err := checkKernelFS(f); err != nil {
		return err
	}
	if flag&writeFlags != 0 && fi.Mode().IsRegular() && nlink(fi) > 1 {
		return errHardLink
	}
	return nil
}

// escapingLink reports whether a symbolic link at rel with target dst
// points outside the root (lexically; os.Root refuses to follow it anyway).
func escapingLink(rel, dst string) bool {
	if dst == "" || path.IsAbs(dst) || strings.IndexByte(dst, 0) >= 0 {
		return true
	}
	j := path.Join(path.Dir(strings.TrimSuffix(rel, "/")), dst)
	return j == ".." || strings.HasPrefix(j, "../")
}
