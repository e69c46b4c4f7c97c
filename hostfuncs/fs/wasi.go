package hostfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

// Preopens implements abi.Preopener: one confined WASI filesystem per
// mount of p. The directory descriptors (*os.Root, safe for concurrent
// use) are shared by every instance and cached per host directory, so a
// fresh instance per call does not open descriptors the garbage collector
// would have to close; a cached root is reopened when the host path now
// names another directory.
func (m *Module) Preopens(p *policy.Policy) ([]abi.Preopen, error) {
	out := make([]abi.Preopen, 0, len(p.Mounts))
	for _, mt := range p.Mounts {
		r, err := m.cachedRoot(mt)
		if err != nil {
			m.log.Warn("fs preopen failed", "skill", p.Skill, "guest", mt.Guest, "host", mt.Host, "err", err)
			return nil, fmt.Errorf("fs: skill %q: preopen %s (host %s): %w", p.Skill, mt.Guest, mt.Host, err)
		}
		out = append(out, abi.Preopen{Guest: mt.Guest, FS: m.newWASIFS(p, mt, r)})
	}
	return out, nil
}

// cachedRoot returns the shared root of a mount's host directory.
func (m *Module) cachedRoot(mt policy.Mount) (*os.Root, error) {
	m.rootsMu.Lock()
	defer m.rootsMu.Unlock()
	if r, ok := m.roots[mt.Host]; ok {
		now, err1 := os.Stat(mt.Host)
		cur, err2 := r.Stat(".")
		if err1 == nil && err2 == nil && os.SameFile(now, cur) {
			return r, nil
		}
		// Instances still using the old root keep it; the finalizer of
		// os.Root closes it once they are gone.
		delete(m.roots, mt.Host)
	}
	r, err := openRoot(mt)
	if err != nil {
		return nil, err
	}
	m.roots[mt.Host] = r
	return r, nil
}

// Close closes the cached WASI roots. Instances still running keep
// working until their next path lookup, which then fails with EBADF.
func (m *Module) Close() error {
	m.rootsMu.Lock()
	defer m.rootsMu.Unlock()
	var errs []error
	for h, r := range m.roots {
		errs = append(errs, r.Close())
		delete(m.roots, h)
	}
	return errors.Join(errs...)
}

// NewWASIFS returns the confined WASI filesystem of one mount of p (what
// Preopens returns per mount); the engine normally calls Preopens instead.
func (m *Module) NewWASIFS(p *policy.Policy, mt policy.Mount) (experimentalsys.FS, error) {
	r, err := openRoot(mt)
	if err != nil {
		return nil, err
	}
	return m.newWASIFS(p, mt, r), nil
}

func (m *Module) newWASIFS(p *policy.Policy, mt policy.Mount, r *os.Root) *wasiFS {
	w := &wasiFS{m: m, p: p, mount: mt, root: r, ro: mt.Mode != skill.ReadWrite}
	if !w.ro {
		w.u = m.usageFor(p)
	}
	return w
}

// wasiFS is experimental/sys.FS over one mount's *os.Root, with the same
// rules as the reef_fs_* handlers. Paths are relative to the mount root,
// as wazero hands them over.
type wasiFS struct {
	experimentalsys.UnimplementedFS

	m     *Module
	p     *policy.Policy
	mount policy.Mount
	root  *os.Root
	ro    bool
	u     *usage
}

// String names the mount (wazero prints it in debug output).
func (w *wasiFS) String() string { return "reef:" + w.mount.Guest }

func (w *wasiFS) guest(rel string) string { return path.Join(w.mount.Guest, rel) }

// rel validates a wazero path; a path that is not local is refused.
func (w *wasiFS) rel(p string) (string, experimentalsys.Errno) {
	r, ok := checkRel(p)
	if !ok {
		// the raw path goes to the audit: it shows what was attempted
		return "", errnoOf(w.p, strings.TrimSuffix(w.mount.Guest, "/")+"/"+p, errEscape)
	}
	return r, 0
}

// writable returns EROFS (recording the denial) on a read-only mount.
func (w *wasiFS) writable(rel string) experimentalsys.Errno {
	if w.ro {
		return errnoOf(w.p, w.guest(rel), errReadOnly)
	}
	return 0
}

func (w *wasiFS) errno(rel string, err error) experimentalsys.Errno {
	return errnoOf(w.p, w.guest(rel), err)
}

