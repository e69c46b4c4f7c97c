package skill

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Size limits of the files of a bundle. They are checked before any YAML is
// parsed, so an oversized file costs one length comparison.
const (
	// MaxFrontmatterSize bounds the YAML frontmatter of SKILL.md.
	MaxFrontmatterSize = 64 << 10
	// MaxSkillMDSize bounds the whole SKILL.md (frontmatter and body).
	MaxSkillMDSize = 1 << 20
	// MaxManifestSize bounds reef.yaml.
	MaxManifestSize = 256 << 10
	// MaxWasmSize bounds the module file.
	MaxWasmSize = 256 << 20
)

// allowedTags are the YAML tags a bundle may use: the core schema only.
// Custom tags, !!binary, !!set/!!omap and !!merge ("<<" keys) are refused.
var allowedTags = []string{"!!str", "!!int", "!!float", "!!bool", "!!null", "!!timestamp", "!!map", "!!seq"}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses one YAML document defensively: the size and UTF-8
// checks run before the parser sees a byte, anchors and aliases are refused
// (an alias bomb expands only when decoded into values, which never happens
// here: the tree is walked as nodes), and only core-schema tags are allowed.
// It returns the document's root node, or nil for an empty document.
func parseYAML(p *problems, data []byte, limit int, what string) *yaml.Node {
	if len(data) > limit {
		p.addLine(0, "", "%s is %d bytes; the limit is %s", what, len(data), Size(limit))
		return nil
	}
	if !utf8.Valid(data) {
		p.addLine(lineOfInvalidUTF8(data), "", "%s is not valid UTF-8", what)
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		addYAMLError(p, err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := 0
		if err == nil {
			line = extra.Line
		}
		p.addLine(line, "", "%s must hold exactly one YAML document", what)
		return nil
	}
	if !checkNodes(p, &doc) {
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil
	}
	return root
}

func addYAMLError(p *problems, err error) {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, msg := range te.Errors {
			addYAMLMessage(p, msg)
		}
		return
	}
	addYAMLMessage(p, err.Error())
}

func addYAMLMessage(p *problems, msg string) {
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			p.addLine(n, "", "invalid YAML: %s", m[2])
			return
		}
	}
	p.addLine(0, "", "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

// checkNodes refuses anchors, aliases and tags outside the core schema. It
// stops at the first problem: one is enough to reject the file.
func checkNodes(p *problems, n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		p.addLine(n.Line, "", "YAML anchors and aliases (&, *) are not allowed (alias-bomb defense)")
		return false
	}
	if n.Kind == yaml.ScalarNode || n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		if t := n.ShortTag(); !slices.Contains(allowedTags, t) {
			p.addLine(n.Line, "", "YAML tag %s is not allowed (only plain strings, numbers, booleans, null, lists and maps)", t)
			return false
		}
	}
	for _, c := range n.Content {
		if !checkNodes(p, c) {
			return false
		}
	}
	return true
}

// lineOfInvalidUTF8 returns the 1-based line holding the first invalid
// UTF-8 sequence (a sequence never spans a newline byte).
func lineOfInvalidUTF8(data []byte) int {
	line := 1
	for len(data) > 0 {
		l, rest, _ := bytes.Cut(data, []byte("\n"))
		if !utf8.Valid(l) {
			return line
		}
		data = rest
		line++
	}
	return line
}

// join builds a dotted field path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// kindName names a node's kind for error messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "empty"
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// mapping walks a mapping node: keys must be unique plain scalars and one of
// allowed; visit is called for each allowed key in document order.
func mapping(p *problems, n *yaml.Node, path string, allowed []string, visit func(key string, k, v *yaml.Node)) bool {
	if n.Kind != yaml.MappingNode {
		field := path
		p.addLine(n.Line, field, "must be a map, not %s", kindName(n))
		return false
	}
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.addLine(k.Line, path, "keys must be plain strings, not %s", kindName(k))
			continue
		}
		key := k.Value
		if seen[key] {
			p.addLine(k.Line, join(path, key), "duplicate key")
			continue
		}
		seen[key] = true
		if allowed != nil && !slices.Contains(allowed, key) {
			p.addLine(k.Line, join(path, key), "unknown key (allowed: %s)", strings.Join(allowed, ", "))
			continue
		}
		visit(key, k, v)
	}
	return true
}

// str reads a scalar as a string. Like the Agent Skills reference
// validator (strictyaml), any plain scalar is text: "version: 1.0" is the
// string "1.0". Null (an empty value) and non-scalars are refused.
func str(p *problems, n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		p.addLine(n.Line, field, "must be a string, not %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

// strList reads a list of scalars as strings.
func strList(p *problems, n *yaml.Node, field string) ([]string, []*yaml.Node, bool) {
	if n.Kind != yaml.SequenceNode {
		p.addLine(n.Line, field, "must be a list, not %s", kindName(n))
		return nil, nil, false
	}
	out := make([]string, 0, len(n.Content))
	nodes := make([]*yaml.Node, 0, len(n.Content))
	ok := true
	for i, c := range n.Content {
		s, good := str(p, c, index(field, i))
		if !good {
			ok = false
			continue
		}
		out = append(out, s)
		nodes = append(nodes, c)
	}
	return out, nodes, ok
}

// boolean reads true or false.
func boolean(p *problems, n *yaml.Node, field string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, true
		}
	}
	p.addLine(n.Line, field, "must be true or false, not %s", kindName(n))
	return false, false
}

// hasControl reports characters that never belong in a name, path or
// address (C0 controls, DEL, C1 controls).
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return true
		}
	}
	return false
}
