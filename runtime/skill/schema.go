package skill

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"gopkg.in/yaml.v3"
)

// schemaURL is where an input schema is registered while compiling. Any
// $ref that leaves the schema resolves against it and reaches refuseLoader.
const schemaURL = "https://reef.invalid/skill/input.schema.json"

// refuseLoader stands in for jsonschema's default loader, which would read
// file: URLs: a schema may refer only to itself and to the meta-schemas
// compiled into the library, never to files or the network.
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("$ref to %s: only references inside the schema (#...) are allowed; reef never loads schemas from files or the network", url)
}

// compileSchema compiles one input schema given as JSON.
func compileSchema(raw []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(refuseLoader{})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, err
	}
	return c.Compile(schemaURL)
}

// compileSchemaNode converts a YAML input schema to JSON and compiles it,
// reporting problems at the offending line.
func compileSchemaNode(p *problems, n *yaml.Node, field string) (json.RawMessage, *jsonschema.Schema, bool) {
	if n.Kind != yaml.MappingNode && !(n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool") {
		p.addLine(n.Line, field, "must be a JSON Schema (a map, or true/false), not %s", kindName(n))
		return nil, nil, false
	}
	v, bad, why := yamlToJSON(n, field)
	if bad != nil {
		p.addLine(bad.Line, field, "%s", why)
		return nil, nil, false
	}
	raw, err := json.Marshal(v)
	if err != nil {
		p.addLine(n.Line, field, "cannot be written as JSON: %v", err)
		return nil, nil, false
	}
	sch, err := compileSchema(raw)
	if err != nil {
		var se *jsonschema.SchemaValidationError
		if errors.As(err, &se) {
			ptr, reason := describeSchemaError(se.Err)
			if ptr == "" {
				ptr = "(root)"
			}
			p.addLine(n.Line, field, "is not a valid JSON Schema: at %s: %s", ptr, reason)
		} else {
			p.addLine(n.Line, field, "is not a valid JSON Schema: %s", oneLine(err.Error()))
		}
		return nil, nil, false
	}
	return raw, sch, true
}

// yamlToJSON converts a YAML node to the value encoding/json would decode
// from the equivalent JSON. On failure it returns the offending node.
func yamlToJSON(n *yaml.Node, field string) (any, *yaml.Node, string) {
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, k, "object keys must be strings"
			}
			if _, dup := m[k.Value]; dup {
				return nil, k, fmt.Sprintf("duplicate key %q", k.Value)
			}
			jv, bad, why := yamlToJSON(v, field)
			if bad != nil {
				return nil, bad, why
			}
			m[k.Value] = jv
		}
		return m, nil, ""
	case yaml.SequenceNode:
		a := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			jv, bad, why := yamlToJSON(c, field)
			if bad != nil {
				return nil, bad, why
			}
			a = append(a, jv)
		}
		return a, nil, ""
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil, ""
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, n, err.Error()
			}
			return b, nil, ""
		case "!!int", "!!float":
			var f any
			if err := n.Decode(&f); err != nil {
				return nil, n, fmt.Sprintf("%q is not a number JSON can hold", n.Value)
			}
			switch x := f.(type) {
			case int:
				return json.Number(strconv.Itoa(x)), nil, ""
			case int64:
				return json.Number(strconv.FormatInt(x, 10)), nil, ""
			case uint64:
				return json.Number(strconv.FormatUint(x, 10)), nil, ""
			case float64:
				if math.IsNaN(x) || math.IsInf(x, 0) {
					return nil, n, fmt.Sprintf("%q is not a number JSON can hold", n.Value)
				}
				return json.Number(strconv.FormatFloat(x, 'g', -1, 64)), nil, ""
			}
			return nil, n, fmt.Sprintf("%q is not a number JSON can hold", n.Value)
		default:
			return n.Value, nil, ""
		}
	}
	return nil, n, "unsupported YAML node"
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "\n- ", "; ")
	s = strings.ReplaceAll(s, "\n", "; ")
	return s
}

// schemaCache holds compiled input schemas, one per function, compiled at
// most once. Load fills it with the schemas it compiled while validating.
type schemaCache struct {
	mu sync.Mutex
	m  map[string]*schemaEntry
}

type schemaEntry struct {
	once sync.Once
	sch  *jsonschema.Schema
	err  error
}

func newSchemaCache(compiled map[string]*jsonschema.Schema) *schemaCache {
	c := &schemaCache{m: make(map[string]*schemaEntry, len(compiled))}
	for name, sch := range compiled {
		e := &schemaEntry{sch: sch}
		e.once.Do(func() {})
		c.m[name] = e
	}
	return c
}

func (c *schemaCache) get(f Function) (*jsonschema.Schema, error) {
	c.mu.Lock()
	e := c.m[f.Name]
	if e == nil {
		e = &schemaEntry{}
		c.m[f.Name] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.sch, e.err = compileSchema(f.Input) })
	return e.sch, e.err
}

// ValidateInput checks input against the JSON Schema of function before a
// call. A function without a schema accepts any bytes, and so does every
// function of a bare .wasm skill (it declares none; every export is
// callable). With a schema, input must be one JSON value that the schema
// accepts; otherwise the error is an *InputError naming the skill, the
// function and the JSON pointer of the first failing value. A function the
// manifest does not declare gives an error wrapping ErrUnknownFunction.
//
// Schemas are compiled once per Skill and shared by concurrent callers.
func (s *Skill) ValidateInput(function string, input []byte) error {
	if s.Bare {
		return nil
	}
	f, ok := s.Function(function)
	if !ok {
		return fmt.Errorf("skill %q: function %q: %w", s.Name, function, ErrUnknownFunction)
	}
	if len(f.Input) == 0 {
		return nil
	}
	var sch *jsonschema.Schema
	var err error
	if s.schemas != nil {
		sch, err = s.schemas.get(f)
	} else {
		sch, err = compileSchema(f.Input) // a Skill built by hand, not by Load
	}
	if err != nil {
		return fmt.Errorf("skill %q: function %q: input schema: %w", s.Name, function, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(input))
	if err != nil {
		return &InputError{Skill: s.Name, Function: function, Reason: "not valid JSON: " + err.Error()}
	}
	err = sch.Validate(doc)
	if err == nil {
		return nil
	}
	ptr, reason := describeSchemaError(err)
	return &InputError{Skill: s.Name, Function: function, Pointer: ptr, Reason: reason}
}

var schemaPrinter = message.NewPrinter(language.English)

// describeSchemaError reduces a jsonschema error to the JSON pointer and
// message of its first innermost failure (the one that says what is wrong,
// not which keyword group failed), noting how many others there are.
func describeSchemaError(err error) (pointer, reason string) {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return "", oneLine(err.Error())
	}
	leaves := schemaLeaves(ve, nil)
	if len(leaves) == 0 {
		return jsonPointer(ve.InstanceLocation), ve.ErrorKind.LocalizedString(schemaPrinter)
	}
	first := leaves[0]
	reason = first.ErrorKind.LocalizedString(schemaPrinter)
	if len(leaves) > 1 {
		reason += fmt.Sprintf(" (and %d more problems)", len(leaves)-1)
	}
	return jsonPointer(first.InstanceLocation), reason
}

func schemaLeaves(ve *jsonschema.ValidationError, out []*jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(ve.Causes) == 0 {
		return append(out, ve)
	}
	for _, c := range ve.Causes {
		out = schemaLeaves(c, out)
	}
	return out
}

// jsonPointer writes tokens as an RFC 6901 pointer.
func jsonPointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}
