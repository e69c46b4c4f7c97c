package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/reefhq/reef/hostfuncs/abi"
	hostfs "github.com/reefhq/reef/hostfuncs/fs"
	hostkv "github.com/reefhq/reef/hostfuncs/kv"
	"github.com/reefhq/reef/runtime/author"
	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

type testOptions struct {
	dir     string
	noBuild bool
	verbose bool
}

func newTestCmd(f *factory) *cobra.Command {
	o := &testOptions{}
	cmd := &cobra.Command{
		Use:   "test [DIR]",
		Short: "Run a skill's golden tests (tests/*.json)",
		Long: `Run the golden test cases in DIR/tests/*.json (default DIR: the current
folder) and report each as PASS or FAIL with a diff. The skill is built
first when its module is missing or older than its source (--no-build:
never).

A case is one JSON file:

  {"function": "greet", "input": {"name": "Ada"},
   "output": {"greeting": "Hello, Ada!"}}

with exactly one of "output" (compared as JSON values; a JSON string is
also compared with raw text), "output_contains" (a substring) or "error"
(a substring of the error), and optionally "config" (skill config) and
"grants" (an operator grant, e.g. {"kv": {"quota": "1MiB"}} or
{"fs": {"/data": "tests/data:ro"}}; relative host paths are inside the
skill folder). Without grants every capability is denied. Key-value data
lives in a temporary store that is discarded after the run.

Exit codes: 0 all cases passed, 1 a case failed, 2 usage or load error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.dir = "."
			if len(args) == 1 {
				o.dir = args[0]
			}
			return runTest(cmd.Context(), f, o)
		},
	}
	cmd.Flags().BoolVar(&o.noBuild, "no-build", false, "do not build the skill first")
	cmd.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "show build steps and the output of passing cases")
	return cmd
}

func runTest(ctx context.Context, f *factory, o *testOptions) error {
	cases, err := author.LoadCases(o.dir)
	if err != nil {
		return usageErr(err)
	}
	if !o.noBuild {
		stale, err := author.Stale(o.dir)
		if err != nil && !errors.Is(err, author.ErrNoSource) {
			return usageErr(err)
		}
		if stale {
			if _, err := buildSkill(ctx, f, o.dir, !o.verbose, false); err != nil {
				return err
			}
		}
	}
	s, err := skill.Load(o.dir)
	if err != nil {
		return usageErr(err)
	}
	eng, cleanup, err := testEngine(ctx, f)
	if err != nil {
		return err
	}
	defer cleanup()
	results := author.RunCases(ctx, eng, s, cases, nil)
	failed := 0
	for _, r := range results {
		d := r.Duration.Round(time.Microsecond)
		if r.Pass {
			fmt.Fprintf(f.out, "PASS %s (%s)\n", r.Case.Name, d)
			if o.verbose {
				fmt.Fprintf(f.out, "    %s\n", r.Output)
			}
			continue
		}
		failed++
		fmt.Fprintf(f.out, "FAIL %s (%s)\n", r.Case.Name, d)
		for _, line := range splitLines(r.Diff) {
			fmt.Fprintf(f.out, "    %s\n", line)
		}
	}
	if failed > 0 {
		fmt.Fprintf(f.out, "FAIL %s: %d of %d cases failed\n", s.Name, failed, len(results))
		return &silentError{code: exitSkill}
	}
	fmt.Fprintf(f.out, "ok   %s: %d cases passed\n", s.Name, len(results))
	return nil
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// testEngine is an engine with the configured capabilities, except that
// kv lives in a temporary store (tests never touch the operator's data)
// and fs is always available (grants come from the test cases).
func testEngine(ctx context.Context, f *factory) (*engine.Engine, func(), error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, nil, err
	}
	mods, closers, err := buildModules(cfg, f.Logger())
	if err != nil {
		return nil, nil, usageErr(err)
	}
	tmp, err := os.MkdirTemp("", "reef-test-")
	if err != nil {
		return nil, nil, err
	}
	kv, err := hostkv.Open(hostkv.Options{Path: filepath.Join(tmp, "kv.db")})
	if err != nil {
		os.RemoveAll(tmp)
		return nil, nil, err
	}
	var out []abi.Module
	hasFS := false
	for _, m := range mods {
		switch m.Name() {
		case policy.CapKV:
			continue
		case policy.CapFS:
			hasFS = true
		}
		out = append(out, m)
	}
	out = append(out, kv)
	if !hasFS {
		out = append(out, hostfs.New(hostfs.Options{Logger: f.Logger()}))
	}
	eng, err := engine.New(ctx, engine.NewConfig().WithLogger(f.Logger()).WithModules(out...))
	cleanup := func() {
		if eng != nil {
			_ = eng.Close(context.WithoutCancel(ctx))
		}
		_ = kv.Close()
		for _, c := range closers {
			_ = c.Close()
		}
		os.RemoveAll(tmp)
	}
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return eng, cleanup, nil
}
