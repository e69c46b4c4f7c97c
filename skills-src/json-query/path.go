//go:build wasip1

package main

import (
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
)

// A path is a list of steps applied in turn to a set of nodes.
type path struct{ steps []step }

type stepKind int

const (
	stepChild     stepKind = iota // .name or ['name']
	stepWildcard                  // .* or [*]
	stepIndex                     // [n], negative from the end
	stepSlice                     // [a:b]
	stepUnion                     // ['a','b'] or [0,2]
	stepRecursive                 // .. followed by a name or *
	stepFilter                    // [?(@.x op value)]
)

type step struct {
	kind    stepKind
	name    string
	index   int
	lo, hi  *int
	names   []string
	indexes []int
	sub     *step // for stepRecursive: the step applied at every level
	filter  *filter
}

type filter struct {
	left  []string // member chain after @
	op    string   // "", ==, !=, <, <=, >, >=
	right any      // string, float64, bool, nil
}

// maxPath bounds the expression so parsing stays cheap.
const maxPath = 4096

type pathError struct {
	pos int
	msg string
}

func (e *pathError) Error() string {
	return "invalid path at character " + strconv.Itoa(e.pos+1) + ": " + e.msg
}

func parsePath(s string) (*path, error) {
	if len(s) > maxPath {
		return nil, errors.New("path is longer than 4096 characters")
	}
	s = strings.TrimSpace(s)
	if s == "" || s[0] != '$' {
		return nil, &pathError{0, `a path starts with "$" (for example $.store.book[0].title)`}
	}
	p := &path{}
	i := 1
	for i < len(s) {
		switch {
		case strings.HasPrefix(s[i:], ".."):
			i += 2
			if i < len(s) && s[i] == '[' {
				st, n, err := parseBracket(s, i)
				if err != nil {
					return nil, err
				}
				p.steps = append(p.steps, step{kind: stepRecursive, sub: &st})
				i = n
				continue
			}
			name, n := readName(s, i)
			if name == "" {
				return nil, &pathError{i, `expected a name or "*" after ".."`}
			}
			sub := step{kind: stepChild, name: name}
			if name == "*" {
				sub = step{kind: stepWildcard}
			}
			p.steps = append(p.steps, step{kind: stepRecursive, sub: &sub})
			i = n
		case s[i] == '.':
			name, n := readName(s, i+1)
			if name == "" {
				return nil, &pathError{i + 1, `expected a name or "*" after "."`}
			}
			if name == "*" {
				p.steps = append(p.steps, step{kind: stepWildcard})
			} else {
				p.steps = append(p.steps, step{kind: stepChild, name: name})
			}
			i = n
		case s[i] == '[':
			st, n, err := parseBracket(s, i)
			if err != nil {
				return nil, err
			}
			p.steps = append(p.steps, st)
			i = n
		default:
			return nil, &pathError{i, `expected ".", ".." or "["`}
		}
	}
	return p, nil
}

func readName(s string, i int) (string, int) {
	if i < len(s) && s[i] == '*' {
		return "*", i + 1
	}
	j := i
	for j < len(s) && s[j] != '.' && s[j] != '[' && s[j] != ' ' {
		j++
	}
	return s[i:j], j
}

// parseBracket parses the bracket starting at s[i] == '['.
func parseBracket(s string, i int) (step, int, error) {
	end := matchingBracket(s, i)
	if end < 0 {
		return step{}, 0, &pathError{i, `unclosed "["`}
	}
	body := strings.TrimSpace(s[i+1 : end])
	next := end + 1
	switch {
	case body == "*":
		return step{kind: stepWildcard}, next, nil
	case strings.HasPrefix(body, "?"):
		f, err := parseFilter(body[1:], i+1)
		if err != nil {
			return step{}, 0, err
		}
		return step{kind: stepFilter, filter: f}, next, nil
	case body == "":
		return step{}, 0, &pathError{i, "empty brackets"}
	case body[0] == '\'' || body[0] == '"':
		var names []string
		for _, part := range splitTop(body) {
			str, ok := unquote(strings.TrimSpace(part))
			if !ok {
				return step{}, 0, &pathError{i + 1, "bad quoted name " + part}
			}
			names = append(names, str)
		}
		if len(names) == 1 {
			return step{kind: stepChild, name: names[0]}, next, nil
		}
		return step{kind: stepUnion, names: names}, next, nil
	case strings.Contains(body, ":"):
		parts := strings.Split(body, ":")
		if len(parts) > 2 {
			return step{}, 0, &pathError{i + 1, "slice steps are not supported; use [start:end]"}
		}
		st := step{kind: stepSlice}
		for k, part := range parts {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			n, err := strconv.Atoi(part)
			if err != nil {
				return step{}, 0, &pathError{i + 1, "slice bound " + strconv.Quote(part) + " is not an integer"}
			}
			if k == 0 {
				st.lo = &n
			} else {
				st.hi = &n
			}
		}
		return st, next, nil
	default:
		var idx []int
		for _, part := range strings.Split(body, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(part))
			if err != nil {
				return step{}, 0, &pathError{i + 1, "index " + strconv.Quote(strings.TrimSpace(part)) + " is not an integer (quote names: ['key'])"}
			}
			idx = append(idx, n)
		}
		if len(idx) == 1 {
			return step{kind: stepIndex, index: idx[0]}, next, nil
		}
		return step{kind: stepUnion, indexes: idx}, next, nil
	}
}

