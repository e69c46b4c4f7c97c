package reef

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
)

// FileInfo describes one file (reef_fs_list, reef_fs_stat).
type FileInfo struct {
	Name string
	// Path is the guest path (Stat only).
	Path string
	Size int64
	Dir  bool
	// Type is "file", "dir", "symlink" or "other".
	Type string
	// Mode is the permission bits in octal ("0644").
	Mode string
	// Mtime is the modification time, RFC 3339 in UTC.
	Mtime string
}

func fileInfoOf(m map[string]any) FileInfo {
	return FileInfo{Name: jStr(m, "name"), Path: jStr(m, "path"), Size: jInt(m, "size"), Dir: jBool(m, "dir"),
		Type: jStr(m, "type"), Mode: jStr(m, "mode"), Mtime: jStr(m, "mtime")}
}

// HTTPRequest is one reef_http_fetch request.
type HTTPRequest struct {
	// Method defaults to GET.
	Method string
	URL    string
	// Headers may use {{secret:NAME}} templates the host fills in.
	Headers map[string]string
	Body    []byte
	// TimeoutMS and MaxBytes may only lower the host's caps (0 = host's).
	TimeoutMS int64
	MaxBytes  int64
	// NoRedirects returns a 3xx as is instead of following it.
	NoRedirects bool
}

func (r *HTTPRequest) json() []byte {
	o := newObj().strOpt("method", r.Method).str("url", r.URL)
	if len(r.Headers) > 0 {
		o.strMap("headers", r.Headers)
	}
	o.numOpt("timeout_ms", r.TimeoutMS).numOpt("max_bytes", r.MaxBytes)
	if r.NoRedirects {
		o.boolean("follow_redirects", false)
	}
	return o.bytes()
}

// HTTPResponse is the answer of reef_http_fetch. Any status is a
// successful call: HTTP errors are data.
type HTTPResponse struct {
	Status int
	// Headers maps canonical names to values (repeated headers joined
	// with ", ").
	Headers map[string]string
	// URL is the final URL after redirects.
	URL  string
	Body []byte
}

// parseHTTPResponse reads the 4-byte LE head length, the JSON head and
// the raw body.
func parseHTTPResponse(b []byte) (*HTTPResponse, error) {
	if len(b) < 4 {
		return nil, errors.New("http response shorter than its 4-byte header")
	}
	n := binary.LittleEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, errors.New("http response head length past the end of the response")
	}
	v, err := ParseJSON(b[4 : 4+n])
	if err != nil {
		return nil, errors.Join(errors.New("http response head"), err)
	}
	m := jObj(v)
	r := &HTTPResponse{Status: int(jInt(m, "status")), URL: jStr(m, "url"), Headers: map[string]string{}, Body: b[4+n:]}
	for k, hv := range jObj(m["headers"]) {
		if s, ok := hv.(string); ok {
			r.Headers[k] = s
		}
	}
	return r, nil
}

// ScreenshotOptions select what reef_browser_screenshot captures.
type ScreenshotOptions struct {
	URL string
	// Selector captures one element; FullPage the whole page; neither:
	// the viewport.
	Selector string
	FullPage bool
	// Width and Height set the viewport (0 = 1280×800).
	Width, Height int
}

// Action is one step of BrowserRun; build it with Navigate, Click, Type,
// Wait, Text, Attr, Screenshot or Eval.
type Action struct{ raw []byte }

func action(k string, v []byte) Action { return Action{newObj().raw(k, v).bytes()} }

// Navigate loads url.
func Navigate(url string) Action { return action("navigate", appendJSONString(nil, url)) }

// Click clicks the first element matching the CSS selector.
func Click(selector string) Action { return action("click", appendJSONString(nil, selector)) }

// Type types text into the element matching selector.
func Type(selector, text string) Action {
	return action("type", newObj().str("selector", selector).str("text", text).bytes())
}

// Wait waits until selector matches an element.
func Wait(selector string) Action { return action("wait", appendJSONString(nil, selector)) }

// Text reads the text of the element matching selector.
func Text(selector string) Action { return action("text", appendJSONString(nil, selector)) }

// Attr reads attribute name of the element matching selector.
func Attr(selector, name string) Action {
	return action("attr", newObj().str("selector", selector).str("name", name).bytes())
}

// Screenshot captures the element matching selector ("" = the viewport).
func Screenshot(selector string) Action {
	if selector == "" {
		return action("screenshot", []byte("null"))
	}
	return action("screenshot", appendJSONString(nil, selector))
}

