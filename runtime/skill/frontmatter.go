package skill

import (
	"bytes"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Agent Skills limits (https://agentskills.io/specification).
const (
	MaxNameLength          = 64
	MaxDescriptionLength   = 1024
	MaxCompatibilityLength = 500
)

const nameRule = "must be 1-64 characters of a-z, 0-9 and single hyphens, not starting or ending with a hyphen (Agent Skills name rule)"

// frontmatterKeys are the only keys the Agent Skills specification allows.
var frontmatterKeys = []string{"name", "description", "license", "compatibility", "metadata", "allowed-tools"}

// ValidName reports whether s obeys the Agent Skills name rule: 1–64
// characters of a-z, 0-9 and hyphens, no leading or trailing hyphen and no
// two hyphens in a row. Skill names are also file names, grant keys and
// metric labels, so nothing else is accepted.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLength || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-':
			if s[i-1] == '-' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// ParseFrontmatter splits SKILL.md into its Agent Skills frontmatter and
// Markdown body and validates the frontmatter strictly: it must sit between
// two "---" lines at the very start of the file; only name, description,
// license, compatibility, metadata (string to string) and allowed-tools are
// allowed (allowed-tools may be a string or a list of strings, joined with
// spaces as the reference validator does). When file has a directory part
// ("web-text/SKILL.md"), name must equal that directory's name.
//
// Frontmatter over MaxFrontmatterSize, YAML anchors or aliases and bytes
// that are not UTF-8 are refused before or without expanding anything.
// file names the file in errors; every error is a *ValidationError or
// several joined.
func ParseFrontmatter(file string, data []byte) (Frontmatter, string, error) {
	folder := ""
	if d := filepath.Dir(file); d != "." && d != "" && d != string(filepath.Separator) {
		folder = filepath.Base(d)
	}
	fm, body, _, err := parseFrontmatter(file, folder, data)
	return fm, body, err
}

// parseFrontmatter is ParseFrontmatter with the folder name given apart
// from the display name; it also returns the line of the name key.
func parseFrontmatter(file, folder string, data []byte) (Frontmatter, string, int, error) {
	p := &problems{file: file}
	var fm Frontmatter
	yml, body, ok := splitFrontmatter(p, data)
	if !ok {
		return fm, "", 0, p.err()
	}
	p.lineOff = 1 // the YAML starts on line 2, after the opening ---
	root := parseYAML(p, yml, MaxFrontmatterSize, "the frontmatter")
	if !p.ok() {
		return fm, "", 0, p.err()
	}
	if !utf8.Valid(body) {
		p.lineOff = 0
		p.addLine(bytes.Count(data[:len(data)-len(body)], []byte("\n"))+lineOfInvalidUTF8(body), "", "SKILL.md is not valid UTF-8")
		return fm, "", 0, p.err()
	}
	if root == nil {
		p.addLine(1, "", "the frontmatter is empty; name and description are required (Agent Skills)")
		return fm, "", 0, p.err()
	}
	nameLine := 0
	var seen = map[string]bool{}
	mapping(p, root, "", frontmatterKeys, func(key string, k, v *yaml.Node) {
		seen[key] = true
		switch key {
		case "name":
			nameLine = v.Line + p.lineOff
			s, ok := str(p, v, key)
			if !ok {
				return
			}
			fm.Name = s
			switch {
			case !ValidName(s):
				p.addLine(v.Line, key, "%s", nameRule)
			case folder != "" && s != folder:
				p.addLine(v.Line, key, "%q must equal the folder name %q (Agent Skills name rule)", s, folder)
			}
		case "description":
			s, ok := str(p, v, key)
			if !ok {
				return
			}
			fm.Description = s
			if n := utf8.RuneCountInString(s); strings.TrimSpace(s) == "" || n > MaxDescriptionLength {
				p.addLine(v.Line, key, "must be 1-%d characters, not %d (Agent Skills description rule)", MaxDescriptionLength, n)
			}
		case "license":
			fm.License, _ = str(p, v, key)
		case "compatibility":
			s, ok := str(p, v, key)
			if !ok {
				return
			}
			fm.Compatibility = s
			if n := utf8.RuneCountInString(s); n == 0 || n > MaxCompatibilityLength {
				p.addLine(v.Line, key, "must be 1-%d characters, not %d (Agent Skills compatibility rule)", MaxCompatibilityLength, n)
			}
		case "metadata":
			fm.Metadata = map[string]string{}
			mapping(p, v, key, nil, func(mk string, _, mv *yaml.Node) {
				if mv.Kind != yaml.ScalarNode || mv.ShortTag() == "!!null" {
					p.addLine(mv.Line, join(key, mk), "must be a string, not %s (Agent Skills metadata is a string-to-string map)", kindName(mv))
					return
				}
				fm.Metadata[mk] = mv.Value
			})
		case "allowed-tools":
			if v.Kind == yaml.SequenceNode {
				tools, _, ok := strList(p, v, key)
				if ok {
					fm.AllowedTools = strings.Join(tools, " ")
				}
				return
			}
			if v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null" {
				p.addLine(v.Line, key, "must be a string or a list of strings, not %s (Agent Skills allowed-tools rule)", kindName(v))
				return
			}
			fm.AllowedTools = v.Value
		}
	})
	for _, req := range []string{"name", "description"} {
		if root.Kind == yaml.MappingNode && !seen[req] {
			p.addLine(root.Line, req, "is required (Agent Skills)")
		}
	}
	if !p.ok() {
		return fm, "", nameLine, p.err()
	}
	return fm, string(body), nameLine, nil
}

// splitFrontmatter finds the YAML between the opening and closing "---"
// lines. It looks at no more than MaxFrontmatterSize bytes past the opening
// line, so a file without a closing line costs a bounded scan.
func splitFrontmatter(p *problems, data []byte) (yml, body []byte, ok bool) {
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		p.addLine(1, "", "starts with a byte-order mark; SKILL.md must start with a '---' line (Agent Skills format)")
		return nil, nil, false
	}
	first, rest, found := bytes.Cut(data, []byte("\n"))
	if !found || !isDelimiter(first) {
		p.addLine(1, "", "must start with a '---' line opening the YAML frontmatter (Agent Skills format)")
		return nil, nil, false
	}
	window := rest
	truncated := false
	if len(window) > MaxFrontmatterSize+8 {
		window, truncated = window[:MaxFrontmatterSize+8], true
	}
	pos := 0
	for pos <= len(window) {
		end := bytes.IndexByte(window[pos:], '\n')
		var line []byte
		if end < 0 {
			if truncated {
				break // the line runs on past the window
			}
			line = window[pos:]
		} else {
			line = window[pos : pos+end]
		}
		if isDelimiter(line) {
			if pos > MaxFrontmatterSize {
				break
			}
			yml = rest[:pos]
			if end >= 0 {
				body = rest[pos+end+1:]
			}
			return yml, body, true
		}
		if end < 0 {
			break
		}
		pos += end + 1
	}
	if truncated || pos > MaxFrontmatterSize {
		p.addLine(0, "", "the frontmatter is larger than %s or not closed by a '---' line", Size(MaxFrontmatterSize))
		return nil, nil, false
	}
	p.addLine(1, "", "the frontmatter opened on line 1 is not closed by a '---' line (Agent Skills format)")
	return nil, nil, false
}

func isDelimiter(line []byte) bool {
	return string(bytes.TrimRight(line, " \t\r")) == "---"
}
