package hostfs

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/runtime/policy"
)

// tmpInfix marks reef's temporary files: "." + base + tmpInfix + random.
const tmpInfix = ".reef-tmp-"

// Entry is one file as reef_fs_list, reef_fs_stat describe it.
type Entry struct {
	Name string `json:"name"`
	// Path is the guest path (stat only).
	Path string `json:"path,omitempty"`
	Size int64  `json:"size"`
	Dir  bool   `json:"dir"`
	// Type is "file", "dir", "symlink" or "other".
	Type string `json:"type"`
	// Mode is the permission bits in octal ("0644").
	Mode string `json:"mode"`
	// Mtime is the modification time, RFC 3339 in UTC.
	Mtime string `json:"mtime"`
}

func entryOf(name string, fi fs.FileInfo) Entry {
	typ := "other"
	switch {
	case fi.Mode().IsRegular():
		typ = "file"
	case fi.IsDir():
		typ = "dir"
	case fi.Mode()&fs.ModeSymlink != 0:
		typ = "symlink"
	}
	return Entry{
		Name:  name,
		Size:  fi.Size(),
		Dir:   fi.IsDir(),
		Type:  typ,
		Mode:  fmt.Sprintf("%04o", fi.Mode().Perm()),
		Mtime: fi.ModTime().UTC().Format(time.RFC3339Nano),
	}
}

// decode parses a JSON request strictly: unknown fields are errors, so a
// misspelt option fails loudly instead of being ignored.
func decode(req []byte, v any) error {
	if len(bytes.TrimSpace(req)) == 0 {
		return invalidf("empty request: want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(req))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalidf("bad request: %v", err)
	}
	if dec.More() {
		return invalidf("bad request: data after the JSON object")
	}
	return nil
}

// open resolves a guest path and opens its mount's root. The caller
// closes the root.
func (m *Module) open(c abi.Call, field, p string, write bool) (target, *os.Root, error) {
	t, err := resolve(c.Policy(), field, p, write)
	if err != nil {
		return t, nil, err
	}
	r, err := openRoot(t.mount)
	if err != nil {
		return t, nil, err
	}
	return t, r, nil
}

func marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	return b, nil
}

func bytesResponse(n int) []byte {
	return fmt.Appendf(nil, `{"bytes":%d}`, n)
}

// ---- read

type readRequest struct {
	Path   string `json:"path"`
	Offset int64  `json:"offset"`
	Length *int64 `json:"length"`
}

func (m *Module) read(c abi.Call, req, _ []byte) ([]byte, error) {
	var r readRequest
	if err := decode(req, &r); err != nil {
		return nil, err
	}
	if r.Offset < 0 {
		return nil, invalidf("offset %d is negative", r.Offset)
	}
	if r.Length != nil && *r.Length < 0 {
		return nil, invalidf("length %d is negative", *r.Length)
	}
	t, root, err := m.open(c, "path", r.Path, false)
	if err != nil {
		return nil, guestError(c.Policy(), "read", r.Path, err)
	}
	defer root.Close()
	b, err := m.readFile(c, root, t.rel, r.Offset, r.Length)
	if err != nil {
		return nil, guestError(c.Policy(), "read", t.raw, err)
	}
	return b, nil
}

func (m *Module) readFile(c abi.Call, root *os.Root, rel string, off int64, length *int64) ([]byte, error) {
	f, fi, err := openChecked(root, rel, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.IsDir() {
		return nil, &os.PathError{Op: "read", Path: rel, Err: syscall.EISDIR}
	}
	n := max(0, fi.Size()-off)
	if length != nil {
		n = min(n, *length)
	}
	if n > m.opts.MaxReadBytes {
		return nil, &QuotaError{Skill: c.Skill(), Kind: "read", Limit: m.opts.MaxReadBytes, Want: n}
	}
	buf := responseBuffer(c, int(n))
	got, err := f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:got], nil
}