// osFlags converts WASI open flags; write reports whether the open may
// change the file.
func osFlags(fl experimentalsys.Oflag) (flag int, write bool) {
	switch fl & (experimentalsys.O_RDONLY | experimentalsys.O_RDWR | experimentalsys.O_WRONLY) {
	case experimentalsys.O_RDWR:
		flag, write = os.O_RDWR, true
	case experimentalsys.O_WRONLY:
		flag, write = os.O_WRONLY, true
	default:
		flag = os.O_RDONLY
	}
	for _, b := range []struct {
		w  experimentalsys.Oflag
		o  int
		wr bool
	}{
		{experimentalsys.O_APPEND, os.O_APPEND, true},
		{experimentalsys.O_CREAT, os.O_CREATE, true},
		{experimentalsys.O_TRUNC, os.O_TRUNC, true},
		{experimentalsys.O_EXCL, os.O_EXCL, false},
		{experimentalsys.O_DIRECTORY, oDirectory, false},
		{experimentalsys.O_DSYNC, oDSync, false},
		{experimentalsys.O_SYNC, os.O_SYNC, false},
		{experimentalsys.O_RSYNC, os.O_SYNC, false},
	} {
		if fl&b.w != 0 {
			flag |= b.o
			write = write || b.wr
		}
	}
	return flag, write
}

// OpenFile implements experimentalsys.FS.
func (w *wasiFS) OpenFile(p string, fl experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	rel, e := w.rel(p)
	if e != 0 {
		return nil, e
	}
	flag, write := osFlags(fl)
	if write {
		if fl&experimentalsys.O_DIRECTORY != 0 {
			return nil, experimentalsys.EISDIR
		}
		if e := w.writable(rel); e != 0 {
			return nil, e
		}
	}
	if fl&experimentalsys.O_NOFOLLOW != 0 {
		// os.Root follows in-root links itself; honour the guest's
		// O_NOFOLLOW on the last component.
		if fi, err := w.root.Lstat(rel); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, experimentalsys.ELOOP
		}
	}
	var created, truncated int64
	switch fi, err := w.root.Stat(rel); {
	case err == nil && flag&os.O_TRUNC != 0 && fi.Mode().IsRegular():
		truncated = fi.Size()
	case errors.Is(err, fs.ErrNotExist) && flag&os.O_CREATE != 0:
		created = 1
	}
	if write && created > 0 {
		if err := w.u.reserve(0, created); err != nil {
			return nil, w.errno(rel, err)
		}
	}
	f, fi, err := openChecked(w.root, rel, flag, perm)
	if err != nil {
		w.u.release(0, created)
		return nil, w.errno(rel, err)
	}
	if fl&experimentalsys.O_DIRECTORY != 0 && !fi.IsDir() {
		f.Close()
		w.u.release(0, created)
		return nil, experimentalsys.ENOTDIR
	}
	w.u.release(truncated, 0)
	st := sys.NewStat_t(fi)
	return &wasiFile{
		w: w, f: f, rel: rel,
		isDir: fi.IsDir(), dev: st.Dev, ino: st.Ino,
		write: write && fl&(experimentalsys.O_RDWR|experimentalsys.O_WRONLY) != 0,
		app:   fl&experimentalsys.O_APPEND != 0,
	}, 0
}

// Lstat implements experimentalsys.FS.
func (w *wasiFS) Lstat(p string) (sys.Stat_t, experimentalsys.Errno) {
	rel, e := w.rel(p)
	if e != 0 {
		return sys.Stat_t{}, e
	}
	fi, err := w.root.Lstat(rel)
	if err != nil {
		return sys.Stat_t{}, w.errno(rel, err)
	}
	return sys.NewStat_t(fi), 0
}

// Stat implements experimentalsys.FS.
func (w *wasiFS) Stat(p string) (sys.Stat_t, experimentalsys.Errno) {
	rel, e := w.rel(p)
	if e != 0 {
		return sys.Stat_t{}, e
	}
	fi, err := w.root.Stat(rel)
	if err != nil {
		return sys.Stat_t{}, w.errno(rel, err)
	}
	return sys.NewStat_t(fi), 0
}

