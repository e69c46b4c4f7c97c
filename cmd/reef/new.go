package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/reefhq/reef/runtime/author"
)

type newOptions struct {
	lang, name, dir string
	force           bool
}

func newNewCmd(f *factory) *cobra.Command {
	o := &newOptions{}
	cmd := &cobra.Command{
		Use:   "new --lang go|c|rust|as NAME [DIR]",
		Short: "Create a working skill: SKILL.md, reef.yaml, source and golden tests",
		Long: `Create a new skill folder that builds and runs at once.

NAME is the skill name (a-z, 0-9 and single hyphens); the folder is DIR
when its last element is NAME, DIR/NAME otherwise, and ./NAME without DIR.
Outside the reef repository the PDK is copied into the skill (Go module,
Rust file) or supplied by reef build (C header, AssemblyScript package),
so the folder builds anywhere.

An existing folder that is not empty is refused unless --force, which
rewrites only the files reef new creates.`,
		Example: `  reef new --lang rust word-count
  reef build word-count && reef run word-count greet '{"name":"Ada"}' && reef test word-count`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.name = args[0]
			if len(args) == 2 {
				o.dir = args[1]
			}
			return runNew(f, o)
		},
	}
	cmd.Flags().StringVarP(&o.lang, "lang", "l", "", "language: go, c, rust or as (AssemblyScript)")
	cmd.Flags().BoolVar(&o.force, "force", false, "write into an existing, non-empty folder")
	return cmd
}

// skillDirFor resolves NAME [DIR] to the skill folder.
func skillDirFor(name, dir string) string {
	switch {
	case dir == "":
		return name
	case filepath.Base(filepath.Clean(dir)) == name:
		return dir
	}
	return filepath.Join(dir, name)
}

func runNew(f *factory, o *newOptions) error {
	if o.lang == "" {
		return usageErr(fmt.Errorf("--lang is required: go, c, rust or as"))
	}
	lang, err := author.ParseLang(o.lang)
	if err != nil {
		return usageErr(fmt.Errorf("--lang: %w", err))
	}
	dir := skillDirFor(o.name, o.dir)
	files, err := author.Scaffold(dir, o.name, lang, author.ScaffoldOptions{Force: o.force})
	if err != nil {
		return usageErr(err)
	}
	if f.jsonOutput() {
		return authorJSON(f.out, map[string]any{"name": o.name, "dir": dir, "lang": lang, "files": files})
	}
	fmt.Fprintf(f.out, "created %s (%s):\n", dir, lang)
	for _, p := range files {
		fmt.Fprintf(f.out, "  %s\n", p)
	}
	fmt.Fprintf(f.out, "\nnext:\n  reef build %s\n  reef run %s greet '{\"name\":\"Ada\"}'\n  reef test %s\n", dir, dir, dir)
	return nil
}
