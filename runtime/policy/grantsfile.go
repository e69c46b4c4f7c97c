package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/reefhq/reef/runtime/hostmatch"
	"github.com/reefhq/reef/runtime/skill"
)

// MaxGrantsBytes bounds grants.yaml; a larger file is refused unread.
const MaxGrantsBytes = 1 << 20

// GrantsError is one problem in grants.yaml: where it is and which field.
// Callers print it as is ("grants.yaml:12: skills.web-text.http.hosts[1]:
// …"); Line is 0 when the problem has no position (file too large, not
// UTF-8, or a Grants value built in Go rather than read from a file).
type GrantsError struct {
	File  string
	Line  int
	Field string
	Err   error
}

func (e *GrantsError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	if e.Field != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Field)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *GrantsError) Unwrap() error { return e.Err }

// LoadGrants reads grants.yaml strictly. A missing file is an empty Grants
// (nothing granted), not an error. Unknown keys, duplicate keys, wrong
// types and invalid values are errors naming the file, line and field;
// files over MaxGrantsBytes, YAML anchors/aliases, several YAML documents
// and non-UTF-8 text are refused.
func LoadGrants(path string) (*Grants, error) {
	data, err := readGrantsFile(path)
	if err != nil {
		return nil, err
	}
	return ParseGrants(path, data)
}

func readGrantsFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading grants: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading grants: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, &GrantsError{File: path, Err: errors.New("not a regular file")}
	}
	if fi.Size() > MaxGrantsBytes {
		return nil, &GrantsError{File: path, Err: fmt.Errorf("file is %d bytes, over the %d byte limit", fi.Size(), MaxGrantsBytes)}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxGrantsBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading grants %s: %w", path, err)
	}
	return data, nil
}

// ParseGrants parses grants.yaml bytes strictly (see LoadGrants); file
// names the source in errors. Empty input is an empty Grants.
func ParseGrants(file string, data []byte) (*Grants, error) {
	_, g, err := parseGrantsDoc(file, data)
	return g, err
}

// parseGrantsDoc returns the YAML document (nil for an empty file) and the
// Grants it holds.
func parseGrantsDoc(file string, data []byte) (*yaml.Node, *Grants, error) {
	if len(data) > MaxGrantsBytes {
		return nil, nil, &GrantsError{File: file, Err: fmt.Errorf("file is %d bytes, over the %d byte limit", len(data), MaxGrantsBytes)}
	}
	if !utf8.Valid(data) {
		return nil, nil, &GrantsError{File: file, Line: invalidUTF8Line(data), Err: errors.New("not valid UTF-8")}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Grants{Skills: map[string]*Grant{}}, nil
		}
		return nil, nil, yamlError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, nil, &GrantsError{File: file, Line: extra.Line, Err: errors.New("only one YAML document is allowed")}
	} else if !errors.Is(err, io.EOF) {
		return nil, nil, yamlError(file, err)
	}
	p := grantsParser{file: file}
	if n := findAnchor(&doc); n != nil {
		return nil, nil, p.errf(n, "", "YAML anchors and aliases are not allowed")
	}
	g, err := p.grants(&doc)
	if err != nil {
		return nil, nil, err
	}
	return &doc, g, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a yaml.v3 syntax error into "file:line: message".
func yamlError(file string, err error) error {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &GrantsError{File: file, Line: line, Err: fmt.Errorf("YAML syntax: %s", m[2])}
	}
	return &GrantsError{File: file, Err: fmt.Errorf("YAML: %s", strings.TrimPrefix(msg, "yaml: "))}
}

func invalidUTF8Line(data []byte) int {
	line := 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size <= 1 {
			return line
		}
		if r == '\n' {
			line++
		}
		data = data[size:]
	}
	return 0
}

func findAnchor(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return n
	}
	for _, c := range n.Content {
		if a := findAnchor(c); a != nil {
			return a
		}
	}
	return nil
}

// grantsParser walks the yaml.Node tree by hand so that every error has
// the line and the dotted field of the offending value (yaml.v3's
// KnownFields gives a line but not the field, and no per-value checks).
type grantsParser struct{ file string }

func (p grantsParser) errf(n *yaml.Node, field, format string, args ...any) *GrantsError {
	return &GrantsError{File: p.file, Line: n.Line, Field: field, Err: fmt.Errorf(format, args...)}
}

func (p grantsParser) wrap(n *yaml.Node, field string, err error) *GrantsError {
	return &GrantsError{File: p.file, Line: n.Line, Field: field, Err: err}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int", "!!float":
			return "a number"
		}
		return "a string"
	}
	return "an alias"
}

type pair struct{ key, value *yaml.Node }