// Mkdir implements experimentalsys.FS.
func (w *wasiFS) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	rel, e := w.rel(p)
	if e != 0 {
		return e
	}
	if e := w.writable(rel); e != 0 {
		return e
	}
	if err := w.u.reserve(0, 1); err != nil {
		return w.errno(rel, err)
	}
	if err := w.root.Mkdir(rel, perm&fs.ModePerm); err != nil {
		w.u.release(0, 1)
		if e := w.errno(rel, err); e != experimentalsys.ENOTDIR {
			return e
		}
		return experimentalsys.ENOENT
	}
	return 0
}

// Chmod implements experimentalsys.FS. Only permission bits are kept.
func (w *wasiFS) Chmod(p string, perm fs.FileMode) experimentalsys.Errno {
	rel, e := w.rel(p)
	if e != 0 {
		return e
	}
	if e := w.writable(rel); e != 0 {
		return e
	}
	return w.errno(rel, w.root.Chmod(rel, perm&fs.ModePerm))
}

// Rename implements experimentalsys.FS.
func (w *wasiFS) Rename(from, to string) experimentalsys.Errno {
	rf, e := w.rel(from)
	if e != 0 {
		return e
	}
	rt, e := w.rel(to)
	if e != 0 {
		return e
	}
	if e := w.writable(rf); e != 0 {
		return e
	}
	if rf == "." || rt == "." {
		return experimentalsys.EINVAL
	}
	var bytes, files int64
	if fi, err := w.root.Lstat(rt); err == nil {
		files = 1
		if fi.Mode().IsRegular() {
			bytes = fi.Size()
		}
	}
	if err := w.root.Rename(rf, rt); err != nil {
		return errnoOf(w.p, w.guest(rf)+" -> "+w.guest(rt), err)
	}
	w.u.release(bytes, files)
	return 0
}

// Rmdir implements experimentalsys.FS.
func (w *wasiFS) Rmdir(p string) experimentalsys.Errno {
	rel, e := w.rel(p)
	if e != 0 {
		return e
	}
	if e := w.writable(rel); e != 0 {
		return e
	}
	if rel == "." {
		return experimentalsys.EINVAL
	}
	fi, err := w.root.Lstat(rel)
	if err != nil {
		return w.errno(rel, err)
	}
	if !fi.IsDir() {
		return experimentalsys.ENOTDIR
	}
	if err := w.root.Remove(rel); err != nil {
		return w.errno(rel, err)
	}
	w.u.release(0, 1)
	return 0
}

// Unlink implements experimentalsys.FS.
func (w *wasiFS) Unlink(p string) experimentalsys.Errno {
	rel, e := w.rel(p)
	if e != 0 {
		return e
	}
	if e := w.writable(rel); e != 0 {
		return e
	}
	fi, err := w.root.Lstat(rel)
	if err != nil {
		return w.errno(rel, err)
	}
	if fi.IsDir() {
		return experimentalsys.EISDIR
	}
	if err := w.root.Remove(rel); err != nil {
		return w.errno(rel, err)
	}
	var bytes int64
	if fi.Mode().IsRegular() {
		bytes = fi.Size()
	}
	w.u.release(bytes, 1)
	return 0
}

// Link implements experimentalsys.FS: hard links are always refused.
func (w *wasiFS) Link(_, newPath string) experimentalsys.Errno {
	if e := w.writable(newPath); e != 0 {
		return e
	}
	return errnoOf(w.p, w.guest(newPath), errLinkMake)
}

// Symlink implements experimentalsys.FS: guest-created symbolic links are
// always refused (a link inside a shared directory outlives the guest and
// may be followed by host tools that are not confined).
func (w *wasiFS) Symlink(_, linkName string) experimentalsys.Errno {
	if e := w.writable(linkName); e != 0 {
		return e
	}
	return errnoOf(w.p, w.guest(linkName), errSymlinkMake)
}

// Readlink implements experimentalsys.FS. The target of a link pointing
// outside the mount is not revealed.
func (w *wasiFS) Readlink(p string) (string, experimentalsys.Errno) {
	rel, e := w.rel(p)
	if e != 0 {
		return "", e
	}
	dst, err := w.root.Readlink(rel)
	if err != nil {
		return "", w.errno(rel, err)
	}
	if escapingLink(rel, dst) {
		return "", w.errno(rel, errLinkOut)
	}
	return dst, 0
}