// Eval evaluates JavaScript (needs the browser eval grant).
func Eval(js string) Action { return action("eval", appendJSONString(nil, js)) }

// StepResult is one entry of BrowserRun's results.
type StepResult struct {
	Step   int
	Action string
	OK     bool
	URL    string
	// Text is the text of a text or attr step.
	Text string
	// Value is an eval result, decoded by ParseJSON.
	Value any
	// Exists reports whether an attr step found the attribute.
	Exists *bool
	// PNG is a screenshot step's image.
	PNG []byte
	// Err is set on the step that failed (the last one).
	Err *Error
}

// RunResult is BrowserRun's answer: the steps run, stopping at the first
// failure.
type RunResult struct {
	Completed int
	Results   []StepResult
}

func parseRunResult(v any) (*RunResult, error) {
	m := jObj(v)
	if m == nil {
		return nil, errors.New("browser run: response is not a JSON object")
	}
	out := &RunResult{Completed: int(jInt(m, "completed"))}
	for _, rv := range jArr(m, "results") {
		r := jObj(rv)
		s := StepResult{Step: int(jInt(r, "step")), Action: jStr(r, "action"), OK: jBool(r, "ok"), URL: jStr(r, "url"),
			Text: jStr(r, "text"), Value: r["value"]}
		if e, ok := r["exists"].(bool); ok {
			s.Exists = &e
		}
		if p := jStr(r, "png"); p != "" {
			s.PNG, _ = base64.StdEncoding.DecodeString(p)
		}
		if em := jObj(r["error"]); em != nil {
			s.Err = &Error{Code: jStr(em, "code"), Capability: jStr(em, "capability"), Value: jStr(em, "value"), Message: jStr(em, "message"), ID: jStr(em, "id")}
		}
		out.Results = append(out.Results, s)
	}
	return out, nil
}

// Mail is one message for MailSend.
type Mail struct {
	// Account names the operator's mail account ("" = the only one granted).
	Account string
	To      []string
	Cc      []string
	Bcc     []string
	ReplyTo string
	Subject string
	// Text and HTML: at least one.
	Text        string
	HTML        string
	Attachments []Attachment
}

// Attachment is a file attached to a Mail.
type Attachment struct {
	Name    string
	Type    string
	Content []byte
}

func (m *Mail) json() []byte {
	o := newObj().strOpt("account", m.Account).strs("to", m.To).strsOpt("cc", m.Cc).strsOpt("bcc", m.Bcc).
		strOpt("reply_to", m.ReplyTo).str("subject", m.Subject).strOpt("text", m.Text).strOpt("html", m.HTML)
	if len(m.Attachments) > 0 {
		b := []byte{'['}
		for i, a := range m.Attachments {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, newObj().str("name", a.Name).strOpt("type", a.Type).
				str("content_base64", base64.StdEncoding.EncodeToString(a.Content)).bytes()...)
		}
		o.raw("attachments", append(b, ']'))
	}
	return o.bytes()
}

// Mailbox is one granted mailbox.
type Mailbox struct {
	Name     string
	Messages int
	Unseen   int
}

// MailQuery selects messages for MailSearch; criteria are ANDed.
type MailQuery struct {
	Account string
	Mailbox string
	Unseen  bool
	// Since is a date ("2026-01-02") or an RFC 3339 time.
	Since   string
	From    string
	Subject string
	// Limit is the most messages returned (0 = 50).
	Limit   int
	Preview bool
}

func (q *MailQuery) json() []byte {
	return newObj().strOpt("account", q.Account).str("mailbox", q.Mailbox).boolOpt("unseen", q.Unseen).
		strOpt("since", q.Since).strOpt("from", q.From).strOpt("subject", q.Subject).
		numOpt("limit", int64(q.Limit)).boolOpt("preview", q.Preview).bytes()
}

// Address is a mail address with its display name.
type Address struct {
	Name    string
	Address string
}

func addresses(m map[string]any, k string) []Address {
	var out []Address
	for _, v := range jArr(m, k) {
		a := jObj(v)
		out = append(out, Address{Name: jStr(a, "name"), Address: jStr(a, "address")})
	}
	return out
}

// MessageSummary is one message found by MailSearch.
type MessageSummary struct {
	UID     uint32
	From    []Address
	To      []Address
	Subject string
	Date    string
	Seen    bool
	Size    int64
	Preview string
}

// SearchResult is MailSearch's answer: Total matches, the newest first.
type SearchResult struct {
	Mailbox  string
	Total    int
	Messages []MessageSummary
}

