//go:build wasip1

// Command guest-go is the Go PDK test guest (see ../README.md).
//
//lint:file-ignore U1000 the wasmexport functions are called by the host
package main

import (
	"errors"
	"strconv"
	"strings"

	reef "github.com/reefhq/reef/pdk/go"
)

type input struct {
	Name string `json:"name"`
}

type output struct {
	Greeting string `json:"greeting"`
}

//go:wasmexport greet
func greet() int32 {
	return reef.Run(func(in input) (output, error) {
		word, ok := reef.Config("greeting")
		if !ok {
			word = "Hello"
		}
		return output{Greeting: word + ", " + in.Name + "!"}, nil
	})
}

//go:wasmexport count
func count() int32 {
	n := 0
	if v, ok := reef.Var("n"); ok {
		n, _ = strconv.Atoi(string(v))
	}
	s := strconv.Itoa(n + 1)
	reef.SetVar("n", []byte(s))
	reef.OutputString(s)
	return 0
}

//go:wasmexport kv
func kv() int32 {
	return reef.RunString(func(in string) (string, error) {
		k, v, ok := strings.Cut(in, "=")
		if !ok {
			return "", errors.New("want key=value")
		}
		if err := reef.KVSet(k, []byte(v)); err != nil {
			if !errors.Is(err, reef.ErrDenied) {
				return "", errors.New("denial does not match ErrDenied: " + err.Error())
			}
			return "", err
		}
		b, err := reef.KVGet(k)
		return string(b), err
	})
}

//go:wasmexport fsread
func fsread() int32 {
	return reef.RunBytes(func(p []byte) ([]byte, error) { return reef.ReadFile(string(p)) })
}

//go:wasmexport fswrite
func fswrite() int32 {
	return reef.RunString(func(in string) (string, error) {
		p, c, _ := strings.Cut(in, "=")
		if err := reef.WriteFile(p, []byte(c), true); err != nil {
			return "", err
		}
		fi, err := reef.Stat(p)
		return strconv.FormatInt(fi.Size, 10), err
	})
}

//go:wasmexport logs
func logs() int32 {
	reef.Log(reef.LevelInfo, "hello from the Go guest")
	reef.OutputString("logged")
	return 0
}

func main() {}
