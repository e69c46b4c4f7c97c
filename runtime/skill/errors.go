package skill

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrNotFound is wrapped by Find when no skill folder or .wasm file exists
// for a name.
var ErrNotFound = errors.New("skill not found")

// ErrUnknownFunction is wrapped by ValidateInput when a bundle declares no
// function of that name.
var ErrUnknownFunction = errors.New("unknown function")

// ValidationError is one problem in a skill bundle. Load, ParseFrontmatter
// and ParseManifest return one of these, or several joined with errors.Join
// so an author sees every problem at once; use errors.As to get the first.
type ValidationError struct {
	// File is the file the problem is in, as the caller named it
	// ("reef.yaml", "web-text/SKILL.md").
	File string
	// Line is the 1-based line in File; 0 when the problem has no line
	// (a missing file, a file that is too large).
	Line int
	// Field is the dotted path of the offending key ("limits.memory",
	// "capabilities.http.hosts[2]"); empty for whole-file problems.
	Field string
	// Rule says what was expected and, where one applies, which rule
	// (e.g. "(Agent Skills name rule)").
	Rule string
}

// Error reads "file:line: field: rule".
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Rule)
	return b.String()
}

// InputError reports input that does not match a function's JSON Schema.
type InputError struct {
	Skill    string
	Function string
	// Pointer is the JSON pointer of the failing value ("" is the whole
	// input, "/url" a property).
	Pointer string
	// Reason says what is wrong at Pointer.
	Reason string
}

func (e *InputError) Error() string {
	ptr := e.Pointer
	if ptr == "" {
		ptr = "(root)"
	}
	return fmt.Sprintf("skill %q: function %q: invalid input at %s: %s", e.Skill, e.Function, ptr, e.Reason)
}

// maxProblems bounds how many problems one file reports, so a hostile or
// garbled file cannot produce an unbounded error.
const maxProblems = 50

// problems collects ValidationErrors for one file.
type problems struct {
	file    string
	lineOff int // added to yaml.Node lines (frontmatter starts on line 2)
	list    []error
	dropped int
}

func (p *problems) addLine(line int, field, format string, args ...any) {
	if len(p.list) >= maxProblems {
		p.dropped++
		return
	}
	if line > 0 {
		line += p.lineOff
	}
	p.list = append(p.list, &ValidationError{File: p.file, Line: line, Field: field, Rule: fmt.Sprintf(format, args...)})
}

func (p *problems) ok() bool { return len(p.list) == 0 }

// err returns nil, the single problem, or every problem joined.
func (p *problems) err() error {
	switch {
	case len(p.list) == 0:
		return nil
	case len(p.list) == 1 && p.dropped == 0:
		return p.list[0]
	}
	list := p.list
	if p.dropped > 0 {
		list = append(list[:len(list):len(list)], &ValidationError{File: p.file, Rule: fmt.Sprintf("%d more problems not shown", p.dropped)})
	}
	return errors.Join(list...)
}
