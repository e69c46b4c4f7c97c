package hosthttp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/reefhq/reef/hostfuncs/abi"
)

// SecretSource looks up an operator secret by name.
type SecretSource func(name string) (string, bool)

// DefaultSecretPrefix is the environment prefix of EnvSecrets in the
// default wiring: REEF_SECRET_GITHUB_TOKEN holds secret GITHUB_TOKEN.
const DefaultSecretPrefix = "REEF_SECRET_"

// maxSecretFileBytes caps a secret file; a secret is a token, not a
// document.
const maxSecretFileBytes = 64 << 10

// ValidSecretName reports whether name is a secret name: 1 to 128 of
// A-Z, a-z, 0-9 and '_'.
func ValidSecretName(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// EnvSecrets reads secret NAME from the environment variable prefix+NAME.
// The environment is read at every lookup, so a restart is not needed
// after a change in a supervisor that edits it (rare) — mostly it keeps
// nothing cached in reef's memory.
func EnvSecrets(prefix string) SecretSource {
	return func(name string) (string, bool) {
		if !ValidSecretName(name) {
			return "", false
		}
		return os.LookupEnv(prefix + name)
	}
}

// FileSecrets reads secret NAME from the file dir/NAME (the layout of
// Kubernetes and Docker secret mounts), without one trailing newline. The
// file is read at every lookup (so rotation works), inside dir only
// (os.OpenInRoot: a symlink out of dir is refused), and capped at 64 KiB.
func FileSecrets(dir string) SecretSource {
	return func(name string) (string, bool) {
		if !ValidSecretName(name) {
			return "", false
		}
		f, err := os.OpenInRoot(dir, name)
		if err != nil {
			return "", false
		}
		defer f.Close()
		if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
			return "", false
		}
		b, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
		if err != nil || len(b) > maxSecretFileBytes {
			return "", false
		}
		s := strings.TrimSuffix(string(b), "\n")
		s = strings.TrimSuffix(s, "\r")
		return s, true
	}
}

const (
	templateOpen  = "{{secret:"
	templateClose = "}}"
)

// secretNames lists the secret names referenced by templates in v, or an
// error for a malformed template.
func secretNames(v string) ([]string, error) {
	var names []string
	for {
		i := strings.Index(v, templateOpen)
		if i < 0 {
			return names, nil
		}
		rest := v[i+len(templateOpen):]
		j := strings.Index(rest, templateClose)
		if j < 0 {
			return nil, abi.Errorf(abi.CodeInvalid, "unterminated secret template %q (want {{secret:NAME}})", truncate(v[i:], 40))
		}
		name := rest[:j]
		if !ValidSecretName(name) {
			return nil, abi.Errorf(abi.CodeInvalid, "secret template names %q: want {{secret:NAME}} with NAME of A-Z, a-z, 0-9, _", truncate(name, 40))
		}
		names = append(names, name)
		v = rest[j+len(templateClose):]
	}
}

// expand replaces every template in v with its value.
func expand(v string, values map[string]string) string {
	var b strings.Builder
	for {
		i := strings.Index(v, templateOpen)
		if i < 0 {
			b.WriteString(v)
			return b.String()
		}
		b.WriteString(v[:i])
		rest := v[i+len(templateOpen):]
		j := strings.Index(rest, templateClose)
		b.WriteString(values[rest[:j]])
		v = rest[j+len(templateClose):]
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// errSecretValue is returned when an operator secret would corrupt a header.
var errSecretValue = errors.New("secret value contains control characters")

// redactedMark replaces an injected secret in anything returned to the guest.
const redactedMark = "[REDACTED]"

// redactor replaces the values of injected secrets (and their common
// encodings) in response data, so a server that echoes request headers
// cannot hand a secret back to the guest.
type redactor struct {
	needles [][]byte
}

func (r *redactor) add(secret string) {
	if secret == "" {
		return
	}
	forms := []string{secret, base64.StdEncoding.EncodeToString([]byte(secret)), base64.RawStdEncoding.EncodeToString([]byte(secret)),
		base64.URLEncoding.EncodeToString([]byte(secret)), url.QueryEscape(secret), url.PathEscape(secret)}
	for _, f := range forms {
		dup := false
		for _, n := range r.needles {
			if string(n) == f {
				dup = true
				break
			}
		}
		if !dup {
			r.needles = append(r.needles, []byte(f))
		}
	}
}

func (r *redactor) active() bool { return r != nil && len(r.needles) > 0 }

func (r *redactor) bytes(b []byte) []byte {
	if !r.active() {
		return b
	}
	for _, n := range r.needles {
		if bytes.Contains(b, n) {
			b = bytes.ReplaceAll(b, n, []byte(redactedMark))
		}
	}
	return b
}

func (r *redactor) string(s string) string {
	if !r.active() {
		return s
	}
	for _, n := range r.needles {
		s = strings.ReplaceAll(s, string(n), redactedMark)
	}
	return s
}

// contains reports whether s carries an injected value.
func (r *redactor) contains(s string) bool {
	if !r.active() {
		return false
	}
	for _, n := range r.needles {
		if strings.Contains(s, string(n)) {
			return true
		}
	}
	return false
}

func checkSecretValue(name, v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return fmt.Errorf("secret %s: %w", name, errSecretValue)
		}
	}
	return nil
}
