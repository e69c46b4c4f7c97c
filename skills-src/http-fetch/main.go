//go:build wasip1

// Command http-fetch is a reef skill: fetch one URL through the host's
// http capability and return its status, headers and text.
package main

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	reef "github.com/reefhq/reef/pdk/go"
)

const (
	defaultMaxBytes = 1 << 20
	maxMaxBytes     = 8 << 20
)

type input struct {
	URL       string            `json:"url"`
	Method    string            `json:"method"`
	Headers   map[string]string `json:"headers"`
	MaxBytes  int64             `json:"max_bytes"`
	TimeoutMS int64             `json:"timeout_ms"`
}

type output struct {
	Status  int               `json:"status"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Text    string            `json:"text"`
	Bytes   int               `json:"bytes"`
	Binary  bool              `json:"binary,omitempty"`
}

func fetch(in input) (output, error) {
	if !strings.HasPrefix(in.URL, "http://") && !strings.HasPrefix(in.URL, "https://") {
		return output{}, fmt.Errorf("url must start with http:// or https://, got %q", in.URL)
	}
	switch in.Method {
	case "":
		in.Method = "GET"
	case "GET", "HEAD":
	default:
		return output{}, fmt.Errorf("method must be GET or HEAD, got %q", in.Method)
	}
	if in.MaxBytes == 0 {
		in.MaxBytes = defaultMaxBytes
	}
	if in.MaxBytes < 0 || in.MaxBytes > maxMaxBytes {
		return output{}, fmt.Errorf("max_bytes must be between 1 and %d", maxMaxBytes)
	}
	resp, err := reef.Fetch(reef.HTTPRequest{Method: in.Method, URL: in.URL, Headers: in.Headers, MaxBytes: in.MaxBytes, TimeoutMS: in.TimeoutMS})
	if err != nil {
		if errors.Is(err, reef.ErrLimit) {
			return output{}, fmt.Errorf("response larger than max_bytes (%d): %w", in.MaxBytes, err)
		}
		return output{}, err
	}
	out := output{Status: resp.Status, URL: resp.URL, Headers: resp.Headers, Bytes: len(resp.Body)}
	if utf8.Valid(resp.Body) {
		out.Text = string(resp.Body)
	} else {
		out.Binary = true
		out.Text = strings.ToValidUTF8(string(resp.Body), "\uFFFD")
	}
	return out, nil
}

//lint:ignore U1000 exported to the host
//go:wasmexport fetch
func fetchExport() int32 { return reef.Run(fetch) }

func main() {}
