//go:build wasip1

package reef

import "errors"

// InputBytes returns the call's input.
func InputBytes() []byte {
	n := extismInputLength()
	b := make([]byte, n)
	if n > 0 {
		readInput(b)
	}
	return b
}

// InputString returns the call's input as a string.
func InputString() string { return string(InputBytes()) }

// Output sets the call's output.
func Output(b []byte) { writeOutput(b) }

// OutputString sets the output to s.
func OutputString(s string) { Output([]byte(s)) }

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
	v := load(h)
	extismFree(h)
	return string(v), true
}

// Var returns an Extism var (shared by the skill version's instances).
func Var(key string) ([]byte, bool) {
	k := store([]byte(key))
	h := extismVarGet(k)
	extismFree(k)
	if h == 0 {
		return nil, false
	}
	v := load(h)
	extismFree(h)
	return v, true
}

// SetVar sets an Extism var; nil deletes it.
func SetVar(key string, value []byte) {
	var v uint64
	if value != nil {
		v = store(value)
	}
	k := store([]byte(key))
	extismVarSet(k, v)
	extismFree(k)
	if v != 0 {
		extismFree(v)
	}
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
	extismFree(h)
}

// RunBytes runs fn on the raw input and sets its result as the output.
// It returns the exit code for the //go:wasmexport shim.
func RunBytes(fn func([]byte) ([]byte, error)) int32 {
	out, err := fn(InputBytes())
	if err != nil {
		SetError(err)
		return 1
	}
	Output(out)
	return 0
}

// RunString is RunBytes for strings.
func RunString(fn func(string) (string, error)) int32 {
	out, err := fn(InputString())
	if err != nil {
		SetError(err)
		return 1
	}
	OutputString(out)
	return 0
}

// errEmptyInput is returned by InputValue for an empty input.
var errEmptyInput = errors.New("invalid JSON input: the input is empty")

// InputValue parses the JSON input without reflection (see ParseJSON);
// invalid JSON is an error naming the byte offset.
func InputValue() (any, error) {
	b := InputBytes()
	if len(b) == 0 {
		return nil, errEmptyInput
	}
	v, err := ParseJSON(b)
	if err != nil {
		return nil, errors.Join(errors.New("invalid JSON input"), err)
	}
	return v, nil
}
