// Package reef is the Go PDK for reef skills, built with the standard Go
// toolchain for GOOS=wasip1 GOARCH=wasm with -buildmode=c-shared.
//
// A skill exports each function with a one-line //go:wasmexport shim that
// hands a typed handler to Run:
//
//	//go:wasmexport greet
//	func greet() int32 { return reef.Run(func(in Input) (Output, error) { ... }) }
//
// Input and output are JSON by default (RunBytes takes raw bytes). The PDK
// reads the input and writes the output with reef's bulk-copy kernel
// extensions, one host call each.
package reef
