package author

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

// Case is one golden test, a file tests/<name>.json:
//
//	{"function": "greet", "input": {"name": "Ada"},
//	 "output": {"greeting": "Hello, Ada!"}}
//
// Exactly one expectation: Output (JSON compared as values; a JSON string
// is also compared with raw output text), OutputContains (a substring of
// the output) or Error (a substring of the error). Config is the skill
// config; Grants is the operator grant (policy.Grant, e.g. {"kv":
// {"quota": "1MiB"}}; fs host paths are relative to the skill folder).
// Without grants every capability is denied.
type Case struct {
	Name           string            `json:"-"`
	Function       string            `json:"function"`
	Input          json.RawMessage   `json:"input"`
	Output         json.RawMessage   `json:"output,omitempty"`
	OutputContains *string           `json:"output_contains,omitempty"`
	Error          *string           `json:"error,omitempty"`
	Config         map[string]string `json:"config,omitempty"`
	Grants         *policy.Grant     `json:"grants,omitempty"`
}

// inputBytes is the input as sent to the guest: the JSON itself, except
// that a JSON string is passed as its text when the function declares no
// input schema (a text function).
func (c *Case) inputBytes(s *skill.Skill) []byte {
	if len(c.Input) == 0 {
		return []byte{}
	}
	fn, _ := s.Function(c.Function)
	if len(fn.Input) == 0 {
		var text string
		if json.Unmarshal(c.Input, &text) == nil {
			return []byte(text)
		}
	}
	return c.Input
}

// LoadCases reads dir/tests/*.json in name order. A malformed case is an
// error naming the file.
func LoadCases(dir string) ([]Case, error) {
	files, err := filepath.Glob(filepath.Join(dir, "tests", "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no test cases (want tests/*.json files like {\"function\":\"greet\",\"input\":{…},\"output\":{…}})", dir)
	}
	sort.Strings(files)
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var out []Case
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var c Case
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		c.Name = strings.TrimSuffix(filepath.Base(f), ".json")
		n := 0
		if len(c.Output) > 0 {
			n++
		}
		if c.OutputContains != nil {
			n++
		}
		if c.Error != nil {
			n++
		}
		switch {
		case c.Function == "":
			return nil, fmt.Errorf("%s: \"function\" is required", f)
		case n == 0:
			return nil, fmt.Errorf("%s: want one of \"output\", \"output_contains\" or \"error\"", f)
		case n > 1:
			return nil, fmt.Errorf("%s: \"output\", \"output_contains\" and \"error\" are exclusive", f)
		}
		if c.Grants != nil {
			// fs host paths in test grants are relative to the skill folder.
			for guest, spec := range c.Grants.FS {
				host, mode := spec, "ro"
				if i := strings.LastIndexByte(spec, ':'); i >= 0 {
					host, mode = spec[:i], spec[i+1:]
				}
				if host != "" && !filepath.IsAbs(host) {
					c.Grants.FS[guest] = filepath.Join(absDir, host) + ":" + mode
				}
			}
			if err := c.Grants.Validate(); err != nil {
				return nil, fmt.Errorf("%s: grants: %w", f, err)
			}
			for guest, spec := range c.Grants.FS {
				if _, _, err := policy.ParseMountSpec(spec); err != nil {
					return nil, fmt.Errorf("%s: grants: fs %s: %w", f, guest, err)
				}
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// CaseResult is the outcome of one case.
type CaseResult struct {
	Case     Case
	Pass     bool
	Output   []byte
	Err      error
	Diff     string
	Duration time.Duration
}

// RunCases runs every case against s on eng. Each case gets its own
// plugin (its config and grant). rec receives policy decisions (nil:
// dropped).
func RunCases(ctx context.Context, eng *engine.Engine, s *skill.Skill, cases []Case, rec policy.Recorder) []CaseResult {
	var res []CaseResult
	for _, c := range cases {
		start := time.Now()
		out, err := runCase(ctx, eng, s, c, rec)
		r := CaseResult{Case: c, Output: out, Err: err, Duration: time.Since(start)}
		r.Pass, r.Diff = judge(c, out, err)
		res = append(res, r)
	}
	return res
}

func runCase(ctx context.Context, eng *engine.Engine, s *skill.Skill, c Case, rec policy.Recorder) ([]byte, error) {
	in := c.inputBytes(s)
	if !s.Bare {
		if _, ok := s.Function(c.Function); !ok {
			return nil, fmt.Errorf("reef.yaml declares no function %q", c.Function)
		}
		if err := s.ValidateInput(c.Function, in); err != nil {
			return nil, err
		}
	}
	p, err := policy.Compute(s, c.Grants, rec)
	if err != nil {
		return nil, err
	}
	pl, err := eng.Load(ctx, s, p, engine.LoadOptions{Config: c.Config})
	if err != nil {
		return nil, err
	}
	defer pl.Close(context.WithoutCancel(ctx))
	return pl.Call(ctx, c.Function, in)
}

// judge compares a result with the case's expectation and explains a
// mismatch.
func judge(c Case, out []byte, err error) (bool, string) {
	switch {
	case c.Error != nil:
		if err == nil {
			return false, fmt.Sprintf("want an error containing %q, got output:\n%s", *c.Error, indent(out))
		}
		if !strings.Contains(err.Error(), *c.Error) {
			return false, fmt.Sprintf("want an error containing %q, got:\n%s", *c.Error, indent([]byte(err.Error())))
		}
		return true, ""
	case err != nil:
		return false, "unexpected error:\n" + indent([]byte(err.Error()))
	case c.OutputContains != nil:
		if !bytes.Contains(out, []byte(*c.OutputContains)) {
			return false, fmt.Sprintf("want output containing %q, got:\n%s", *c.OutputContains, indent(out))
		}
		return true, ""
	}
	var want, got any
	if json.Unmarshal(c.Output, &want) != nil {
		return false, "test file: \"output\" is not JSON"
	}
	if json.Unmarshal(out, &got) == nil {
		if reflect.DeepEqual(want, got) {
			return true, ""
		}
		return false, diff(pretty(want), pretty(got))
	}
	if s, ok := want.(string); ok {
		if s == string(out) {
			return true, ""
		}
		return false, diff(s, string(out))
	}
	return false, diff(pretty(want), string(out))
}

func pretty(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func indent(b []byte) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(string(b), "\n"), "\n", "\n    ")
}

// diff is a line diff (longest common subsequence) of want and got: "-"
// lines are expected but missing, "+" lines are extra.
func diff(want, got string) string {
	a, b := strings.Split(want, "\n"), strings.Split(got, "\n")
	if len(a)*len(b) > 1<<20 {
		return "--- want\n" + indent([]byte(want)) + "\n+++ got\n" + indent([]byte(got))
	}
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var sb strings.Builder
	sb.WriteString("--- want\n+++ got\n")
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			sb.WriteString("  " + a[i] + "\n")
			i++
			j++
		case j < len(b) && (i == len(a) || lcs[i][j+1] >= lcs[i+1][j]):
			sb.WriteString("+ " + b[j] + "\n")
			j++
		default:
			sb.WriteString("- " + a[i] + "\n")
			i++
		}
	}
	return strings.TrimRight(sb.String(), "\n")
}

// ErrTestsFailed is returned (wrapped) when a golden case fails.
var ErrTestsFailed = errors.New("golden tests failed")
