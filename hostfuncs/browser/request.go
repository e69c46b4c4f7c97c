package hostbrowser

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/runtime/policy"
)

// Request size limits.
const (
	maxRequestBytes  = 4 << 20
	maxSelectorBytes = 4 << 10
	maxTypeTextBytes = 64 << 10
	maxEvalBytes     = 1 << 20
	maxViewport      = 8192
	// DefaultWidth and DefaultHeight are the viewport of every call.
	DefaultWidth  = 1280
	DefaultHeight = 800
)

type opKind int

const (
	opText opKind = iota
	opHTML
	opScreenshot
	opPDF
	opRun
)

func (o opKind) String() string {
	return [...]string{"text", "html", "screenshot", "pdf", "run"}[o]
}

// request is every operation's request; fields an operation does not use
// are refused by parseRequest.
type request struct {
	URL      string            `json:"url"`
	Selector string            `json:"selector"`
	FullPage bool              `json:"full_page"`
	Width    int               `json:"width"`
	Height   int               `json:"height"`
	Actions  []json.RawMessage `json:"actions"`

	steps []step
}

// stepKind names a run() action.
type stepKind string

const (
	stepNavigate   stepKind = "navigate"
	stepClick      stepKind = "click"
	stepType       stepKind = "type"
	stepWait       stepKind = "wait"
	stepText       stepKind = "text"
	stepAttr       stepKind = "attr"
	stepScreenshot stepKind = "screenshot"
	stepEval       stepKind = "eval"
)

// step is one parsed run() action.
type step struct {
	Kind     stepKind
	URL      string // navigate
	Selector string // click, type, wait, text, attr, screenshot ("" = viewport)
	Text     string // type
	Name     string // attr
	JS       string // eval
}

// invalid is the error for a malformed request.
func invalid(op opKind, format string, args ...any) error {
	return abi.Errorf(abi.CodeInvalid, "browser: %s: %s", op, fmt.Sprintf(format, args...))
}

// parseRequest decodes and validates a request without touching the
// network. maxSteps and maxPages bound run().
func parseRequest(op opKind, data []byte, maxSteps, maxPages int) (*request, error) {
	if len(data) > maxRequestBytes {
		return nil, invalid(op, "request is %d bytes, over %d", len(data), maxRequestBytes)
	}
	var r request
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, invalid(op, "request is not the expected JSON object: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalid(op, "trailing data after the JSON request")
	}
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(data, &raw)
	allowed := map[opKind][]string{
		opText:       {"url"},
		opHTML:       {"url", "selector"},
		opScreenshot: {"url", "selector", "full_page", "width", "height"},
		opPDF:        {"url"},
		opRun:        {"url", "actions", "width", "height"},
	}[op]
	for k := range raw {
		if !contains(allowed, k) {
			return nil, invalid(op, "field %q is not used by %s (fields: %s)", k, op, strings.Join(allowed, ", "))
		}
	}
	if op != opRun && r.URL == "" {
		return nil, invalid(op, `"url" is required`)
	}
	if err := checkSelector(r.Selector); err != nil {
		return nil, invalid(op, "selector: %v", err)
	}
	if r.Width < 0 || r.Width > maxViewport || r.Height < 0 || r.Height > maxViewport {
		return nil, invalid(op, "width and height must be between 1 and %d", maxViewport)
	}
	if r.FullPage && r.Selector != "" {
		return nil, invalid(op, `"full_page" and "selector" cannot be combined`)
	}
	if op == opRun {
		if len(r.Actions) == 0 {
			return nil, invalid(op, `"actions" is required (a list such as [{"navigate":"https://…"},{"text":"h1"}])`)
		}
		if len(r.Actions) > maxSteps {
			return nil, invalid(op, "%d actions, over the limit of %d", len(r.Actions), maxSteps)
		}
		navs := 0
		if r.URL != "" {
			navs++
		}
		for i, a := range r.Actions {
			s, err := parseStep(a)
			if err != nil {
				return nil, invalid(op, "actions[%d]: %v", i, err)
			}
			if s.Kind == stepNavigate {
				navs++
			}
			r.steps = append(r.steps, s)
		}
		if navs > maxPages {
			return nil, invalid(op, "%d navigations, over the limit of %d pages per call", navs, maxPages)
		}
	}
	return &r, nil
}

