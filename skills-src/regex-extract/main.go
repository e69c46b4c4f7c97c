//go:build wasip1

// Command regex-extract is a reef skill: find, extract and replace with
// Go (RE2) regular expressions, which run in linear time.
package main

import (
	"errors"
	"regexp"
	"strconv"

	reef "github.com/reefhq/reef/pdk/go"
)

// Limits of one call.
const (
	defaultLimit = 100
	maxLimit     = 10000
)

type extractInput struct {
	Pattern string `json:"pattern"`
	Text    string `json:"text"`
	// Flags: i (case-insensitive), m (multi-line ^$), s (. matches \n).
	Flags string `json:"flags"`
	Limit int    `json:"limit"`
}

type match struct {
	Match  string            `json:"match"`
	Start  int               `json:"start"`
	End    int               `json:"end"`
	Groups []*string         `json:"groups"`
	Named  map[string]string `json:"named,omitempty"`
}

type extractOutput struct {
	Count     int     `json:"count"`
	Matches   []match `json:"matches"`
	Truncated bool    `json:"truncated,omitempty"`
}

func compile(pattern, flags string) (*regexp.Regexp, error) {
	if pattern == "" {
		return nil, errors.New(`"pattern" is required`)
	}
	prefix := ""
	for _, f := range flags {
		switch f {
		case 'i', 'm', 's', 'U':
			prefix += string(f)
		default:
			return nil, errors.New("unknown flag " + strconv.QuoteRune(f) + " (use i, m, s or U)")
		}
	}
	if prefix != "" {
		pattern = "(?" + prefix + ")" + pattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, errors.New("invalid pattern: " + err.Error())
	}
	return re, nil
}

func limitOf(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return min(n, maxLimit)
}

func extract(in extractInput) (extractOutput, error) {
	re, err := compile(in.Pattern, in.Flags)
	if err != nil {
		return extractOutput{}, err
	}
	limit := limitOf(in.Limit)
	// One more than the limit tells whether there were more.
	locs := re.FindAllStringSubmatchIndex(in.Text, limit+1)
	out := extractOutput{Matches: []match{}}
	if len(locs) > limit {
		locs, out.Truncated = locs[:limit], true
	}
	names := re.SubexpNames()
	for _, loc := range locs {
		m := match{Match: in.Text[loc[0]:loc[1]], Start: loc[0], End: loc[1], Groups: []*string{}}
		for g := 1; g < len(loc)/2; g++ {
			if loc[2*g] < 0 {
				m.Groups = append(m.Groups, nil)
				continue
			}
			s := in.Text[loc[2*g]:loc[2*g+1]]
			m.Groups = append(m.Groups, &s)
			if names[g] != "" {
				if m.Named == nil {
					m.Named = map[string]string{}
				}
				m.Named[names[g]] = s
			}
		}
		out.Matches = append(out.Matches, m)
	}
	out.Count = len(out.Matches)
	return out, nil
}

type testOutput struct {
	Matches bool `json:"matches"`
}

func test(in extractInput) (testOutput, error) {
	re, err := compile(in.Pattern, in.Flags)
	if err != nil {
		return testOutput{}, err
	}
	return testOutput{Matches: re.MatchString(in.Text)}, nil
}

type replaceInput struct {
	extractInput
	// Replacement may use $1, ${name}; Literal turns that off.
	Replacement string `json:"replacement"`
	Literal     bool   `json:"literal"`
}

type replaceOutput struct {
	Text         string `json:"text"`
	Replacements int    `json:"replacements"`
}

func replace(in replaceInput) (replaceOutput, error) {
	re, err := compile(in.Pattern, in.Flags)
	if err != nil {
		return replaceOutput{}, err
	}
	n := len(re.FindAllStringIndex(in.Text, -1))
	out := re.ReplaceAllString(in.Text, in.Replacement)
	if in.Literal {
		out = re.ReplaceAllLiteralString(in.Text, in.Replacement)
	}
	return replaceOutput{Text: out, Replacements: n}, nil
}

type splitOutput struct {
	Parts []string `json:"parts"`
}

func split(in extractInput) (splitOutput, error) {
	re, err := compile(in.Pattern, in.Flags)
	if err != nil {
		return splitOutput{}, err
	}
	return splitOutput{Parts: re.Split(in.Text, limitOf(in.Limit))}, nil
}

//go:wasmexport extract
//lint:ignore U1000 exported to the host
func extractExport() int32 { return reef.Run(extract) }

//go:wasmexport test
//lint:ignore U1000 exported to the host
func testExport() int32 { return reef.Run(test) }

//go:wasmexport replace
//lint:ignore U1000 exported to the host
func replaceExport() int32 { return reef.Run(replace) }

//go:wasmexport split
//lint:ignore U1000 exported to the host
func splitExport() int32 { return reef.Run(split) }

func main() {}