// responseBuffer returns n bytes for a response: the engine's kernel
// memory when the call lends it (abi.ResponseBuffer: the read lands where
// the guest copies it from, with no extra copy or allocation), else a new
// slice.
func responseBuffer(c abi.Call, n int) []byte {
	if rb, ok := c.(abi.ResponseBuffer); ok && n > 0 {
		if b := rb.ResponseBuffer(n); b != nil {
			return b
		}
	}
	return make([]byte, n)
}

// ---- write

type writeRequest struct {
	Path       string `json:"path"`
	CreateDirs bool   `json:"create_dirs"`
}

func (m *Module) write(c abi.Call, req, data []byte) ([]byte, error) {
	var r writeRequest
	if err := decode(req, &r); err != nil {
		return nil, err
	}
	t, root, err := m.open(c, "path", r.Path, true)
	if err != nil {
		return nil, guestError(c.Policy(), "write", r.Path, err)
	}
	defer root.Close()
	if err := m.writeAtomic(c.Policy(), root, t, data, r.CreateDirs); err != nil {
		return nil, guestError(c.Policy(), "write", t.raw, err)
	}
	return bytesResponse(len(data)), nil
}

// writeAtomic replaces t with data: temporary file in the same directory,
// fsync, rename over the target, fsync of the directory. The target's
// directory entry is replaced, so a symbolic or hard link at the target is
// replaced, never written through.
func (m *Module) writeAtomic(p *policy.Policy, root *os.Root, t target, data []byte, createDirs bool) error {
	if t.rel == "." {
		return invalidf("%s is a mount root, not a file", t.guest)
	}
	if mx := m.opts.MaxFileBytes; mx > 0 && int64(len(data)) > mx {
		return &QuotaError{Skill: p.Skill, Kind: "file size", Limit: mx, Want: int64(len(data))}
	}
	u := m.usageFor(p)
	dir, base := path.Dir(t.rel), path.Base(t.rel)
	if createDirs && dir != "." {
		if err := m.mkdirAll(u, root, dir); err != nil {
			return err
		}
	}
	var oldSize, newFiles int64
	perm := fs.FileMode(0o644)
	fi, err := root.Lstat(t.rel)
	switch {
	case err == nil && fi.IsDir():
		return &os.PathError{Op: "write", Path: t.rel, Err: syscall.EISDIR}
	case err == nil && fi.Mode().IsRegular():
		oldSize, perm = fi.Size(), fi.Mode().Perm()
	case err == nil:
		// a link or special file: replaced by the rename, counts the same
	case errors.Is(err, fs.ErrNotExist):
		newFiles = 1
	default:
		return err
	}
	delta := int64(len(data)) - oldSize
	if err := u.reserve(delta, newFiles); err != nil {
		return err
	}
	tmp := path.Join(dir, "."+base+tmpInfix+strings.ToLower(rand.Text()[:12]))
	if err := m.writeTemp(root, tmp, data, perm); err != nil {
		u.release(delta, newFiles)
		return err
	}
	if err := root.Rename(tmp, t.rel); err != nil {
		_ = root.Remove(tmp)
		u.release(delta, newFiles)
		return err
	}
	return syncDir(root, dir)
}