func parseSearchResult(m map[string]any) *SearchResult {
	r := &SearchResult{Mailbox: jStr(m, "mailbox"), Total: int(jInt(m, "total"))}
	for _, v := range jArr(m, "messages") {
		s := jObj(v)
		r.Messages = append(r.Messages, MessageSummary{UID: uint32(jInt(s, "uid")), From: addresses(s, "from"), To: addresses(s, "to"),
			Subject: jStr(s, "subject"), Date: jStr(s, "date"), Seen: jBool(s, "seen"), Size: jInt(s, "size"), Preview: jStr(s, "preview")})
	}
	return r
}

// FetchRequest selects one message for MailFetch.
type FetchRequest struct {
	Account string
	Mailbox string
	UID     uint32
	// Body fetches the text and HTML parts (false: headers only).
	Body bool
	// Attachments includes attachment contents.
	Attachments bool
}

func (f *FetchRequest) json() []byte {
	return newObj().strOpt("account", f.Account).str("mailbox", f.Mailbox).num("uid", int64(f.UID)).
		boolean("body", f.Body).boolean("attachments", f.Attachments).bytes()
}

// Message is one fetched message.
type Message struct {
	Mailbox       string
	UID           uint32
	MessageID     string
	From          []Address
	To            []Address
	Cc            []Address
	ReplyTo       []Address
	Subject       string
	Date          string
	Seen          bool
	Flags         []string
	Size          int64
	Headers       map[string][]string
	Text          string
	TextTruncated bool
	HTML          string
	HTMLTruncated bool
	Attachments   []MessagePart
	Truncated     bool
	ParseError    string
}

// MessagePart is an attachment or other non-body part.
type MessagePart struct {
	Name    string
	Type    string
	Size    int64
	Content []byte
	// Omitted says why Content is empty.
	Omitted string
}

func parseMessage(m map[string]any) *Message {
	msg := &Message{Mailbox: jStr(m, "mailbox"), UID: uint32(jInt(m, "uid")), MessageID: jStr(m, "message_id"),
		From: addresses(m, "from"), To: addresses(m, "to"), Cc: addresses(m, "cc"), ReplyTo: addresses(m, "reply_to"),
		Subject: jStr(m, "subject"), Date: jStr(m, "date"), Seen: jBool(m, "seen"), Flags: jStrs(m, "flags"), Size: jInt(m, "size"),
		Text: jStr(m, "text"), TextTruncated: jBool(m, "text_truncated"), HTML: jStr(m, "html"), HTMLTruncated: jBool(m, "html_truncated"),
		Truncated: jBool(m, "truncated"), ParseError: jStr(m, "parse_error"), Headers: map[string][]string{}}
	hs := jObj(m["headers"])
	for k := range hs {
		msg.Headers[k] = jStrs(hs, k)
	}
	for _, v := range jArr(m, "attachments") {
		a := jObj(v)
		p := MessagePart{Name: jStr(a, "name"), Type: jStr(a, "type"), Size: jInt(a, "size"), Omitted: jStr(a, "omitted")}
		if c := jStr(a, "content_base64"); c != "" {
			p.Content, _ = base64.StdEncoding.DecodeString(c)
		}
		msg.Attachments = append(msg.Attachments, p)
	}
	return msg
}

// KVListOptions page through KVList.
type KVListOptions struct {
	// Prefix keeps only keys starting with it.
	Prefix string
	// After keeps only keys strictly greater than it (the last key of
	// the previous page).
	After string
	// Limit is the most keys returned (0 = 1000, at most 10000).
	Limit int
}

// CAS is one compare-and-swap for KVCompareAndSwap.
type CAS struct {
	Key string
	// OldPresent true: the key must hold Old; false: it must not exist.
	OldPresent bool
	Old        []byte
	// New is written on a match (ignored with Delete).
	New []byte
	// Delete removes the key on a match.
	Delete bool
}

func (c *CAS) json() []byte {
	o := newObj().str("key", c.Key).boolean("old_present", c.OldPresent)
	if c.OldPresent && len(c.Old) > 0 {
		o.str("old", base64.StdEncoding.EncodeToString(c.Old))
	}
	return o.boolOpt("delete", c.Delete).bytes()
}

// CASResult is the outcome of a compare-and-swap; a failed comparison is
// Swapped == false, not an error.
type CASResult struct {
	Swapped bool
	// Present: the key exists after the call.
	Present bool
	// Current is the key's value when the swap did not happen.
	Current []byte
}