// mapping returns the pairs of a mapping node (nil for null), refusing
// non-string and duplicate keys and keys outside known (nil: any key).
func (p grantsParser) mapping(n *yaml.Node, field string, known []string) ([]pair, error) {
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, p.errf(n, field, "want a mapping, got %s", kindName(n))
	}
	out := make([]pair, 0, len(n.Content)/2)
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.ShortTag() == "!!merge" {
			return nil, p.errf(k, field, "merge keys (<<) are not allowed")
		}
		if k.Kind != yaml.ScalarNode || !plainString(k) {
			return nil, p.errf(k, field, "keys must be strings, got %s", kindName(k))
		}
		if first, ok := seen[k.Value]; ok {
			return nil, p.errf(k, join(field, k.Value), "key defined twice (first at line %d)", first)
		}
		seen[k.Value] = k.Line
		if known != nil && !slices.Contains(known, k.Value) {
			return nil, p.errf(k, field, "unknown key %q (known: %s)", k.Value, strings.Join(known, ", "))
		}
		out = append(out, pair{k, v})
	}
	return out, nil
}

// plainString reports a scalar read as text: untagged or tagged with one of
// YAML's own scalar tags (a skill may be called "123").
func plainString(n *yaml.Node) bool {
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float":
		return n.Tag == "" || strings.HasPrefix(n.Tag, "!!") || strings.HasPrefix(n.Tag, "tag:yaml.org,2002:")
	}
	return false
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

func (p grantsParser) str(n *yaml.Node, field string) (string, error) {
	if n.Kind != yaml.ScalarNode || !plainString(n) {
		return "", p.errf(n, field, "want a string, got %s", kindName(n))
	}
	return n.Value, nil
}

func (p grantsParser) boolean(n *yaml.Node, field string) (bool, error) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		return false, p.errf(n, field, "want true or false, got %s", kindName(n))
	}
	return n.Value == "true" || n.Value == "True" || n.Value == "TRUE", nil
}

// strList reads a list of strings, checking each with check (which may
// return a canonical key for duplicate detection).
func (p grantsParser) strList(n *yaml.Node, field string, check func(string) (string, error)) ([]string, error) {
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, p.errf(n, field, "want a list, got %s", kindName(n))
	}
	var out []string
	seen := map[string]int{}
	for i, item := range n.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		s, err := p.str(item, f)
		if err != nil {
			return nil, err
		}
		key, err := check(s)
		if err != nil {
			return nil, p.wrap(item, f, err)
		}
		if first, ok := seen[key]; ok {
			return nil, p.errf(item, f, "%q listed twice (first at line %d)", s, first)
		}
		seen[key] = item.Line
		out = append(out, s)
	}
	return out, nil
}

func (p grantsParser) size(n *yaml.Node, field string) (skill.Size, error) {
	if n.Kind != yaml.ScalarNode || isNull(n) || n.ShortTag() == "!!bool" {
		return 0, p.errf(n, field, "want a size such as 1MiB, got %s", kindName(n))
	}
	s, err := skill.ParseSize(n.Value)
	if err != nil {
		return 0, p.wrap(n, field, err)
	}
	return s, nil
}

func (p grantsParser) duration(n *yaml.Node, field string) (skill.Duration, error) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return 0, p.errf(n, field, "want a duration such as 10s, got %s", kindName(n))
	}
	var d skill.Duration
	if err := d.UnmarshalText([]byte(n.Value)); err != nil {
		return 0, p.wrap(n, field, err)
	}
	return d, nil
}

func (p grantsParser) grants(doc *yaml.Node) (*Grants, error) {
	g := &Grants{Skills: map[string]*Grant{}}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return g, nil
	}
	pairs, err := p.mapping(doc.Content[0], "", []string{"skills"})
	if err != nil {
		return nil, err
	}
	for _, kv := range pairs {
		skills, err := p.mapping(kv.value, "skills", nil)
		if err != nil {
			return nil, err
		}
		for _, s := range skills {
			name := s.key.Value
			if err := ValidSkillName(name); err != nil {
				return nil, p.wrap(s.key, "skills", err)
			}
			gr, err := p.grant(s.value, "skills."+name)
			if err != nil {
				return nil, err
			}
			g.Skills[name] = gr
		}
	}
	return g, nil
}

var grantKeys = []string{"digest", "isolation", "fs", "http", "browser", "mail", "kv", "secrets", "limits"}

