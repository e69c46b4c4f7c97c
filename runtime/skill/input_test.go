package skill_test

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/reefhq/reef/runtime/skill"
)

func loadWebText(t testing.TB) *skill.Skill {
	t.Helper()
	s, err := skill.Load("testdata/good/web-text")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestValidateInput(t *testing.T) {
	s := loadWebText(t)
	tests := []struct {
		name, function, input string
		// wantPointer and wantReason describe an *InputError; wantErr a
		// plain error; all empty means valid.
		wantPointer, wantReason string
		wantErr                 error
	}{
		{name: "valid", function: "extract", input: `{"url":"https://example.org"}`},
		{name: "valid with optional", function: "extract", input: `{"url":"http://a","max_chars":10}`},
		{name: "missing property", function: "extract", input: `{}`, wantPointer: "", wantReason: "missing property 'url'"},
		{name: "wrong type", function: "extract", input: `{"url":1}`, wantPointer: "/url", wantReason: "got number, want string"},
		{name: "pattern", function: "extract", input: `{"url":"ftp://x"}`, wantPointer: "/url", wantReason: "does not match pattern"},
		{name: "bound", function: "extract", input: `{"url":"http://a","max_chars":0}`, wantPointer: "/max_chars", wantReason: "minimum"},
		{name: "additional property", function: "extract", input: `{"url":"http://a","x":1}`, wantPointer: "", wantReason: "additional properties 'x' not allowed"},
		{name: "two problems", function: "extract", input: `{"url":1,"max_chars":"a"}`, wantReason: "(and 1 more problems)"},
		{name: "not JSON", function: "extract", input: `url=x`, wantReason: "not valid JSON"},
		{name: "empty input", function: "extract", input: ``, wantReason: "not valid JSON"},
		{name: "trailing data", function: "extract", input: `{"url":"http://a"} {}`, wantReason: "not valid JSON"},
		{name: "JSON of the wrong kind", function: "extract", input: `"https://example.org"`, wantReason: "got string, want object"},
		{name: "no schema accepts anything", function: "version", input: "\x00 not json"},
		{name: "unknown function", function: "nope", input: `{}`, wantErr: skill.ErrUnknownFunction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.ValidateInput(tt.function, []byte(tt.input))
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			case tt.wantReason == "":
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			var ie *skill.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %T %v, want *skill.InputError", err, err)
			}
			if ie.Skill != "web-text" || ie.Function != tt.function {
				t.Errorf("InputError names %q/%q", ie.Skill, ie.Function)
			}
			if tt.name != "two problems" && ie.Pointer != tt.wantPointer {
				t.Errorf("Pointer = %q, want %q", ie.Pointer, tt.wantPointer)
			}
			if !strings.Contains(ie.Reason, tt.wantReason) {
				t.Errorf("Reason = %q, want it to contain %q", ie.Reason, tt.wantReason)
			}
			if msg := err.Error(); !strings.Contains(msg, `skill "web-text": function "`+tt.function+`"`) {
				t.Errorf("message %q does not name skill and function", msg)
			}
		})
	}
}

func TestValidateInputPointerEscaping(t *testing.T) {
	s := &skill.Skill{Name: "x", Manifest: skill.Manifest{Functions: []skill.Function{{
		Name:  "f",
		Input: json.RawMessage(`{"properties":{"a/b~c":{"type":"object","properties":{"0":{"type":"string"}}}}}`),
	}}}}
	err := s.ValidateInput("f", []byte(`{"a/b~c":{"0":false}}`))
	var ie *skill.InputError
	if !errors.As(err, &ie) || ie.Pointer != "/a~1b~0c/0" {
		t.Fatalf("err = %v, want pointer /a~1b~0c/0", err)
	}
	if !strings.Contains(err.Error(), "at /a~1b~0c/0:") {
		t.Errorf("message %q lacks the pointer", err)
	}
}

func TestValidateInputBadSchemaInHandBuiltSkill(t *testing.T) {
	// A Skill not built by Load may carry a schema Load would refuse;
	// ValidateInput reports it instead of accepting everything.
	s := &skill.Skill{Name: "x", Manifest: skill.Manifest{Functions: []skill.Function{{Name: "f", Input: json.RawMessage(`{"$ref":"file:///etc/passwd"}`)}}}}
	err := s.ValidateInput("f", []byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), "input schema") {
		t.Fatalf("err = %v, want an input schema error", err)
	}
}

func TestValidateInputConcurrent(t *testing.T) {
	loaded := loadWebText(t)
	// Same schemas, no cache: compiled per call.
	byHand := &skill.Skill{Name: loaded.Name, Manifest: loaded.Manifest}
	for _, s := range []*skill.Skill{loaded, byHand} {
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 20 {
					fn := []string{"extract", "links"}[(i+j)%2]
					if err := s.ValidateInput(fn, []byte(`{"url":"https://a"}`)); err != nil {
						errs <- err
						return
					}
					var ie *skill.InputError
					if err := s.ValidateInput(fn, []byte(`{"url":1}`)); !errors.As(err, &ie) {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent ValidateInput: %v", err)
		}
	}
}
