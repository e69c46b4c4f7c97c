package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"

	"gopkg.in/yaml.v3"
)

// grantsHeader starts a grants.yaml that reef creates.
const grantsHeader = `reef grants: what each skill may really use (effective = requested ∩ granted).
Edited by "reef grant" / "reef revoke" and the setup wizard; comments you add are kept.`

// UpdateGrants edits grants.yaml under an exclusive lock: it reads the file
// (strictly; a broken file is not edited), hands fn a copy of its grants,
// validates what fn left, and writes the result back atomically (temporary
// file in the same directory, fsync, rename, fsync of the directory; mode
// 0600). If fn returns an error nothing is written and that error is
// returned.
//
// The YAML node tree is edited rather than the struct re-marshalled, so
// comments, key order and formatting of everything fn did not change are
// kept; comments attached to a removed entry go with it. A symlinked
// grants.yaml is written through to its target.
func UpdateGrants(path string, fn func(g *Grants) error) error {
	target, err := resolveTarget(path)
	if err != nil {
		return err
	}
	unlock, err := lockFile(target + ".lock")
	if err != nil {
		return fmt.Errorf("locking grants: %w", err)
	}
	defer unlock()

	data, err := readGrantsFile(target)
	if err != nil {
		return err
	}
	doc, old, err := parseGrantsDoc(target, data)
	if err != nil {
		return err
	}
	next := old.Clone()
	if err := fn(next); err != nil {
		return err
	}
	if err := next.Validate(); err != nil {
		var ge *GrantsError
		if errors.As(err, &ge) && ge.File == "" {
			ge.File = target
		}
		return err
	}
	if data != nil && sameGrants(old, next) {
		return nil // nothing changed: leave the user's formatting alone
	}
	out, err := renderGrants(doc, old, next)
	if err != nil {
		return fmt.Errorf("writing grants %s: %w", target, err)
	}
	// Never write a file that would read back differently from what was
	// asked for.
	back, err := ParseGrants(target, out)
	if err != nil {
		return fmt.Errorf("writing grants %s: internal error, the edited file does not load: %w", target, err)
	}
	if !sameGrants(back, next) {
		return fmt.Errorf("writing grants %s: internal error, the edited file reads back differently", target)
	}
	if data != nil && bytes.Equal(out, data) {
		return nil
	}
	return writeFileAtomic(target, out, 0o600)
}

func resolveTarget(path string) (string, error) {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return path, nil
	}
	t, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("grants %s: %w", path, err)
	}
	return t, nil
}

func sameGrants(a, b *Grants) bool {
	if len(a.Skills) != len(b.Skills) {
		return false
	}
	for k, ga := range a.Skills {
		gb, ok := b.Skills[k]
		if !ok || !reflect.DeepEqual(ga.normalized(), gb.normalized()) {
			return false
		}
	}
	return true
}

