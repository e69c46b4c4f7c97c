//go:build wasip1

package reef

import (
	"encoding/json"
	"errors"
	"fmt"
)

// InputBytes returns the call's input.
func InputBytes() []byte {
	n := extismInputLength()
	b := make([]byte, n)
	if n > 0 {
		readInput(b)
	}
	return b
}

// InputJSON decodes the input into v; invalid JSON is an error that names
// the problem.
func InputJSON(v any) error {
	if err := json.Unmarshal(InputBytes(), v); err != nil {
		return fmt.Errorf("invalid JSON input: %w", err)
	}
	return nil
}

// Output sets the call's output.
func Output(b []byte) { writeOutput(b) }

// OutputString sets the output to s.
func OutputString(s string) { Output([]byte(s)) }

// OutputJSON sets the output to v encoded as JSON.
func OutputJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding output: %w", err)
	}
	Output(b)
	return nil
}

// SetError sets the call's error message.
func SetError(err error) {
	writeError([]byte(err.Error()))
}

// Config returns the skill config value for key.
func Config(key string) (string, bool) {
	k := store([]byte(key))
	h := extismConfigGet(k)
	extismFree(k)
	if h == 0 {
		return "", false
	}
	return string(load(h)), true
}

// Var returns an Extism var (shared by the skill version's instances).
func Var(key string) ([]byte, bool) {
	h := extismVarGet(store([]byte(key)))
	if h == 0 {
		return nil, false
	}
	return load(h), true
}

// SetVar sets an Extism var; nil deletes it.
func SetVar(key string, value []byte) {
	var v uint64
	if value != nil {
		v = store(value)
	}
	extismVarSet(store([]byte(key)), v)
}

// Log levels.
const (
	LevelDebug = iota
	LevelInfo
	LevelWarn
	LevelError
)

// Log writes a message to the host's log.
func Log(level int, msg string) {
	h := store([]byte(msg))
	switch level {
	case LevelDebug:
		extismLogDebug(h)
	case LevelWarn:
		extismLogWarn(h)
	case LevelError:
		extismLogError(h)
	default:
		extismLogInfo(h)
	}
}

// Logf formats and logs at info level.
func Logf(format string, args ...any) { Log(LevelInfo, fmt.Sprintf(format, args...)) }

// Run decodes the JSON input into In, calls fn, and encodes its result as
// JSON output. It returns the exit code for the //go:wasmexport shim.
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

// RunBytes is Run for raw bytes.
func RunBytes(fn func([]byte) ([]byte, error)) int32 {
	out, err := fn(InputBytes())
	if err != nil {
		SetError(err)
		return 1
	}
	Output(out)
	return 0
}

// ErrDenied is matched (errors.Is) by errors a capability call returns when
// the host denied it.
var ErrDenied = errors.New("capability not granted")