// Utimens implements experimentalsys.FS.
func (w *wasiFS) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	rel, e := w.rel(p)
	if e != 0 {
		return e
	}
	if e := w.writable(rel); e != 0 {
		return e
	}
	return w.utimens(rel, atim, mtim)
}

func (w *wasiFS) utimens(rel string, atim, mtim int64) experimentalsys.Errno {
	if atim == experimentalsys.UTIME_OMIT || mtim == experimentalsys.UTIME_OMIT {
		fi, err := w.root.Stat(rel)
		if err != nil {
			return w.errno(rel, err)
		}
		st := sys.NewStat_t(fi)
		if atim == experimentalsys.UTIME_OMIT {
			atim = st.Atim
		}
		if mtim == experimentalsys.UTIME_OMIT {
			mtim = st.Mtim
		}
	}
	return w.errno(rel, w.root.Chtimes(rel, time.Unix(0, atim), time.Unix(0, mtim)))
}

// wasiFile is an open file of a wasiFS.
type wasiFile struct {
	experimentalsys.UnimplementedFile

	w      *wasiFS
	f      *os.File
	rel    string
	isDir  bool
	dev    uint64
	ino    sys.Inode
	write  bool
	app    bool
	closed bool
}

func (f *wasiFile) Dev() (uint64, experimentalsys.Errno)    { return f.dev, 0 }
func (f *wasiFile) Ino() (sys.Inode, experimentalsys.Errno) { return f.ino, 0 }
func (f *wasiFile) IsDir() (bool, experimentalsys.Errno)    { return f.isDir, 0 }
func (f *wasiFile) IsAppend() bool                          { return f.app }
func (f *wasiFile) errno(err error) experimentalsys.Errno   { return f.w.errno(f.rel, err) }
func (f *wasiFile) Sync() experimentalsys.Errno             { return f.errno(f.f.Sync()) }
func (f *wasiFile) Datasync() experimentalsys.Errno         { return f.errno(f.f.Sync()) }

// SetAppend implements experimentalsys.File.
func (f *wasiFile) SetAppend(enable bool) experimentalsys.Errno {
	if f.isDir {
		return experimentalsys.EISDIR
	}
	if err := setAppend(f.f, enable); err != nil {
		return f.errno(err)
	}
	f.app = enable
	return 0
}

// Stat implements experimentalsys.File.
func (f *wasiFile) Stat() (sys.Stat_t, experimentalsys.Errno) {
	if f.closed {
		return sys.Stat_t{}, experimentalsys.EBADF
	}
	fi, err := f.f.Stat()
	if err != nil {
		return sys.Stat_t{}, f.errno(err)
	}
	return sys.NewStat_t(fi), 0
}

// Read implements experimentalsys.File.
func (f *wasiFile) Read(buf []byte) (int, experimentalsys.Errno) {
	if f.isDir {
		return 0, experimentalsys.EISDIR
	}
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.Read(buf)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, f.errno(err)
}

// Pread implements experimentalsys.File.
func (f *wasiFile) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	if f.isDir {
		return 0, experimentalsys.EISDIR
	}
	if off < 0 {
		return 0, experimentalsys.EINVAL
	}
	n, err := f.f.ReadAt(buf, off)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, f.errno(err)
}

// fileOffset is int64 under another name: go vet's stdmethods check
// expects any Seek(int64, int) to return (int64, error), but wazero's
// File interface dictates an Errno result. The alias keeps the method
// signature identical for the compiler while vet skips it.
type fileOffset = int64

// Seek implements experimentalsys.File. On a directory only a rewind
// (0, SeekStart) is allowed.
func (f *wasiFile) Seek(off fileOffset, whence int) (int64, experimentalsys.Errno) {
	if whence < io.SeekStart || whence > io.SeekEnd {
		return 0, experimentalsys.EINVAL
	}
	if f.isDir && (off != 0 || whence != io.SeekStart) {
		return 0, experimentalsys.EISDIR
	}
	n, err := f.f.Seek(off, whence)
	return n, f.errno(err)
}

// Readdir implements experimentalsys.File. Inodes are not filled in
// (zero, which wazero documents as allowed); types come from the
// directory entries themselves.
func (f *wasiFile) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	if !f.isDir {
		return nil, experimentalsys.EBADF
	}
	ents, err := f.f.ReadDir(n)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, f.errno(err)
	}
	out := make([]experimentalsys.Dirent, len(ents))
	for i, e := range ents {
		out[i] = experimentalsys.Dirent{Name: e.Name(), Type: e.Type()}
	}
	return out, 0
}

