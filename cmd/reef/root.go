package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/reefhq/reef/runtime/config"
	"github.com/reefhq/reef/runtime/policy"
)

// globalOpts are the flags every command takes.
type globalOpts struct {
	grantsFile string
	skillDir   string
	logLevel   string
	output     string
	configFile string
}

// factory hands commands their dependencies lazily, so `reef list` never
// pays for wazero or the capabilities.
type factory struct {
	in       io.Reader
	out, err io.Writer
	g        globalOpts
	cfg      *config.Config
	log      *slog.Logger
	// recorder, if set, receives policy decisions beside the audit log
	// (reef serve: the metrics denial counter).
	recorder policy.Recorder
}

// Config loads config.yaml and the environment once, then applies the
// global flags over them.
func (f *factory) Config() (*config.Config, error) {
	if f.cfg != nil {
		return f.cfg, nil
	}
	c, err := config.Load(f.g.configFile, nil)
	if err != nil {
		return nil, usageErr(err)
	}
	if f.g.grantsFile != "" {
		c.GrantsFile = f.g.grantsFile
	}
	if f.g.skillDir != "" {
		c.SkillDir = f.g.skillDir
	}
	if f.g.logLevel != "" {
		if _, err := config.ParseLevel(f.g.logLevel); err != nil {
			return nil, usageErr(fmt.Errorf("--log-level: %w", err))
		}
		c.LogLevel = f.g.logLevel
	}
	f.cfg = c
	return c, nil
}

// Logger logs to stderr at the configured level.
func (f *factory) Logger() *slog.Logger {
	if f.log != nil {
		return f.log
	}
	level := slog.LevelWarn
	if c, err := f.Config(); err == nil {
		if l, err := config.ParseLevel(c.LogLevel); err == nil {
			level = l
		}
	}
	f.log = slog.New(slog.NewTextHandler(f.err, &slog.HandlerOptions{Level: level}))
	return f.log
}

func (f *factory) jsonOutput() bool { return f.g.output == "json" }

// Main runs the CLI and returns the process exit code.
func Main(args []string, in io.Reader, out, errOut io.Writer) int {
	f := &factory{in: in, out: out, err: errOut}
	root := newRootCmd(f)
	root.SetArgs(args)
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var silent *silentError
	if !errors.As(err, &silent) {
		fmt.Fprintln(errOut, "reef:", err)
	}
	return exitCode(err)
}

func newRootCmd(f *factory) *cobra.Command {
	root := &cobra.Command{
		Use:           "reef",
		Short:         "Run WebAssembly skills, each sandboxed and given only what its operator granted",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&f.g.grantsFile, "grants", os.Getenv("REEF_GRANTS"), "grants file (default grants.yaml in reef's config directory; $REEF_GRANTS)")
	pf.StringVar(&f.g.skillDir, "skill-dir", "", "skill directory (default $SKILL_DIR, then the data directory)")
	pf.StringVar(&f.g.logLevel, "log-level", "", "log level: debug, info, warn, error ($LOG_LEVEL)")
	pf.StringVarP(&f.g.output, "output", "o", "text", "output format where it applies: text or json")
	pf.StringVar(&f.g.configFile, "config-file", "", "config file (default config.yaml in reef's config directory; $REEF_CONFIG)")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if f.g.output != "text" && f.g.output != "json" {
			return usageErr(fmt.Errorf("--output %q: want text or json", f.g.output))
		}
		return nil
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageErr(err) })
	for _, add := range commandList {
		root.AddCommand(add(f))
	}
	return root
}
