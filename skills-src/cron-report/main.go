//go:build wasip1

// Command cron-report is a reef skill: the next run times of a cron
// expression in a time zone, and a plain-English description.
package main

import (
	"errors"
	"time"
	_ "time/tzdata" // WASI has no zoneinfo files: embed the database

	reef "github.com/reefhq/reef/pdk/go"
)

type reportInput struct {
	Expression string `json:"expression"`
	Timezone   string `json:"timezone"`
	Count      int    `json:"count"`
	// From is an RFC 3339 time to start after (default: now).
	From string `json:"from"`
}

type reportOutput struct {
	Expression  string   `json:"expression"`
	Timezone    string   `json:"timezone"`
	Description string   `json:"description"`
	Next        []string `json:"next"`
}

func report(in reportInput) (reportOutput, error) {
	s, err := parse(in.Expression)
	if err != nil {
		return reportOutput{}, err
	}
	tz := in.Timezone
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return reportOutput{}, errors.New("unknown time zone " + tz + ": use an IANA name such as Europe/Berlin or UTC")
	}
	from := time.Now()
	if in.From != "" {
		if from, err = time.Parse(time.RFC3339, in.From); err != nil {
			return reportOutput{}, errors.New(`"from" is not an RFC 3339 time (2026-01-31T09:00:00Z): ` + err.Error())
		}
	}
	count := in.Count
	if count <= 0 {
		count = 5
	}
	count = min(count, 100)
	out := reportOutput{Expression: in.Expression, Timezone: tz, Description: s.describe(), Next: []string{}}
	t := from.In(loc)
	for range count {
		next, ok := s.next(t)
		if !ok {
			break
		}
		out.Next = append(out.Next, next.Format(time.RFC3339))
		t = next
	}
	return out, nil
}

type describeOutput struct {
	Description string `json:"description"`
}

func describe(in reportInput) (describeOutput, error) {
	s, err := parse(in.Expression)
	if err != nil {
		return describeOutput{}, err
	}
	return describeOutput{Description: s.describe()}, nil
}

//go:wasmexport next
//lint:ignore U1000 exported to the host
func nextExport() int32 { return reef.Run(report) }

//go:wasmexport describe
//lint:ignore U1000 exported to the host
func describeExport() int32 { return reef.Run(describe) }

func main() {}
