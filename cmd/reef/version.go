package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// buildInfo describes this binary.
type buildInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
	Wazero   string `json:"wazero,omitempty"`
}

func currentBuild() buildInfo {
	b := buildInfo{Version: version, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				b.Commit = s.Value[:12]
			}
		}
		for _, m := range bi.Deps {
			if m.Path == "github.com/tetratelabs/wazero" {
				b.Wazero = m.Version
			}
		}
	}
	return b
}

func newVersionCmd(f *factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print reef's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b := currentBuild()
			if f.jsonOutput() {
				return json.NewEncoder(f.out).Encode(b)
			}
			fmt.Fprintf(f.out, "reef %s", b.Version)
			if b.Commit != "" {
				fmt.Fprintf(f.out, " (%s)", b.Commit)
			}
			fmt.Fprintf(f.out, " %s %s wazero %s\n", b.Platform, b.Go, b.Wazero)
			return nil
		},
	}
}
