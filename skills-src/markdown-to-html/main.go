//go:build wasip1

// Command markdown-to-html is a reef skill: convert Markdown to safe HTML.
package main

import (
	"strings"

	reef "github.com/reefhq/reef/pdk/go"
)

type renderInput struct {
	Markdown string `json:"markdown"`
	// HeadingIDs adds id="slug" to headings.
	HeadingIDs bool `json:"heading_ids"`
}

type renderOutput struct {
	HTML     string    `json:"html"`
	Headings []heading `json:"headings"`
}

type heading struct {
	Level int    `json:"level"`
	Text  string `json:"text"`
	ID    string `json:"id"`
}

func render(in renderInput) (renderOutput, error) {
	r := &renderer{ids: in.HeadingIDs, seen: map[string]int{}}
	r.blocks(strings.Split(strings.ReplaceAll(in.Markdown, "\r\n", "\n"), "\n"))
	out := renderOutput{HTML: r.b.String(), Headings: r.headings}
	if out.Headings == nil {
		out.Headings = []heading{}
	}
	return out, nil
}

//go:wasmexport render
//lint:ignore U1000 exported to the host
func renderExport() int32 { return reef.Run(render) }

func main() {}
