//go:build wasip1

// Command web-form is a reef skill: fill in and submit a web form in the
// host's headless browser, then return the text of the page that answers
// (one reef_browser_run call: every step runs in the same page).
package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	reef "github.com/reefhq/reef/pdk/go"
)

type input struct {
	URL string `json:"url"`
	// Fields maps a CSS selector to the text typed into it.
	Fields map[string]string `json:"fields"`
	// Submit is the CSS selector of the element clicked to submit.
	Submit string `json:"submit"`
	// ResultSelector is waited for and read on the answering page
	// (default "body").
	ResultSelector string `json:"result_selector"`
}

type output struct {
	// URL is the form page that was loaded.
	URL  string `json:"url"`
	Text string `json:"text"`
	// Steps is how many browser actions ran.
	Steps int `json:"steps"`
}

func submit(in input) (output, error) {
	switch {
	case in.URL == "":
		return output{}, errors.New(`"url" is required`)
	case in.Submit == "":
		return output{}, errors.New(`"submit" (the CSS selector of the submit button) is required`)
	}
	result := in.ResultSelector
	if result == "" {
		result = "body"
	}
	// Fields are typed in selector order, so a call is reproducible.
	sels := make([]string, 0, len(in.Fields))
	for s := range in.Fields {
		if strings.TrimSpace(s) == "" {
			return output{}, errors.New("fields: an empty CSS selector")
		}
		sels = append(sels, s)
	}
	sort.Strings(sels)
	actions := make([]reef.Action, 0, len(sels)+4)
	for _, s := range sels {
		actions = append(actions, reef.Type(s, in.Fields[s]))
	}
	actions = append(actions, reef.Click(in.Submit), reef.Wait(result), reef.Text(result))
	res, err := reef.BrowserRun(in.URL, actions...)
	if err != nil {
		return output{}, fmt.Errorf("submitting the form at %s: %w", in.URL, err)
	}
	if n := len(res.Results); n > 0 && res.Results[n-1].Err != nil {
		last := res.Results[n-1]
		return output{}, fmt.Errorf("step %d (%s) of %d: %w", last.Step+1, last.Action, len(actions), last.Err)
	}
	if res.Completed != len(actions) || len(res.Results) == 0 {
		return output{}, fmt.Errorf("browser ran %d of %d steps", res.Completed, len(actions))
	}
	return output{URL: in.URL, Text: strings.TrimSpace(res.Results[len(res.Results)-1].Text), Steps: res.Completed}, nil
}

//lint:ignore U1000 exported to the host
//go:wasmexport submit
func submitExport() int32 { return reef.Run(submit) }

func main() {}