func (p grantsParser) grant(n *yaml.Node, field string) (*Grant, error) {
	pairs, err := p.mapping(n, field, grantKeys)
	if err != nil {
		return nil, err
	}
	g := &Grant{}
	for _, kv := range pairs {
		f := join(field, kv.key.Value)
		v := kv.value
		switch kv.key.Value {
		case "digest":
			if g.Digest, err = p.str(v, f); err == nil {
				err = checkDigest(g.Digest)
			}
		case "isolation":
			var s string
			if s, err = p.str(v, f); err == nil {
				g.Isolation = skill.Isolation(s)
				err = checkIsolation(g.Isolation)
			}
		case "fs":
			g.FS, err = p.fs(v, f)
		case "http":
			g.HTTP, err = p.hostGrant(v, f)
		case "browser":
			g.Browser, err = p.browserGrant(v, f)
		case "mail":
			g.Mail, err = p.mailGrant(v, f)
		case "kv":
			g.KV, err = p.kvGrant(v, f)
		case "secrets":
			g.Secrets, err = p.strList(v, f, canonSecret)
		case "limits":
			g.Limits, err = p.limits(v, f)
		}
		if err != nil {
			var ge *GrantsError
			if !errors.As(err, &ge) {
				err = p.wrap(v, f, err)
			}
			return nil, err
		}
	}
	return g, nil
}

func (p grantsParser) fs(n *yaml.Node, field string) (map[string]string, error) {
	pairs, err := p.mapping(n, field, nil)
	if err != nil || len(pairs) == 0 {
		return nil, err
	}
	out := make(map[string]string, len(pairs))
	for _, kv := range pairs {
		f := join(field, kv.key.Value)
		if err := checkGuestPath(kv.key.Value); err != nil {
			return nil, p.wrap(kv.key, f, err)
		}
		spec, err := p.str(kv.value, f)
		if err != nil {
			return nil, err
		}
		if _, _, err := parseMountSpecStrict(spec); err != nil {
			return nil, p.wrap(kv.value, f, err)
		}
		out[kv.key.Value] = spec
	}
	return out, nil
}

func (p grantsParser) hostGrant(n *yaml.Node, field string) (*HostGrant, error) {
	pairs, err := p.mapping(n, field, []string{"hosts", "methods"})
	if err != nil || pairs == nil {
		return nil, err
	}
	h := &HostGrant{}
	for _, kv := range pairs {
		f := join(field, kv.key.Value)
		switch kv.key.Value {
		case "hosts":
			h.Hosts, err = p.strList(kv.value, f, canonHost)
		case "methods":
			h.Methods, err = p.strList(kv.value, f, canonMethod)
		}
		if err != nil {
			return nil, err
		}
	}
	return h, nil
}

