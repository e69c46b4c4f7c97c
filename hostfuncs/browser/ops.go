package hostbrowser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/runtime/policy"
)

// queryOpts are the options of every element query: CSS only (never a
// JavaScript path), polled every 50 ms.
var queryOpts = []chromedp.QueryOption{chromedp.RetryInterval(50 * time.Millisecond)}

// visibleTextJS is reef's own script (not the skill's): the rendered text
// of the page.
const visibleTextJS = `document.body ? document.body.innerText : (document.documentElement ? document.documentElement.textContent : "")`

// handle wraps one operation: parse and authorize the request, wait for a
// context slot, open the call's confined context, run, and release it.
func (m *Module) handle(op opKind) abi.Handler {
	return func(c abi.Call, req, _ []byte) ([]byte, error) {
		r, err := parseRequest(op, req, m.opts.MaxSteps, m.opts.MaxPages)
		if err != nil {
			return nil, err
		}
		if err := r.authorize(op, c.Policy()); err != nil {
			return nil, err
		}
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return nil, errClosed
		}
		m.calls.Add(1)
		m.mu.Unlock()

		deadline := m.callDeadline(c.Context())
		qctx, cancel := context.WithDeadline(c.Context(), deadline)
		err = m.acquire(qctx)
		cancel()
		if err != nil {
			m.calls.Done()
			return nil, err
		}
		s, err := m.openSession(c, deadline, r.Width, r.Height)
		if err != nil {
			m.release()
			m.calls.Done()
			return nil, err
		}
		defer func() {
			s.close()
			m.calls.Done()
		}()
		var out []byte
		switch op {
		case opText:
			out, err = s.text(r)
		case opHTML:
			out, err = s.html(r)
		case opScreenshot:
			out, err = s.screenshot(r)
		case opPDF:
			out, err = s.pdf(r)
		case opRun:
			out, err = s.run(r)
		}
		if err != nil {
			return nil, err
		}
		if err := m.outputLimit(op.String()+" output", len(out)); err != nil {
			return nil, err
		}
		return out, nil
	}
}

// viewport sets the page size (DefaultWidth × DefaultHeight unless given),
// unless it is set already.
func (s *session) viewport(w, h int) error {
	if w == 0 {
		w = DefaultWidth
	}
	if h == 0 {
		h = DefaultHeight
	}
	if w == s.vw && h == s.vh {
		return nil
	}
	if err := chromedp.Do(s.ctx, chromedp.EmulateViewport(int64(w), int64(h))); err != nil {
		return err
	}
	s.vw, s.vh = w, h
	return nil
}

// navigate loads u and waits for its load event. A load refused by the
// Fetch check or the proxy returns that denial.
func (s *session) navigate(u string) error {
	mark := s.mark()
	err := chromedp.Do(s.ctx, chromedp.Navigate(u))
	if err == nil {
		return nil
	}
	if d := s.firstDenial(mark); d != nil {
		return fmt.Errorf("browser: navigate %s: %w", clipValue(u), d)
	}
	return s.m.browserError("navigate "+clipValue(u), s.bp, err)
}

func (s *session) text(r *request) ([]byte, error) {
	if err := s.navigate(r.URL); err != nil {
		return nil, err
	}
	t, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](visibleTextJS))
	if err != nil {
		return nil, s.m.browserError("read text", s.bp, err)
	}
	return []byte(t), nil
}

func (s *session) html(r *request) ([]byte, error) {
	if err := s.navigate(r.URL); err != nil {
		return nil, err
	}
	if r.Selector == "" {
		h, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](`document.documentElement ? document.documentElement.outerHTML : ""`))
		if err != nil {
			return nil, s.m.browserError("read html", s.bp, err)
		}
		return []byte(h), nil
	}
	h, err := runQuery(s, r.Selector, s.m.opts.SelectorTimeout, chromedp.OuterHTML(chromedp.CSS(r.Selector), queryOpts...))
	if err != nil {
		return nil, err
	}
	return []byte(h), nil
}

