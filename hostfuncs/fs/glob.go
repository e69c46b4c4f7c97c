package hostfs

import (
	"errors"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/reefhq/reef/hostfuncs/abi"
)

type globRequest struct {
	Pattern string `json:"pattern"`
}

// glob returns the guest paths matching an absolute pattern. Segments use
// path.Match syntax (*, ?, [...], \ escapes); a segment that is exactly
// "**" matches zero or more directories. The leading segments without
// wildcards name the directory searched, which must lie in one mount.
// Symbolic links are matched by name but never followed.
func (m *Module) glob(c abi.Call, req, _ []byte) ([]byte, error) {
	var r globRequest
	if err := decode(req, &r); err != nil {
		return nil, err
	}
	clean, err := checkGuestPath("pattern", r.Pattern)
	if err != nil {
		return nil, err
	}
	segs := splitSegments(clean)
	for _, s := range segs {
		if _, err := path.Match(s, ""); err != nil {
			return nil, invalidf("pattern %q: bad segment %q: %v", r.Pattern, s, err)
		}
	}
	static := 0
	for static < len(segs) && !hasMeta(segs[static]) {
		static++
	}
	base := "/" + strings.Join(segs[:static], "/")
	rest := segs[static:]
	t, root, err := m.open(c, "pattern", base, false)
	if err != nil {
		return nil, guestError(c.Policy(), "glob", r.Pattern, err)
	}
	defer root.Close()
	out := []string{}
	if len(rest) == 0 {
		if _, err := root.Lstat(t.rel); err == nil {
			out = append(out, t.guest)
		}
		return marshal(out)
	}
	if fi, err := root.Stat(t.rel); err != nil || !fi.IsDir() {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, guestError(c.Policy(), "glob", r.Pattern, err)
		}
		return marshal(out)
	}
	deep := slices.Contains(rest, "**")
	visited := 0
	err = walk(c.Context(), root, t.rel, func(rel string, fi fs.FileInfo) error {
		visited++
		if visited > m.opts.MaxGlobVisit {
			return abi.Errorf(abi.CodeLimit, "glob %s looked at more than %d entries: narrow the pattern", r.Pattern, m.opts.MaxGlobVisit)
		}
		parts := strings.Split(rel, "/")
		if matchSegments(rest, parts) {
			if len(out) >= m.opts.MaxGlobResults {
				return abi.Errorf(abi.CodeLimit, "glob %s matches more than %d paths: narrow the pattern", r.Pattern, m.opts.MaxGlobResults)
			}
			out = append(out, path.Join(t.guest, rel))
		}
		if fi.IsDir() && !deep && len(parts) >= len(rest) {
			return errSkipDir
		}
		if fi.IsDir() && !prefixCanMatch(rest, parts) {
			return errSkipDir
		}
		return nil
	})
	if err != nil {
		return nil, guestError(c.Policy(), "glob", r.Pattern, err)
	}
	slices.Sort(out)
	return marshal(out)
}

func splitSegments(clean string) []string {
	if clean == "/" {
		return nil
	}
	return strings.Split(clean[1:], "/")
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// matchSegments matches path segments against pattern segments, "**"
// standing for any number (zero included) of segments.
func matchSegments(pat, parts []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for len(pat) > 0 && pat[0] == "**" {
				pat = pat[1:]
			}
			if len(pat) == 0 {
				return true
			}
			for i := range len(parts) + 1 {
				if matchSegments(pat, parts[i:]) {
					return true
				}
			}
			return false
		}
		if len(parts) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], parts[0]); !ok {
			return false
		}
		pat, parts = pat[1:], parts[1:]
	}
	return len(parts) == 0
}

// prefixCanMatch reports whether a directory at parts may contain matches
// (so the walk can prune what cannot).
func prefixCanMatch(pat, parts []string) bool {
	for i, p := range parts {
		if i >= len(pat) {
			return false
		}
		if pat[i] == "**" {
			return true
		}
		if ok, _ := path.Match(pat[i], p); !ok {
			return false
		}
	}
	return true
}
