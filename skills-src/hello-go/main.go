//go:build wasip1

// Command hello-go is a reef skill: greet someone by name.
package main

import (
	"fmt"

	reef "github.com/reefhq/reef/pdk/go"
)

type input struct {
	Name string `json:"name"`
}

type output struct {
	Greeting string `json:"greeting"`
}

func greet(in input) (output, error) {
	if in.Name == "" {
		return output{}, fmt.Errorf("name is required")
	}
	word, ok := reef.Config("greeting")
	if !ok {
		word = "Hello"
	}
	return output{Greeting: fmt.Sprintf("%s, %s!", word, in.Name)}, nil
}

//go:wasmexport greet
//lint:ignore U1000 exported to the host
func greetExport() int32 { return reef.Run(greet) }

func main() {}