func (s *session) screenshot(r *request) ([]byte, error) {
	if err := s.navigate(r.URL); err != nil {
		return nil, err
	}
	return s.capture(r.Selector, r.FullPage)
}

// maxFullPageHeight bounds a full-page capture (CSS pixels).
const maxFullPageHeight = 16384

// capture takes a PNG of the viewport, one element, or the whole page.
func (s *session) capture(selector string, fullPage bool) ([]byte, error) {
	switch {
	case selector != "":
		return runQuery(s, selector, s.m.opts.SelectorTimeout, chromedp.Screenshot(chromedp.CSS(selector), queryOpts...))
	case fullPage:
		png, err := chromedp.Run(s.ctx, func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
			lm, err := cdp.Call(ctx, t, page.GetLayoutMetrics, cdp.Empty{})
			if err != nil {
				return nil, err
			}
			w, h := float64(DefaultWidth), float64(DefaultHeight)
			if cs := lm.CSSContentSize; cs != nil {
				w, h = math.Ceil(cs.Width), math.Ceil(cs.Height)
			}
			if vp := lm.CSSLayoutViewport; vp != nil {
				w = math.Max(w, float64(vp.ClientWidth))
			}
			w, h = math.Min(math.Max(w, 1), maxViewport), math.Min(math.Max(h, 1), maxFullPageHeight)
			res, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{
				Format:                page.CaptureScreenshotFormatPng,
				CaptureBeyondViewport: new(true),
				FromSurface:           new(true),
				Clip:                  &page.Viewport{X: 0, Y: 0, Width: w, Height: h, Scale: 1},
			})
			if err != nil {
				return nil, err
			}
			return res.Data, nil
		})
		if err != nil {
			return nil, s.m.browserError("full-page screenshot", s.bp, err)
		}
		return png, nil
	default:
		png, err := chromedp.Run(s.ctx, func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
			res, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{Format: page.CaptureScreenshotFormatPng, FromSurface: new(true)})
			if err != nil {
				return nil, err
			}
			return res.Data, nil
		})
		if err != nil {
			return nil, s.m.browserError("screenshot", s.bp, err)
		}
		return png, nil
	}
}

func (s *session) pdf(r *request) ([]byte, error) {
	if err := s.navigate(r.URL); err != nil {
		return nil, err
	}
	b, err := chromedp.Run(s.ctx, chromedp.PrintToPDF(chromedp.PDFPrintBackground()))
	if err != nil {
		return nil, s.m.browserError("print to PDF", s.bp, err)
	}
	return b, nil
}

// runQuery runs an element action that waits for its selector at most
// wait (and never past the call deadline); a selector that matches
// nothing in time is "not_found", not a call timeout.
func runQuery[T any](s *session, selector string, wait time.Duration, a chromedp.Action[T]) (T, error) {
	ctx := s.ctx
	if wait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(s.ctx, wait)
		defer cancel()
	}
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		if s.ctx.Err() == nil && ctx.Err() != nil {
			return v, abi.Errorf(abi.CodeNotFound, "browser: selector %q matched no element within %s", clipValue(selector), wait)
		}
		return v, s.m.browserError(fmt.Sprintf("selector %q", clipValue(selector)), s.bp, err)
	}
	return v, nil
}

// stepResult is one entry of run()'s "results".
type stepResult struct {
	Step   int        `json:"step"`
	Action stepKind   `json:"action"`
	OK     bool       `json:"ok"`
	URL    string     `json:"url,omitempty"`
	Text   *string    `json:"text,omitempty"`
	Value  any        `json:"value,omitempty"`
	Exists *bool      `json:"exists,omitempty"`
	PNG    []byte     `json:"png,omitempty"`
	Error  *abi.Error `json:"error,omitempty"`
}

