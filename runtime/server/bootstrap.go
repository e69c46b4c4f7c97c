package server

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// AdminTokenFile is the name of the generated admin token in reef's
// config directory.
const AdminTokenFile = "admin.token"

// GenerateToken returns a new random bearer token (256 bits).
func GenerateToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "reef_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// EnsureAdminToken returns the admin token stored in dir/admin.token,
// creating it (mode 0600, written atomically) on first use. created
// reports a new token: print it once. A token file readable by group or
// others is refused.
func EnsureAdminToken(dir string) (tok string, path string, created bool, err error) {
	path = filepath.Join(dir, AdminTokenFile)
	if b, err := os.ReadFile(path); err == nil {
		fi, serr := os.Stat(path)
		if serr == nil && fi.Mode().Perm()&0o077 != 0 {
			return "", path, false, fmt.Errorf("admin token %s has mode %v: it must be readable by its owner only (chmod 600)", path, fi.Mode().Perm())
		}
		tok = strings.TrimSpace(string(b))
		if tok == "" {
			return "", path, false, fmt.Errorf("admin token %s is empty: delete it to generate a new one", path)
		}
		return tok, path, false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", path, false, fmt.Errorf("admin token: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", path, false, fmt.Errorf("admin token: %w", err)
	}
	tok = GenerateToken()
	if err := WriteFileAtomic(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", path, false, fmt.Errorf("admin token: %w", err)
	}
	return tok, path, true, nil
}

// WriteFileAtomic writes data to path through a temp file in the same
// directory (fsync, chmod, rename, fsync of the directory), so readers
// see the old or the new file, never a part.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			_ = os.Remove(name)
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// IsLoopback reports whether a listen address binds loopback only.
func IsLoopback(listen string) bool {
	h, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// LoopbackOnly rewrites a listen address to bind 127.0.0.1 with the same
// port (used when reef runs on a generated token nobody configured).
func LoopbackOnly(listen string) string {
	if IsLoopback(listen) {
		return listen
	}
	_, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" {
		port = "7777"
	}
	return net.JoinHostPort("127.0.0.1", port)
}
