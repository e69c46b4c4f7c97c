package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/reefhq/reef/runtime/registry"
	"github.com/reefhq/reef/runtime/skill"
)

func newListCmd(f *factory) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the skills in the skill directory, with load errors",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runList(cmd.Context(), f)
		},
	}
}

// listRow is one skill in `reef list` and GET /v1/skills.
type listRow struct {
	Name         string   `json:"name"`
	Version      string   `json:"version,omitempty"`
	Description  string   `json:"description,omitempty"`
	Functions    []string `json:"functions,omitempty"`
	Capabilities []string `json:"capabilities,omitempty"`
	Path         string   `json:"path"`
	Error        string   `json:"error,omitempty"`
}

func runList(ctx context.Context, f *factory) error {
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	reg := registry.New(registry.Options{Dir: cfg.SkillDir, Logger: f.Logger()})
	_ = reg.Scan(ctx) // errors are listed per skill below
	var rows []listRow
	for _, st := range reg.List() {
		row := listRow{Name: st.Name, Path: st.Path}
		if st.Entry != nil {
			s := st.Entry.Skill
			row.Version, row.Description = s.Version(), s.Meta.Description
			for _, fn := range s.Manifest.Functions {
				row.Functions = append(row.Functions, fn.Name)
			}
			row.Capabilities = requestedCaps(s.Manifest.Capabilities)
		}
		if st.LoadErr != nil {
			row.Error = st.LoadErr.Err.Error()
		}
		rows = append(rows, row)
	}
	if f.jsonOutput() {
		if rows == nil {
			rows = []listRow{}
		}
		enc := json.NewEncoder(f.out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	if len(rows) == 0 {
		fmt.Fprintf(f.out, "no skills in %s\n", cfg.SkillDir)
		return nil
	}
	tw := tabwriter.NewWriter(f.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tFUNCTIONS\tCAPABILITIES\tSTATUS")
	for _, r := range rows {
		status := "ok"
		if r.Error != "" {
			status = "error: " + firstLine(r.Error)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, dash(r.Version), dash(strings.Join(r.Functions, ",")), dash(strings.Join(r.Capabilities, ",")), status)
	}
	return tw.Flush()
}

func requestedCaps(c skill.Capabilities) []string {
	var out []string
	if len(c.FS) > 0 {
		out = append(out, "fs")
	}
	if c.HTTP != nil {
		out = append(out, "http")
	}
	if c.Browser != nil {
		out = append(out, "browser")
	}
	if c.Mail != nil {
		out = append(out, "mail")
	}
	if c.KV != nil {
		out = append(out, "kv")
	}
	if len(c.Secrets) > 0 {
		out = append(out, "secrets")
	}
	sort.Strings(out)
	return out
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