// runResponse is run()'s response.
type runResponse struct {
	Results []stepResult `json:"results"`
	// Completed is the number of actions that succeeded; run stops at the
	// first failing action, whose entry carries "error".
	Completed int `json:"completed"`
}

func (s *session) run(r *request) ([]byte, error) {
	if r.URL != "" {
		if err := s.navigate(r.URL); err != nil {
			return nil, err
		}
	}
	resp := runResponse{Results: make([]stepResult, 0, len(r.steps))}
	size := 0
	for i, st := range r.steps {
		res := stepResult{Step: i, Action: st.Kind}
		err := s.runStep(st, &res)
		if err == nil {
			size += len(res.PNG)*4/3 + len(res.URL) + 64
			if res.Text != nil {
				size += len(*res.Text)
			}
			if res.Value != nil {
				b, _ := json.Marshal(res.Value)
				size += len(b)
			}
			if size > s.m.opts.MaxOutputBytes {
				err = abi.Errorf(abi.CodeLimit, "browser: run: results exceed the %d-byte output limit", s.m.opts.MaxOutputBytes)
				res = stepResult{Step: i, Action: st.Kind}
			}
		}
		if err != nil {
			doc := abi.ToDocument(policy.CapBrowser, err)
			doc.Message = fmt.Sprintf("actions[%d] (%s): %s", i, st.Kind, doc.Message)
			res.Error = doc
			resp.Results = append(resp.Results, res)
			break
		}
		res.OK = true
		resp.Results = append(resp.Results, res)
		resp.Completed++
	}
	return json.Marshal(resp)
}

func (s *session) runStep(st step, res *stepResult) error {
	switch st.Kind {
	case stepNavigate:
		if err := s.navigate(st.URL); err != nil {
			return err
		}
		loc, err := chromedp.Run(s.ctx, chromedp.Location())
		if err != nil {
			return s.m.browserError("location", s.bp, err)
		}
		res.URL = loc
	case stepClick:
		_, err := runQuery(s, st.Selector, s.m.opts.SelectorTimeout, chromedp.Click(chromedp.CSS(st.Selector), append(queryOpts, chromedp.NodeVisible)...))
		return err
	case stepType:
		_, err := runQuery(s, st.Selector, s.m.opts.SelectorTimeout, chromedp.SendKeys(chromedp.CSS(st.Selector), st.Text, append(queryOpts, chromedp.NodeVisible)...))
		return err
	case stepWait:
		_, err := runQuery(s, st.Selector, 0, chromedp.WaitVisible(chromedp.CSS(st.Selector), queryOpts...))
		return err
	case stepText:
		t, err := runQuery(s, st.Selector, s.m.opts.SelectorTimeout, chromedp.Text(chromedp.CSS(st.Selector), queryOpts...))
		if err != nil {
			return err
		}
		res.Text = &t
	case stepAttr:
		a, err := runQuery(s, st.Selector, s.m.opts.SelectorTimeout, chromedp.AttributeValue(chromedp.CSS(st.Selector), st.Name, queryOpts...))
		if err != nil {
			return err
		}
		res.Value, res.Exists = a.Value, &a.Exists
	case stepScreenshot:
		png, err := s.capture(st.Selector, false)
		if err != nil {
			return err
		}
		res.PNG = png
	case stepEval:
		// authorize checked browser.eval before the call started.
		v, err := chromedp.Run(s.ctx, chromedp.Evaluate[any](st.JS, chromedp.EvalAwaitPromise))
		if err != nil {
			var ee *chromedp.ExceptionError
			if errors.As(err, &ee) {
				return abi.Errorf(abi.CodeInvalid, "browser: eval: script threw: %v", err)
			}
			if errors.Is(err, chromedp.ErrJSUndefined) || errors.Is(err, chromedp.ErrJSNull) {
				return nil
			}
			return s.m.browserError("eval", s.bp, err)
		}
		res.Value = v
	}
	return nil
}
