package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/reefhq/reef/runtime/author"
)

type buildOptions struct {
	dir        string
	quiet      bool
	extismOnly bool
}

func newBuildCmd(f *factory) *cobra.Command {
	o := &buildOptions{}
	cmd := &cobra.Command{
		Use:   "build [DIR]",
		Short: "Compile a skill's source to the .wasm named in its reef.yaml",
		Long: `Compile the skill in DIR (default: the current folder).

The language is detected from the source: go.mod or *.go (Go), *.c (C),
lib.rs or src/lib.rs (Rust), assembly/index.ts or *.ts (AssemblyScript).
The module is written beside SKILL.md under reef.yaml's "wasm" name, via a
temporary file renamed into place; if the compiler fails, the previous
module is removed so a stale one cannot run. Each step is printed to
standard error (--quiet: only the result line).

Toolchains: clang-19 + wasi-libc (C), Debian's /usr/bin/rustc with
libstd-rust-dev-wasm32 (Rust), go (Go), node + asc (AssemblyScript;
REEF_ASC, REEF_CLANG, REEF_RUSTC, REEF_GO override the commands).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.dir = "."
			if len(args) == 1 {
				o.dir = args[0]
			}
			return runBuild(cmd.Context(), f, o)
		},
	}
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print only the result line")
	cmd.Flags().BoolVar(&o.extismOnly, "extism", false, "use only the plain Extism kernel ABI (no reef bulk-copy extensions)")
	return cmd
}

// buildSkill runs author.Build with progress on stderr (unless quiet) and
// maps its errors to exit codes: a compiler failure is exit 1 (printed
// here, compiler output included), everything else a usage error.
func buildSkill(ctx context.Context, f *factory, dir string, quiet, extismOnly bool) (*author.BuildResult, error) {
	var progress io.Writer
	if !quiet {
		progress = f.err
	}
	res, err := author.Build(ctx, dir, author.BuildOptions{Progress: progress, ExtismOnly: extismOnly})
	if err != nil {
		var ce *author.CompileError
		if errors.As(err, &ce) {
			fmt.Fprintln(f.err, "reef:", err)
			return nil, &silentError{code: exitSkill}
		}
		return nil, usageErr(err)
	}
	return res, nil
}

func runBuild(ctx context.Context, f *factory, o *buildOptions) error {
	res, err := buildSkill(ctx, f, o.dir, o.quiet, o.extismOnly)
	if err != nil {
		return err
	}
	if f.jsonOutput() {
		return authorJSON(f.out, map[string]any{"wasm": res.Wasm, "lang": res.Lang, "size": res.Size,
			"digest": res.Digest, "duration_ms": res.Duration.Milliseconds(), "command": res.Command})
	}
	rel := res.Wasm
	if r, err := filepath.Rel(".", res.Wasm); err == nil && filepath.IsLocal(r) {
		rel = r
	}
	fmt.Fprintf(f.out, "built %s: %s %s (%s, %s)\n", rel, humanBytes(res.Size), res.Digest, res.Lang, res.Duration.Round(10*time.Millisecond))
	return nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func authorJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