// matchingBracket finds the ']' closing s[i], skipping quoted strings and
// nested brackets.
func matchingBracket(s string, i int) int {
	depth := 0
	for j := i; j < len(s); j++ {
		switch c := s[j]; c {
		case '\'', '"':
			for j++; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' {
					j++
				}
			}
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// splitTop splits on commas outside quotes.
func splitTop(s string) []string {
	var out []string
	start := 0
	for j := 0; j < len(s); j++ {
		switch c := s[j]; c {
		case '\'', '"':
			for j++; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' {
					j++
				}
			}
		case ',':
			out = append(out, s[start:j])
			start = j + 1
		}
	}
	return append(out, s[start:])
}

func unquote(s string) (string, bool) {
	if len(s) < 2 || (s[0] != '\'' && s[0] != '"') || s[len(s)-1] != s[0] {
		return "", false
	}
	var b strings.Builder
	for j := 1; j < len(s)-1; j++ {
		if s[j] == '\\' && j+1 < len(s)-1 {
			j++
		}
		b.WriteByte(s[j])
	}
	return b.String(), true
}

var ops = []string{"==", "!=", "<=", ">=", "<", ">"}

func parseFilter(s string, pos int) (*filter, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "(") || !strings.HasSuffix(s, ")") {
		return nil, &pathError{pos, "a filter reads [?(@.field op value)]"}
	}
	s = strings.TrimSpace(s[1 : len(s)-1])
	if !strings.HasPrefix(s, "@") {
		return nil, &pathError{pos, `a filter starts with "@" (the current element)`}
	}
	f := &filter{}
	lhs := s
	for _, op := range ops {
		if k := strings.Index(s, op); k > 0 {
			f.op = op
			lhs = strings.TrimSpace(s[:k])
			rhs := strings.TrimSpace(s[k+len(op):])
			v, err := literal(rhs)
			if err != nil {
				return nil, &pathError{pos, err.Error()}
			}
			f.right = v
			break
		}
	}
	for _, part := range strings.Split(lhs[1:], ".") {
		if part == "" {
			continue
		}
		if strings.ContainsAny(part, "[]*() ") {
			return nil, &pathError{pos, "filter operands are @ or @.name.name (got " + strconv.Quote(lhs) + ")"}
		}
		f.left = append(f.left, part)
	}
	return f, nil
}

func literal(s string) (any, error) {
	switch s {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return nil, nil
	}
	if v, ok := unquote(s); ok {
		return v, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f, nil
	}
	return nil, errors.New("filter value " + strconv.Quote(s) + " is not a number, a quoted string, true, false or null")
}

func (p *path) eval(doc any) []any {
	nodes := []any{doc}
	for _, st := range p.steps {
		var next []any
		for _, n := range nodes {
			next = st.apply(n, next)
		}
		nodes = next
	}
	return nodes
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// children lists the values of an object (by key) or an array (in order).
func children(n any) []any {
	switch v := n.(type) {
	case map[string]any:
		out := make([]any, 0, len(v))
		for _, k := range sortedKeys(v) {
			out = append(out, v[k])
		}
		return out
	case []any:
		return v
	}
	return nil
}

func (st *step) apply(n any, out []any) []any {
	switch st.kind {
	case stepChild:
		if m, ok := n.(map[string]any); ok {
			if v, ok := m[st.name]; ok {
				out = append(out, v)
			}
		}
	case stepWildcard:
		out = append(out, children(n)...)
	case stepIndex:
		if a, ok := n.([]any); ok {
			i := st.index
			if i < 0 {
				i += len(a)
			}
			if i >= 0 && i < len(a) {
				out = append(out, a[i])
			}
		}
	case stepSlice:
		if a, ok := n.([]any); ok {
			lo, hi := 0, len(a)
			if st.lo != nil {
				lo = clamp(*st.lo, len(a))
			}
			if st.hi != nil {
				hi = clamp(*st.hi, len(a))
			}
			for i := lo; i < hi; i++ {
				out = append(out, a[i])
			}
		}
	case stepUnion:
		for _, name := range st.names {
			if m, ok := n.(map[string]any); ok {
				if v, ok := m[name]; ok {
					out = append(out, v)
				}
			}
		}
		for _, i := range st.indexes {
			out = (&step{kind: stepIndex, index: i}).apply(n, out)
		}
	case stepRecursive:
		out = st.sub.apply(n, out)
		for _, c := range children(n) {
			out = st.apply(c, out)
		}
	case stepFilter:
		for _, c := range children(n) {
			if st.filter.match(c) {
				out = append(out, c)
			}
		}
	}
	return out
}

func clamp(i, n int) int {
	if i < 0 {
		i += n
	}
	return max(0, min(i, n))
}

func (f *filter) match(n any) bool {
	v := n
	for _, k := range f.left {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = m[k]; !ok {
			return false
		}
	}
	if f.op == "" {
		return v != nil
	}
	if num, ok := v.(json.Number); ok {
		fv, err := num.Float64()
		if err != nil {
			return false
		}
		v = fv
	}
	switch r := f.right.(type) {
	case float64:
		l, ok := v.(float64)
		return ok && compare(f.op, cmpFloat(l, r))
	case string:
		l, ok := v.(string)
		return ok && compare(f.op, strings.Compare(l, r))
	default: // bool or nil: equality only
		eq := v == f.right
		switch f.op {
		case "==":
			return eq
		case "!=":
			return !eq
		}
		return false
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compare(op string, c int) bool {
	switch op {
	case "==":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}