// parseStep parses one action object: exactly one key naming the action.
func parseStep(raw json.RawMessage) (step, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return step{}, errors.New(`an action is an object with one key: navigate, click, type, wait, text, attr, screenshot or eval`)
	}
	if len(obj) != 1 {
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		return step{}, fmt.Errorf("an action has exactly one key, got %d (%s)", len(obj), strings.Join(keys, ", "))
	}
	var s step
	for k, v := range obj {
		s.Kind = stepKind(k)
		str := func() (string, error) {
			var out string
			if err := json.Unmarshal(v, &out); err != nil {
				return "", fmt.Errorf("%s: want a string", k)
			}
			return out, nil
		}
		var err error
		switch s.Kind {
		case stepNavigate:
			if s.URL, err = str(); err == nil && s.URL == "" {
				err = errors.New("navigate: empty URL")
			}
		case stepClick, stepWait, stepText:
			if s.Selector, err = str(); err == nil {
				if s.Selector == "" {
					err = fmt.Errorf("%s: empty selector", k)
				} else if serr := checkSelector(s.Selector); serr != nil {
					err = fmt.Errorf("%s: %v", k, serr)
				}
			}
		case stepScreenshot:
			if string(bytes.TrimSpace(v)) != "null" {
				if s.Selector, err = str(); err == nil {
					if serr := checkSelector(s.Selector); serr != nil {
						err = fmt.Errorf("screenshot: %v", serr)
					}
				}
			}
		case stepType:
			var t struct {
				Selector *string `json:"selector"`
				Text     *string `json:"text"`
			}
			if e := strictUnmarshal(v, &t); e != nil || t.Selector == nil || t.Text == nil {
				err = errors.New(`type: want {"selector": "...", "text": "..."}`)
			} else if *t.Selector == "" {
				err = errors.New("type: empty selector")
			} else if serr := checkSelector(*t.Selector); serr != nil {
				err = fmt.Errorf("type: %v", serr)
			} else if len(*t.Text) > maxTypeTextBytes {
				err = fmt.Errorf("type: text is %d bytes, over %d", len(*t.Text), maxTypeTextBytes)
			} else {
				s.Selector, s.Text = *t.Selector, *t.Text
			}
		case stepAttr:
			var a struct {
				Selector *string `json:"selector"`
				Name     *string `json:"name"`
			}
			if e := strictUnmarshal(v, &a); e != nil || a.Selector == nil || a.Name == nil || *a.Name == "" {
				err = errors.New(`attr: want {"selector": "...", "name": "..."}`)
			} else if *a.Selector == "" {
				err = errors.New("attr: empty selector")
			} else if serr := checkSelector(*a.Selector); serr != nil {
				err = fmt.Errorf("attr: %v", serr)
			} else {
				s.Selector, s.Name = *a.Selector, *a.Name
			}
		case stepEval:
			if s.JS, err = str(); err == nil {
				if s.JS == "" {
					err = errors.New("eval: empty script")
				} else if len(s.JS) > maxEvalBytes {
					err = fmt.Errorf("eval: script is %d bytes, over %d", len(s.JS), maxEvalBytes)
				}
			}
		default:
			err = fmt.Errorf("unknown action %q (navigate, click, type, wait, text, attr, screenshot, eval)", k)
		}
		if err != nil {
			return step{}, err
		}
	}
	return s, nil
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// checkSelector bounds a CSS selector. Selectors go to DOM.querySelector,
// never into JavaScript source.
func checkSelector(s string) error {
	if len(s) > maxSelectorBytes {
		return fmt.Errorf("%d bytes, over %d", len(s), maxSelectorBytes)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return errors.New("contains a NUL byte")
	}
	return nil
}

// authorize checks every URL and the eval capability before anything is
// loaded, so a denied request costs no browser work. Denials name the
// action index.
func (r *request) authorize(op opKind, p *policy.Policy) error {
	if r.URL != "" {
		if _, err := checkURL(p, r.URL); err != nil {
			return fmt.Errorf("browser: %s: url: %w", op, err)
		}
	}
	for i, s := range r.steps {
		switch s.Kind {
		case stepNavigate:
			if _, err := checkURL(p, s.URL); err != nil {
				return fmt.Errorf("browser: run: actions[%d]: navigate: %w", i, err)
			}
		case stepEval:
			if err := p.CheckEval(); err != nil {
				return fmt.Errorf("browser: run: actions[%d]: eval: %w", i, err)
			}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
