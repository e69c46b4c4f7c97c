package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

type runOptions struct {
	skill, function, input string
	config                 []string
}

func newRunCmd(f *factory) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run SKILL FUNCTION [INPUT|-]",
		Short: "Run one function of a skill and print its output",
		Long: `Run one function of a skill once, without a daemon.

SKILL is a skill folder, a .wasm file, or the name of a skill in the skill
directory. INPUT is the function's input (JSON by convention); "-" or no
INPUT reads it from standard input. The output bytes go to standard output.

Exit codes: 0 success, 1 the skill failed (error, trap, timeout),
2 usage or load error, 3 a capability was denied.`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.skill, o.function = args[0], args[1]
			o.input = "-"
			if len(args) == 3 {
				o.input = args[2]
			}
			return runRun(cmd.Context(), f, o)
		},
	}
	cmd.Flags().StringArrayVar(&o.config, "config", nil, "skill config value K=V (Extism config_get), repeatable")
	return cmd
}

func parseKV(pairs []string) (map[string]string, error) {
	m := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, usageErr(fmt.Errorf("--config %q: want KEY=VALUE", p))
		}
		m[k] = v
	}
	return m, nil
}

// loadSkill resolves SKILL (path or name) and parses it.
func (f *factory) loadSkill(arg string) (*skill.Skill, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	path, err := skill.Find(cfg.SkillDir, arg)
	if err != nil {
		return nil, usageErr(err)
	}
	s, err := skill.Load(path)
	if err != nil {
		return nil, usageErr(err)
	}
	return s, nil
}

func runRun(ctx context.Context, f *factory, o *runOptions) error {
	conf, err := parseKV(o.config)
	if err != nil {
		return err
	}
	s, err := f.loadSkill(o.skill)
	if err != nil {
		return err
	}
	var input []byte
	if o.input == "-" {
		if input, err = io.ReadAll(io.LimitReader(f.in, 256<<20)); err != nil {
			return usageErr(fmt.Errorf("reading input: %w", err))
		}
	} else {
		input = []byte(o.input)
	}
	if !s.Bare {
		if _, ok := s.Function(o.function); !ok {
			return &engine.CallError{Skill: s.Name, Function: o.function, Kind: engine.KindNotFound, Err: fmt.Errorf("reef.yaml declares %s", functionNames(s))}
		}
		if err := s.ValidateInput(o.function, input); err != nil {
			return usageErr(err)
		}
	}
	d, err := f.openRuntime(ctx)
	if err != nil {
		return err
	}
	defer d.close(context.WithoutCancel(ctx))
	pol, err := policy.Compute(s, d.grants.Skills[s.Name], d.rec)
	if err != nil {
		return usageErr(err)
	}
	pl, err := d.eng.Load(ctx, s, pol, engine.LoadOptions{Config: conf})
	if err != nil {
		return err
	}
	out, err := pl.Call(ctx, o.function, input)
	if err != nil {
		return err
	}
	_, err = f.out.Write(out)
	return err
}

func functionNames(s *skill.Skill) string {
	var names []string
	for _, fn := range s.Manifest.Functions {
		names = append(names, fn.Name)
	}
	return strings.Join(names, ", ")
}
