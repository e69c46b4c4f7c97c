//go:build wasip1

// Command greet_go is the Go member of the engine's reference corpus. It is
// built with -tags reef_extism (plain Extism ABI) so it runs unchanged under
// extism go-sdk and reef, which must agree on every result.
package main

import (
	"errors"
	"strconv"

	reef "github.com/reefhq/reef/pdk/go"
)

//lint:ignore U1000 exported to the host
//go:wasmexport greet
func greet() int32 {
	return reef.RunBytes(func(in []byte) ([]byte, error) {
		word, ok := reef.Config("greeting")
		if !ok {
			word = "Hello"
		}
		return []byte(word + ", " + string(in) + "!"), nil
	})
}

//lint:ignore U1000 exported to the host
//go:wasmexport echo
func echo() int32 { return reef.RunBytes(func(in []byte) ([]byte, error) { return in, nil }) }

//lint:ignore U1000 exported to the host
//go:wasmexport count
func count() int32 {
	n := 0
	if v, ok := reef.Var("count"); ok {
		n, _ = strconv.Atoi(string(v))
	}
	n++
	reef.SetVar("count", []byte(strconv.Itoa(n)))
	reef.OutputString(strconv.Itoa(n))
	return 0
}

//lint:ignore U1000 exported to the host
//go:wasmexport fail
func fail() int32 {
	reef.SetError(errors.New("this plugin always fails"))
	return 1
}

//lint:ignore U1000 exported to the host
//go:wasmexport logs
func logs() int32 {
	reef.Log(reef.LevelInfo, "hello from the guest")
	reef.OutputString("logged")
	return 0
}

//lint:ignore U1000 exported to the host
//go:wasmexport empty
func empty() int32 { return 0 }

func main() {}