func (p grantsParser) browserGrant(n *yaml.Node, field string) (*BrowserGrant, error) {
	pairs, err := p.mapping(n, field, []string{"hosts", "eval"})
	if err != nil || pairs == nil {
		return nil, err
	}
	b := &BrowserGrant{}
	for _, kv := range pairs {
		f := join(field, kv.key.Value)
		switch kv.key.Value {
		case "hosts":
			b.Hosts, err = p.strList(kv.value, f, canonHost)
		case "eval":
			b.Eval, err = p.boolean(kv.value, f)
		}
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (p grantsParser) mailGrant(n *yaml.Node, field string) (*MailGrant, error) {
	pairs, err := p.mapping(n, field, []string{"accounts", "send", "read", "modify"})
	if err != nil || pairs == nil {
		return nil, err
	}
	m := &MailGrant{}
	for _, kv := range pairs {
		f := join(field, kv.key.Value)
		switch kv.key.Value {
		case "accounts":
			m.Accounts, err = p.strList(kv.value, f, canonAccount)
		case "send":
			m.Send, err = p.strList(kv.value, f, canonRecipient)
		case "read":
			m.Read, err = p.strList(kv.value, f, canonMailbox)
		case "modify":
			m.Modify, err = p.boolean(kv.value, f)
		}
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (p grantsParser) kvGrant(n *yaml.Node, field string) (*KVGrant, error) {
	pairs, err := p.mapping(n, field, []string{"quota"})
	if err != nil || pairs == nil {
		return nil, err
	}
	k := &KVGrant{}
	for _, kv := range pairs {
		f := join(field, kv.key.Value)
		if k.Quota, err = p.size(kv.value, f); err != nil {
			return nil, err
		}
		if err := checkQuota(k.Quota); err != nil {
			return nil, p.wrap(kv.value, f, err)
		}
	}
	if k.Quota == 0 {
		return nil, p.errf(n, field, "quota is required (e.g. kv: {quota: 1MiB})")
	}
	return k, nil
}

func (p grantsParser) limits(n *yaml.Node, field string) (skill.Limits, error) {
	var l skill.Limits
	pairs, err := p.mapping(n, field, []string{"memory", "timeout", "output"})
	if err != nil {
		return l, err
	}
	for _, kv := range pairs {
		f := join(field, kv.key.Value)
		switch kv.key.Value {
		case "memory":
			if l.Memory, err = p.size(kv.value, f); err == nil {
				err = checkMemory(l.Memory)
			}
		case "timeout":
			l.Timeout, err = p.duration(kv.value, f)
		case "output":
			if l.Output, err = p.size(kv.value, f); err == nil && l.Output <= 0 {
				err = errors.New("output limit must be positive")
			}
		}
		if err != nil {
			var ge *GrantsError
			if !errors.As(err, &ge) {
				err = p.wrap(kv.value, f, err)
			}
			return l, err
		}
	}
	return l, nil
}

// ---- value rules, shared by the file parser, Validate and the Add… helpers

// ValidSkillName checks an Agent Skills name (skill.ValidName): 1–64
// characters of a-z, 0-9 and single hyphens, not starting or ending with a
// hyphen.
func ValidSkillName(name string) error {
	if !skill.ValidName(name) {
		return fmt.Errorf("skill name %q: want 1-64 of a-z, 0-9 and single hyphens, not at either end", name)
	}
	return nil
}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func checkDigest(d string) error {
	if !digestRE.MatchString(d) {
		return fmt.Errorf("digest %q: want sha256: followed by 64 lower-case hex digits", d)
	}
	return nil
}

func checkIsolation(i skill.Isolation) error {
	switch i {
	case skill.IsolationPooled, skill.IsolationCall:
		return nil
	}
	return fmt.Errorf("isolation %q: want pooled or call", i)
}

// checkGuestPath accepts an absolute, clean guest path ("/data").
func checkGuestPath(g string) error {
	switch {
	case g == "" || g[0] != '/':
		return fmt.Errorf("guest path %q must be absolute, e.g. /data", g)
	case len(g) > 4096:
		return fmt.Errorf("guest path is longer than 4096 bytes")
	case strings.ContainsFunc(g, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("guest path %q contains a control character", g)
	case path.Clean(g) != g:
		return fmt.Errorf("guest path %q is not clean (no .., ., // or trailing /); write %q", g, path.Clean(g))
	}
	return nil
}

// parseMountSpecStrict is ParseMountSpec plus the checks a file deserves:
// no control characters, and a mode suffix spelled exactly ro or rw (so
// "/srv:RW" is an error, not the directory "/srv:RW" mounted read-only).
func parseMountSpecStrict(spec string) (string, skill.Access, error) {
	if strings.ContainsFunc(spec, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", "", fmt.Errorf("mount %q contains a control character", spec)
	}
	if i := strings.LastIndex(spec, ":"); i >= 0 {
		m := spec[i+1:]
		if m != "ro" && m != "rw" && (strings.EqualFold(m, "ro") || strings.EqualFold(m, "rw")) {
			return "", "", fmt.Errorf("mount %q: mode must be ro or rw in lower case", spec)
		}
	}
	return ParseMountSpec(spec)
}

func canonHost(s string) (string, error) {
	p, err := hostmatch.Parse(s)
	if err != nil {
		return "", err
	}
	return p.String(), nil
}

var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

func canonMethod(s string) (string, error) {
	m := strings.ToUpper(strings.TrimSpace(s))
	if !slices.Contains(httpMethods, m) {
		return "", fmt.Errorf("method %q: want one of %s", s, strings.Join(httpMethods, ", "))
	}
	return m, nil
}

func canonRecipient(s string) (string, error) {
	l, d, err := parseAddressPattern(s)
	if err != nil {
		return "", err
	}
	return l + "@" + d, nil
}

var accountRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func canonAccount(s string) (string, error) {
	if !accountRE.MatchString(s) {
		return "", fmt.Errorf("mail account %q: want 1-64 of letters, digits, . _ - (the name in config.yaml)", s)
	}
	return s, nil
}

func canonMailbox(s string) (string, error) {
	switch {
	case s == "" || len(s) > 255:
		return "", fmt.Errorf("mailbox %q: want 1-255 bytes", s)
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", fmt.Errorf("mailbox %q contains a control character", s)
	case strings.ContainsAny(s, "*%"):
		return "", fmt.Errorf("mailbox %q: IMAP wildcards * and %% are not allowed; list each mailbox", s)
	case strings.EqualFold(s, "INBOX"):
		return "INBOX", nil
	}
	return s, nil
}

var secretRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

func canonSecret(s string) (string, error) {
	if !secretRE.MatchString(s) {
		return "", fmt.Errorf("secret name %q: want a letter or _ then letters, digits, _ (at most 128)", s)
	}
	return s, nil
}

func checkQuota(q skill.Size) error {
	if q <= 0 {
		return errors.New("kv quota must be positive")
	}
	return nil
}

func checkMemory(m skill.Size) error {
	if m <= 0 || m > skill.MaxMemory {
		return fmt.Errorf("memory limit must be between 1 byte and %s", skill.Size(skill.MaxMemory))
	}
	return nil
}
