package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

func newInspectCmd(f *factory) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect SKILL",
		Short: "Show a skill's manifest, exports, imports and requested, granted and effective capabilities",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInspect(cmd.Context(), f, args[0])
		},
	}
}

// inspection is `reef inspect --output json`.
type inspection struct {
	Name        string             `json:"name"`
	Version     string             `json:"version"`
	Description string             `json:"description,omitempty"`
	Path        string             `json:"path"`
	Digest      string             `json:"digest"`
	WasmBytes   int                `json:"wasm_bytes"`
	Functions   []skill.Function   `json:"functions"`
	Exports     []string           `json:"exports"`
	Imports     []string           `json:"imports"`
	Requested   skill.Capabilities `json:"requested"`
	Granted     *policy.Grant      `json:"granted"`
	Effective   *policy.Policy     `json:"effective"`
	Limits      skill.Limits       `json:"limits"`
	Isolation   skill.Isolation    `json:"isolation"`
	Metadata    map[string]string  `json:"metadata,omitempty"`
}

func runInspect(ctx context.Context, f *factory, arg string) error {
	s, err := f.loadSkill(arg)
	if err != nil {
		return err
	}
	d, err := f.openRuntime(ctx)
	if err != nil {
		return err
	}
	defer d.close(context.WithoutCancel(ctx))
	g := d.grants.Skills[s.Name]
	pol, err := policy.Compute(s, g, nil)
	if err != nil {
		return usageErr(err)
	}
	pl, err := d.eng.Load(ctx, s, pol, engine.LoadOptions{})
	if err != nil {
		return err
	}
	in := inspection{Name: s.Name, Version: s.Version(), Description: s.Meta.Description, Path: s.WasmPath, Digest: s.Digest,
		WasmBytes: len(s.Wasm), Functions: s.Manifest.Functions, Exports: pl.Functions(), Imports: pl.Imports(),
		Requested: s.Manifest.Capabilities, Granted: g, Effective: pol, Limits: pol.Limits, Isolation: pol.Isolation, Metadata: s.Meta.Metadata}
	if s.Dir != "" {
		in.Path = s.Dir
	}
	if f.jsonOutput() {
		enc := json.NewEncoder(f.out)
		enc.SetIndent("", "  ")
		return enc.Encode(in)
	}
	w := f.out
	fmt.Fprintf(w, "%s %s\n", in.Name, in.Version)
	if in.Description != "" {
		fmt.Fprintf(w, "  %s\n", in.Description)
	}
	fmt.Fprintf(w, "path:      %s\ndigest:    %s (%d bytes)\nisolation: %s\nlimits:    memory %s, timeout %s, output %s\n",
		in.Path, in.Digest, in.WasmBytes, in.Isolation, in.Limits.Memory, toText(in.Limits.Timeout), in.Limits.Output)
	fmt.Fprintln(w, "functions:")
	for _, fn := range pl.Functions() {
		desc := ""
		if mf, ok := s.Function(fn); ok && mf.Description != "" {
			desc = " — " + mf.Description
		}
		fmt.Fprintf(w, "  %s%s\n", fn, desc)
	}
	fmt.Fprintf(w, "imports:   %s\n", strings.Join(in.Imports, " "))
	fmt.Fprintln(w, "capabilities (requested -> effective):")
	for _, line := range capabilityLines(s.Manifest.Capabilities, pol) {
		fmt.Fprintf(w, "  %s\n", line)
	}
	for _, n := range pol.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	return nil
}

func toText(v interface{ MarshalText() ([]byte, error) }) string {
	b, _ := v.MarshalText()
	return string(b)
}

func capabilityLines(c skill.Capabilities, p *policy.Policy) []string {
	var out []string
	var guests []string
	for g := range c.FS {
		guests = append(guests, g)
	}
	sort.Strings(guests)
	for _, g := range guests {
		eff := "denied"
		for _, m := range p.Mounts {
			if m.Guest == g {
				eff = fmt.Sprintf("%s (%s)", m.Host, m.Mode)
			}
		}
		out = append(out, fmt.Sprintf("fs %s %s -> %s", g, c.FS[g], eff))
	}
	if c.HTTP != nil {
		eff := "denied"
		if p.HTTP != nil {
			eff = fmt.Sprintf("granted %v, methods %v", strs(p.HTTP.Granted), p.HTTP.Methods)
		}
		out = append(out, fmt.Sprintf("http %v -> %s", c.HTTP.Hosts, eff))
	}
	if c.Browser != nil {
		eff := "denied"
		if p.Browser != nil {
			eff = fmt.Sprintf("granted %v, eval %v", strs(p.Browser.Granted), p.Eval)
		}
		out = append(out, fmt.Sprintf("browser %v -> %s", c.Browser.Hosts, eff))
	}
	if c.Mail != nil {
		eff := "denied"
		if p.Mail != nil {
			eff = fmt.Sprintf("accounts %v, send %v, read %v, modify %v", p.Mail.Accounts, p.Mail.Send, p.Mail.Mailboxes, p.Mail.Modify)
		}
		out = append(out, "mail -> "+eff)
	}
	if c.KV != nil {
		eff := "denied"
		if p.KVQuota > 0 {
			eff = p.KVQuota.String()
		}
		out = append(out, fmt.Sprintf("kv %s -> %s", c.KV.Quota, eff))
	}
	if len(c.Secrets) > 0 {
		out = append(out, fmt.Sprintf("secrets %v -> %v", c.Secrets, p.Secrets))
	}
	if len(out) == 0 {
		out = append(out, "none requested")
	}
	return out
}

func strs[T fmt.Stringer](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x.String()
	}
	return out
}