func (m *Module) writeTemp(root *os.Root, tmp string, data []byte, perm fs.FileMode) (err error) {
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = root.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err == nil {
		if err = f.Chmod(perm); err == nil {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && m.beforeRename != nil {
		err = m.beforeRename()
	}
	return err
}

func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// mkdirAll creates dir and its missing parents, counting them against the
// files quota.
func (m *Module) mkdirAll(u *usage, root *os.Root, dir string) error {
	missing, err := missingDirs(root, dir)
	if err != nil || missing == 0 {
		return err
	}
	if err := u.reserve(0, missing); err != nil {
		return err
	}
	if err := root.MkdirAll(dir, 0o755); err != nil {
		u.release(0, missing)
		return err
	}
	return nil
}

// missingDirs counts the components of dir that do not exist yet.
func missingDirs(root *os.Root, dir string) (int64, error) {
	parts := strings.Split(dir, "/")
	for i := range parts {
		fi, err := root.Stat(strings.Join(parts[:i+1], "/"))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return int64(len(parts) - i), nil
		case err != nil:
			return 0, err
		case !fi.IsDir():
			return 0, &os.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
		}
	}
	return 0, nil
}

// ---- append

type pathRequest struct {
	Path string `json:"path"`
}

func (m *Module) append(c abi.Call, req, data []byte) ([]byte, error) {
	var r pathRequest
	if err := decode(req, &r); err != nil {
		return nil, err
	}
	t, root, err := m.open(c, "path", r.Path, true)
	if err != nil {
		return nil, guestError(c.Policy(), "append", r.Path, err)
	}
	defer root.Close()
	n, err := m.appendFile(c.Policy(), root, t, data)
	if err != nil {
		return nil, guestError(c.Policy(), "append", t.raw, err)
	}
	return bytesResponse(n), nil
}

// appendFile appends with one write(2) on an O_APPEND descriptor, then
// fsyncs. It is not atomic like write: a crash can leave part of data.
func (m *Module) appendFile(p *policy.Policy, root *os.Root, t target, data []byte) (int, error) {
	if t.rel == "." {
		return 0, invalidf("%s is a mount root, not a file", t.guest)
	}
	var oldSize, newFiles int64
	switch fi, err := root.Stat(t.rel); {
	case err == nil:
		oldSize = fi.Size()
	case errors.Is(err, fs.ErrNotExist):
		newFiles = 1
	default:
		return 0, err
	}
	mx := m.opts.MaxFileBytes
	if mx > 0 && oldSize+int64(len(data)) > mx {
		return 0, &QuotaError{Skill: p.Skill, Kind: "file size", Limit: mx, Want: oldSize + int64(len(data))}
	}
	u := m.usageFor(p)
	if err := u.reserve(int64(len(data)), newFiles); err != nil {
		return 0, err
	}
	f, fi, err := openChecked(root, t.rel, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		u.release(int64(len(data)), newFiles)
		return 0, err
	}
	defer f.Close()
	if mx > 0 && fi.Size()+int64(len(data)) > mx {
		u.release(int64(len(data)), newFiles)
		return 0, &QuotaError{Skill: p.Skill, Kind: "file size", Limit: mx, Want: fi.Size() + int64(len(data))}
	}
	n, err := f.Write(data)
	if n < len(data) {
		u.release(int64(len(data)-n), 0)
	}
	if err == nil {
		err = f.Sync()
	}
	return n, err
}

// ---- list and stat

func (m *Module) list(c abi.Call, req, _ []byte) ([]byte, error) {
	var r pathRequest
	if err := decode(req, &r); err != nil {
		return nil, err
	}
	t, root, err := m.open(c, "path", r.Path, false)
	if err != nil {
		return nil, guestError(c.Policy(), "list", r.Path, err)
	}
	defer root.Close()
	infos, sub, err := readDirInfo(root, t.rel, m.opts.MaxListEntries)
	if err != nil {
		return nil, guestError(c.Policy(), "list", t.raw, err)
	}
	sub.Close()
	out := make([]Entry, 0, len(infos))
	for _, fi := range infos {
		out = append(out, entryOf(fi.Name(), fi))
	}
	return marshal(out)
}

func (m *Module) stat(c abi.Call, req, _ []byte) ([]byte, error) {
	var r pathRequest
	if err := decode(req, &r); err != nil {
		return nil, err
	}
	t, root, err := m.open(c, "path", r.Path, false)
	if err != nil {
		return nil, guestError(c.Policy(), "stat", r.Path, err)
	}
	defer root.Close()
	fi, err := root.Stat(t.rel)
	if err != nil {
		return nil, guestError(c.Policy(), "stat", t.raw, err)
	}
	e := entryOf(path.Base(t.guest), fi)
	e.Path = t.guest
	return marshal(e)
}

// ---- mkdir, remove, rename

type mkdirRequest struct {
	Path    string `json:"path"`
	Parents bool   `json:"parents"`
}

func (m *Module) mkdir(c abi.Call, req, _ []byte) ([]byte, error) {
	var r mkdirRequest
	if err := decode(req, &r); err != nil {
		return nil, err
	}
	t, root, err := m.open(c, "path", r.Path, true)
	if err != nil {
		return nil, guestError(c.Policy(), "mkdir", r.Path, err)
	}
	defer root.Close()
	if err := m.makeDir(c.Policy(), root, t, r.Parents); err != nil {
		return nil, guestError(c.Policy(), "mkdir", t.raw, err)
	}
	return marshal(map[string]string{"path": t.guest})
}

func (m *Module) makeDir(p *policy.Policy, root *os.Root, t target, parents bool) error {
	u := m.usageFor(p)
	if parents {
		if t.rel == "." {
			return nil
		}
		return m.mkdirAll(u, root, t.rel)
	}
	if t.rel == "." {
		return &os.PathError{Op: "mkdir", Path: t.rel, Err: fs.ErrExist}
	}
	if err := u.reserve(0, 1); err != nil {
		return err
	}
	if err := root.Mkdir(t.rel, 0o755); err != nil {
		u.release(0, 1)
		return err
	}
	return nil
}

type removeRequest struct {
	Path      string `json:"path"`
	Recursive bool   `json:"recursive"`
}

func (m *Module) remove(c abi.Call, req, _ []byte) ([]byte, error) {
	var r removeRequest
	if err := decode(req, &r); err != nil {
		return nil, err
	}
	t, root, err := m.open(c, "path", r.Path, true)
	if err != nil {
		return nil, guestError(c.Policy(), "remove", r.Path, err)
	}
	defer root.Close()
	if err := m.removePath(c, root, t, r.Recursive); err != nil {
		return nil, guestError(c.Policy(), "remove", t.raw, err)
	}
	return marshal(map[string]string{"path": t.guest})
}

func (m *Module) removePath(c abi.Call, root *os.Root, t target, recursive bool) error {
	if t.rel == "." {
		return invalidf("%s is a mount root and cannot be removed", t.guest)
	}
	u := m.usageFor(c.Policy())
	fi, err := root.Lstat(t.rel)
	if err != nil {
		return err
	}
	var bytes, files int64 = 0, 1
	switch {
	case fi.Mode().IsRegular():
		bytes = fi.Size()
	case fi.IsDir() && recursive:
		b, f, err := measureIn(root, t.rel)
		if err != nil {
			return err
		}
		bytes, files = b, f+1
		if err := root.RemoveAll(t.rel); err != nil {
			u.invalidate()
			return err
		}
		u.release(bytes, files)
		return nil
	}
	if err := root.Remove(t.rel); err != nil {
		if fi.IsDir() && errors.Is(err, syscall.ENOTEMPTY) {
			return invalidf("remove %s: directory not empty (pass \"recursive\": true)", t.guest)
		}
		return err
	}
	u.release(bytes, files)
	return nil
}

type renameRequest struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func (m *Module) rename(c abi.Call, req, _ []byte) ([]byte, error) {
	var r renameRequest
	if err := decode(req, &r); err != nil {
		return nil, err
	}
	p := c.Policy()
	value := r.From + " -> " + r.To
	from, err := resolve(p, "from", r.From, true)
	if err != nil {
		return nil, guestError(p, "rename", r.From, err)
	}
	to, err := resolve(p, "to", r.To, true)
	if err != nil {
		return nil, guestError(p, "rename", r.To, err)
	}
	if from.mount.Guest != to.mount.Guest {
		return nil, guestError(p, "rename", value, errCrossMount)
	}
	if from.rel == "." || to.rel == "." {
		return nil, invalidf("rename %s: a mount root cannot be renamed or replaced", value)
	}
	root, err := openRoot(from.mount)
	if err != nil {
		return nil, guestError(p, "rename", value, err)
	}
	defer root.Close()
	if _, err := root.Lstat(from.rel); err != nil {
		return nil, guestError(p, "rename", r.From, err)
	}
	var bytes, files int64
	if fi, err := root.Lstat(to.rel); err == nil {
		files = 1
		if fi.Mode().IsRegular() {
			bytes = fi.Size()
		}
	}
	if err := root.Rename(from.rel, to.rel); err != nil {
		return nil, guestError(p, "rename", value, err)
	}
	m.usageFor(p).release(bytes, files)
	return marshal(map[string]string{"path": to.guest})
}