// growth checks a write of n bytes at off (or at the end when appending)
// against MaxFileBytes and reserves the growth against the quota. It
// returns the file size before the write and the reserved growth.
func (f *wasiFile) growth(off int64, n int) (size, grow int64, err error) {
	mx := f.w.m.opts.MaxFileBytes
	if mx <= 0 && f.w.u == nil {
		return 0, 0, nil
	}
	fi, err := f.f.Stat()
	if err != nil {
		return 0, 0, err
	}
	size = fi.Size()
	if f.app {
		off = size
	}
	end := off + int64(n)
	if mx > 0 && end > mx {
		return 0, 0, &QuotaError{Skill: f.w.p.Skill, Kind: "file size", Limit: mx, Want: end}
	}
	grow = max(0, end-size)
	if err := f.w.u.reserve(grow, 0); err != nil {
		return 0, 0, err
	}
	return size, grow, nil
}

// settle returns the part of a reservation a short write did not use.
func (f *wasiFile) settle(off int64, written int, size, grow int64) {
	if f.app {
		off = size
	}
	used := max(0, off+int64(written)-size)
	if used < grow {
		f.w.u.release(grow-used, 0)
	}
}

// Write implements experimentalsys.File.
func (f *wasiFile) Write(buf []byte) (int, experimentalsys.Errno) {
	if f.isDir {
		return 0, experimentalsys.EISDIR
	}
	if !f.write {
		return 0, experimentalsys.EBADF
	}
	if len(buf) == 0 {
		return 0, 0
	}
	var off int64
	if !f.app && (f.w.m.opts.MaxFileBytes > 0 || f.w.u != nil) {
		var err error
		if off, err = f.f.Seek(0, io.SeekCurrent); err != nil {
			return 0, f.errno(err)
		}
	}
	size, grow, err := f.growth(off, len(buf))
	if err != nil {
		return 0, f.errno(err)
	}
	n, err := f.f.Write(buf)
	f.settle(off, n, size, grow)
	return n, f.errno(err)
}

// Pwrite implements experimentalsys.File.
func (f *wasiFile) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if f.isDir {
		return 0, experimentalsys.EISDIR
	}
	if !f.write {
		return 0, experimentalsys.EBADF
	}
	if off < 0 {
		return 0, experimentalsys.EINVAL
	}
	if len(buf) == 0 {
		return 0, 0
	}
	size, grow, err := f.growth(off, len(buf))
	if err != nil {
		return 0, f.errno(err)
	}
	n, err := f.f.WriteAt(buf, off)
	f.settle(off, n, size, grow)
	return n, f.errno(err)
}

// Truncate implements experimentalsys.File.
func (f *wasiFile) Truncate(size int64) experimentalsys.Errno {
	if f.isDir {
		return experimentalsys.EISDIR
	}
	if size < 0 {
		return experimentalsys.EINVAL
	}
	if !f.write {
		return experimentalsys.EBADF
	}
	fi, err := f.f.Stat()
	if err != nil {
		return f.errno(err)
	}
	if mx := f.w.m.opts.MaxFileBytes; mx > 0 && size > mx {
		return f.errno(&QuotaError{Skill: f.w.p.Skill, Kind: "file size", Limit: mx, Want: size})
	}
	delta := size - fi.Size()
	if err := f.w.u.reserve(delta, 0); err != nil {
		return f.errno(err)
	}
	if err := f.f.Truncate(size); err != nil {
		f.w.u.release(delta, 0)
		return f.errno(err)
	}
	return 0
}

// Utimens implements experimentalsys.File.
func (f *wasiFile) Utimens(atim, mtim int64) experimentalsys.Errno {
	if e := f.w.writable(f.rel); e != 0 {
		return e
	}
	return f.w.utimens(f.rel, atim, mtim)
}

// Close implements experimentalsys.File.
func (f *wasiFile) Close() experimentalsys.Errno {
	if f.closed {
		return 0
	}
	f.closed = true
	return f.errno(f.f.Close())
}

var (
	_ experimentalsys.FS   = (*wasiFS)(nil)
	_ experimentalsys.File = (*wasiFile)(nil)
)
