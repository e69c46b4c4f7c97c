//go:build wasip1

// Command json-query is a reef skill: select values from a JSON document
// with a JSONPath expression.
package main

import (
	"bytes"
	"encoding/json"
	"errors"

	reef "github.com/reefhq/reef/pdk/go"
)

type queryInput struct {
	Data  json.RawMessage `json:"data"`
	Path  string          `json:"path"`
	Limit int             `json:"limit"`
}

type queryOutput struct {
	Count   int   `json:"count"`
	Results []any `json:"results"`
	// Truncated is set when more than Limit values matched.
	Truncated bool `json:"truncated,omitempty"`
}

// defaultLimit bounds the result list so a "$..*" over a large document
// cannot exhaust the output limit.
const defaultLimit = 1000

func query(in queryInput) (queryOutput, error) {
	if len(in.Data) == 0 {
		return queryOutput{}, errors.New(`"data" is required: the JSON document to query`)
	}
	doc, err := decode(in.Data)
	if err != nil {
		return queryOutput{}, err
	}
	p, err := parsePath(in.Path)
	if err != nil {
		return queryOutput{}, err
	}
	limit := in.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	res := p.eval(doc)
	out := queryOutput{Count: len(res), Results: res}
	if len(res) > limit {
		out.Results, out.Truncated = res[:limit], true
	}
	if out.Results == nil {
		out.Results = []any{}
	}
	return out, nil
}

func first(in queryInput) (any, error) {
	out, err := query(in)
	if err != nil {
		return nil, err
	}
	if out.Count == 0 {
		return nil, errors.New("no value matches " + in.Path)
	}
	return out.Results[0], nil
}

// decode keeps numbers as json.Number so integers above 2^53 survive.
func decode(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, errors.New("data is not valid JSON: " + err.Error())
	}
	return v, nil
}

//go:wasmexport query
//lint:ignore U1000 exported to the host
func queryExport() int32 { return reef.Run(query) }

//go:wasmexport first
//lint:ignore U1000 exported to the host
func firstExport() int32 { return reef.Run(first) }

func main() {}
