//go:build wasip1 && !reef_nojson

package reef

// Typed JSON input and output through encoding/json. Build with
// -tags reef_nojson to leave encoding/json and fmt out of the module
// (about 440 KiB each); Run, InputJSON, OutputJSON and Logf are then
// unavailable, and RunBytes, RunString, InputValue and every capability
// wrapper still work.

import (
	"encoding/json"
	"fmt"
)

// InputJSON decodes the input into v; invalid JSON is an error that names
// the problem.
func InputJSON(v any) error {
	if err := json.Unmarshal(InputBytes(), v); err != nil {
		return fmt.Errorf("invalid JSON input: %w", err)
	}
	return nil
}

// OutputJSON sets the output to v encoded as JSON.
func OutputJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding output: %w", err)
	}
	Output(b)
	return nil
}

// Logf formats and logs at info level.
func Logf(format string, args ...any) { Log(LevelInfo, fmt.Sprintf(format, args...)) }

// Run decodes the JSON input into In, calls fn, and encodes its result as
// JSON output. It returns the exit code for the //go:wasmexport shim: 0,
// or 1 after setting the error (invalid JSON input included; never a
// trap).
func Run[In, Out any](fn func(In) (Out, error)) int32 {
	var in In
	if err := InputJSON(&in); err != nil {
		SetError(err)
		return 1
	}
	out, err := fn(in)
	if err != nil {
		SetError(err)
		return 1
	}
	if err := OutputJSON(out); err != nil {
		SetError(err)
		return 1
	}
	return 0
}
