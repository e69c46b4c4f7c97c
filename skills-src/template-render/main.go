//go:build wasip1

// Command template-render is a reef skill: render Go templates with JSON
// data, as plain text or context-aware escaped HTML.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	htmltemplate "html/template"
	"strings"
	"text/template"

	reef "github.com/reefhq/reef/pdk/go"
)

type renderInput struct {
	Template string `json:"template"`
	Data     any    `json:"data"`
	// HTML selects html/template: every value is escaped for where it
	// lands (element text, attribute, URL, script).
	HTML bool `json:"html"`
	// Strict makes a missing map key an error instead of "<no value>".
	Strict bool `json:"strict"`
}

type renderOutput struct {
	Text string `json:"text"`
}

// maxOutput bounds the rendered text so a {{range}} over a large list
// fails clearly instead of at the host's output limit.
const maxOutput = 4 << 20

var errTooLarge = errors.New("rendered text is larger than 4 MiB")

type cappedBuffer struct{ bytes.Buffer }

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if c.Len()+len(p) > maxOutput {
		return 0, errTooLarge
	}
	return c.Buffer.Write(p)
}

var funcs = map[string]any{
	"upper":    strings.ToUpper,
	"lower":    strings.ToLower,
	"title":    title,
	"trim":     strings.TrimSpace,
	"join":     join,
	"split":    strings.Split,
	"replace":  strings.ReplaceAll,
	"contains": strings.Contains,
	"default":  dflt,
	"json":     toJSON,
	"add":      func(a, b float64) float64 { return a + b },
	"seq":      seq,
}

func title(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}

func join(sep string, list []any) string {
	parts := make([]string, len(list))
	for i, v := range list {
		switch x := v.(type) {
		case string:
			parts[i] = x
		default:
			b, _ := json.Marshal(x)
			parts[i] = string(b)
		}
	}
	return strings.Join(parts, sep)
}

// dflt returns def when v is empty: {{ .name | default "anonymous" }}.
func dflt(def, v any) any {
	switch x := v.(type) {
	case nil:
		return def
	case string:
		if x == "" {
			return def
		}
	case bool:
		if !x {
			return def
		}
	case float64:
		if x == 0 {
			return def
		}
	}
	return v
}

func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// seq returns 1..n (at most 10000): {{ range seq 3 }}.
func seq(n float64) ([]int, error) {
	if n < 0 || n > 10000 {
		return nil, errors.New("seq: n must be between 0 and 10000")
	}
	out := make([]int, int(n))
	for i := range out {
		out[i] = i + 1
	}
	return out, nil
}

func render(in renderInput) (renderOutput, error) {
	var buf cappedBuffer
	opt := "missingkey=default"
	if in.Strict {
		opt = "missingkey=error"
	}
	if in.HTML {
		t, err := htmltemplate.New("template").Funcs(funcs).Option(opt).Parse(in.Template)
		if err != nil {
			return renderOutput{}, err
		}
		if err := t.Execute(&buf, in.Data); err != nil {
			return renderOutput{}, err
		}
	} else {
		t, err := template.New("template").Funcs(funcs).Option(opt).Parse(in.Template)
		if err != nil {
			return renderOutput{}, err
		}
		if err := t.Execute(&buf, in.Data); err != nil {
			return renderOutput{}, err
		}
	}
	return renderOutput{Text: buf.String()}, nil
}

//go:wasmexport render
//lint:ignore U1000 exported to the host
func renderExport() int32 { return reef.Run(render) }

func main() {}