// renderGrants applies the difference between old and next to doc (the
// parsed file; nil when the file was empty or missing) and encodes it.
func renderGrants(doc *yaml.Node, old, next *Grants) ([]byte, error) {
	if doc == nil || doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		doc = &yaml.Node{Kind: yaml.DocumentNode, HeadComment: grantsHeader, Content: []*yaml.Node{mappingNode()}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		replaceKeepComments(root, mappingNode())
	}
	skills := mapValue(root, "skills")
	if skills == nil {
		skills = mappingNode()
		root.Content = append(root.Content, scalarNode("skills"), skills)
	} else if skills.Kind != yaml.MappingNode {
		replaceKeepComments(skills, mappingNode())
	}

	emptyBefore := len(skills.Content) == 0
	// Drop revoked skills, update changed ones in place, append new ones.
	content := skills.Content[:0:0]
	for i := 0; i+1 < len(skills.Content); i += 2 {
		k, v := skills.Content[i], skills.Content[i+1]
		ng, ok := next.Skills[k.Value]
		if !ok {
			continue
		}
		if err := mergeGrant(v, old.Skills[k.Value], ng); err != nil {
			return nil, fmt.Errorf("skills.%s: %w", k.Value, err)
		}
		content = append(content, k, v)
	}
	for _, name := range slices.Sorted(maps.Keys(next.Skills)) {
		if _, ok := old.Skills[name]; ok {
			continue
		}
		n, err := encodeNode(next.Skills[name].normalized())
		if err != nil {
			return nil, err
		}
		content = append(content, scalarNode(name), n)
	}
	skills.Content = content
	restyle(skills, emptyBefore)

	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// restyle writes an empty mapping as "{}" and turns a mapping that was
// empty ("{}") into block style once it has entries; a mapping the user
// wrote in flow style with entries stays as written.
func restyle(n *yaml.Node, emptyBefore bool) {
	switch {
	case len(n.Content) == 0:
		n.Style = yaml.FlowStyle
	case emptyBefore:
		n.Style &^= yaml.FlowStyle
	}
}

// grantFields maps each yaml key of Grant to its struct field index.
var grantFields = func() map[string]int {
	m := map[string]int{}
	t := reflect.TypeFor[Grant]()
	for i := range t.NumField() {
		name, _, _ := cutComma(t.Field(i).Tag.Get("yaml"))
		m[name] = i
	}
	return m
}()

func cutComma(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// mergeGrant rewrites the grant node n from old to next, touching only the
// fields that changed.
func mergeGrant(n *yaml.Node, old, next *Grant) error {
	on, nn := old.normalized(), next.normalized()
	if reflect.DeepEqual(on, nn) {
		return nil
	}
	enc, err := encodeNode(nn)
	if err != nil {
		return err
	}
	if n.Kind != yaml.MappingNode {
		replaceKeepComments(n, enc)
		return nil
	}
	emptyBefore := len(n.Content) == 0
	ov, nv := reflect.ValueOf(on).Elem(), reflect.ValueOf(nn).Elem()
	keep := n.Content[:0:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		idx, ok := grantFields[k.Value]
		if !ok {
			return fmt.Errorf("unknown key %q", k.Value)
		}
		if reflect.DeepEqual(ov.Field(idx).Interface(), nv.Field(idx).Interface()) {
			keep = append(keep, k, v)
			continue
		}
		src := mapValue(enc, k.Value)
		if src == nil { // field now empty: omitted by the encoder
			continue
		}
		mergeNode(v, src)
		keep = append(keep, k, v)
	}
	for i := 0; i+1 < len(enc.Content); i += 2 {
		if mapValue(n, enc.Content[i].Value) == nil {
			keep = append(keep, enc.Content[i], enc.Content[i+1])
		}
	}
	n.Content = keep
	restyle(n, emptyBefore)
	return nil
}

// mergeNode makes dst say what src says, keeping dst's comments and the
// nodes (with their comments) of list items and keys that survive.
func mergeNode(dst, src *yaml.Node) {
	if dst.Kind != src.Kind {
		replaceKeepComments(dst, src)
		return
	}
	switch dst.Kind {
	case yaml.ScalarNode:
		if dst.Value == src.Value && dst.ShortTag() == src.ShortTag() {
			return
		}
		quoted := dst.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
		dst.Value, dst.Tag = src.Value, src.Tag
		if !quoted || src.ShortTag() != "!!str" {
			dst.Style = src.Style
		}
	case yaml.MappingNode:
		var out []*yaml.Node
		for i := 0; i+1 < len(src.Content); i += 2 {
			k, v := src.Content[i], src.Content[i+1]
			if i := mapIndex(dst, k.Value); i >= 0 {
				mergeNode(dst.Content[i+1], v)
				out = append(out, dst.Content[i], dst.Content[i+1])
			} else {
				out = append(out, k, v)
			}
		}
		// Keep the user's key order: surviving keys in their old order,
		// then new keys.
		var ordered []*yaml.Node
		for i := 0; i+1 < len(dst.Content); i += 2 {
			if mapIndex(src, dst.Content[i].Value) >= 0 {
				ordered = append(ordered, dst.Content[i], dst.Content[i+1])
			}
		}
		for i := 0; i+1 < len(out); i += 2 {
			if mapIndex(dst, out[i].Value) < 0 {
				ordered = append(ordered, out[i], out[i+1])
			}
		}
		dst.Content = ordered
	case yaml.SequenceNode:
		used := make([]bool, len(dst.Content))
		out := make([]*yaml.Node, 0, len(src.Content))
		for _, s := range src.Content {
			var reuse *yaml.Node
			for j, d := range dst.Content {
				if !used[j] && d.Kind == yaml.ScalarNode && s.Kind == yaml.ScalarNode && d.Value == s.Value {
					used[j], reuse = true, d
					break
				}
			}
			if reuse == nil {
				reuse = s
			}
			out = append(out, reuse)
		}
		dst.Content = out
	default:
		replaceKeepComments(dst, src)
	}
}

func replaceKeepComments(dst, src *yaml.Node) {
	h, l, f := dst.HeadComment, dst.LineComment, dst.FootComment
	*dst = *src
	dst.HeadComment, dst.LineComment, dst.FootComment = h, l, f
}

func mapIndex(n *yaml.Node, key string) int {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return i
		}
	}
	return -1
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if i := mapIndex(n, key); i >= 0 {
		return n.Content[i+1]
	}
	return nil
}

func mappingNode() *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
}

func scalarNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func encodeNode(v any) (*yaml.Node, error) {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return nil, err
	}
	return &n, nil
}

// writeHook lets tests fail a write at a given stage ("partial": half the
// bytes are in the temporary file; "sync"; "rename"). nil in production.
var writeHook func(stage string) error

func hook(stage string) error {
	if writeHook == nil {
		return nil
	}
	return writeHook(stage)
}

// writeFileAtomic replaces path with data so that a reader (or a crash)
// sees either the old file or the new one, never a mix.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	half := len(data) / 2
	if _, err = f.Write(data[:half]); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = hook("partial"); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err = f.Write(data[half:]); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = hook("sync"); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("writing %s: fsync: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = hook("rename"); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
