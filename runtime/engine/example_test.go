package engine_test

import (
	"context"
	"fmt"
	"os"

	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

func Example() {
	ctx := context.Background()
	eng, err := engine.New(ctx, engine.NewConfig())
	if err != nil {
		panic(err)
	}
	defer eng.Close(ctx)

	wasm, err := os.ReadFile("testdata/greet.wasm") // built by `make testdata`
	if err != nil {
		panic(err)
	}
	s := &skill.Skill{Name: "greet", Bare: true, Wasm: wasm, Digest: "sha256:example"}
	pol, _ := policy.Compute(s, nil, nil) // no grant: every capability denied
	plug, err := eng.Load(ctx, s, pol, engine.LoadOptions{Config: map[string]string{"greeting": "Ahoy"}})
	if err != nil {
		panic(err)
	}
	out, err := plug.Call(ctx, "greet", []byte("reef"))
	fmt.Println(string(out), err)
	// Output: Ahoy, reef! <nil>
}
