//go:build wasip1

package reef

import (
	"encoding/base64"
	"errors"
)

// Capability imports: every function has reef's one signature
// (req, data) -> result (see hostfuncs/abi). A module imports only the
// functions it calls.

//go:wasmimport extism:host/user reef_fs_read
func capFSRead(req, data uint64) int64

//go:wasmimport extism:host/user reef_fs_write
func capFSWrite(req, data uint64) int64

//go:wasmimport extism:host/user reef_fs_append
func capFSAppend(req, data uint64) int64

//go:wasmimport extism:host/user reef_fs_list
func capFSList(req, data uint64) int64

//go:wasmimport extism:host/user reef_fs_stat
func capFSStat(req, data uint64) int64

//go:wasmimport extism:host/user reef_fs_mkdir
func capFSMkdir(req, data uint64) int64

//go:wasmimport extism:host/user reef_fs_remove
func capFSRemove(req, data uint64) int64

//go:wasmimport extism:host/user reef_fs_rename
func capFSRename(req, data uint64) int64

//go:wasmimport extism:host/user reef_fs_glob
func capFSGlob(req, data uint64) int64

//go:wasmimport extism:host/user reef_http_fetch
func capHTTPFetch(req, data uint64) int64

//go:wasmimport extism:host/user reef_browser_text
func capBrowserText(req, data uint64) int64

//go:wasmimport extism:host/user reef_browser_html
func capBrowserHTML(req, data uint64) int64

//go:wasmimport extism:host/user reef_browser_screenshot
func capBrowserScreenshot(req, data uint64) int64

//go:wasmimport extism:host/user reef_browser_pdf
func capBrowserPDF(req, data uint64) int64

//go:wasmimport extism:host/user reef_browser_run
func capBrowserRun(req, data uint64) int64

//go:wasmimport extism:host/user reef_mail_send
func capMailSend(req, data uint64) int64

//go:wasmimport extism:host/user reef_mail_mailboxes
func capMailMailboxes(req, data uint64) int64

//go:wasmimport extism:host/user reef_mail_search
func capMailSearch(req, data uint64) int64

//go:wasmimport extism:host/user reef_mail_fetch
func capMailFetch(req, data uint64) int64

//go:wasmimport extism:host/user reef_mail_mark_seen
func capMailMarkSeen(req, data uint64) int64

//go:wasmimport extism:host/user reef_mail_move
func capMailMove(req, data uint64) int64

//go:wasmimport extism:host/user reef_kv_get
func capKVGet(req, data uint64) int64

//go:wasmimport extism:host/user reef_kv_set
func capKVSet(req, data uint64) int64

//go:wasmimport extism:host/user reef_kv_delete
func capKVDelete(req, data uint64) int64

//go:wasmimport extism:host/user reef_kv_list
func capKVList(req, data uint64) int64

//go:wasmimport extism:host/user reef_kv_cas
func capKVCAS(req, data uint64) int64

// call runs one capability function with a JSON request and an optional
// payload (nil = none). A negative result is the host's error document,
// returned as an *Error (errors.Is(err, ErrDenied) for a denial).
func call(fn func(req, data uint64) int64, req, data []byte) ([]byte, error) {
	rh := store(req)
	var dh uint64
	if data != nil {
		dh = store(data)
	}
	r := fn(rh, dh)
	extismFree(rh)
	if dh != 0 {
		extismFree(dh)
	}
	if r < 0 {
		h := uint64(-r)
		doc := load(h)
		extismFree(h)
		return nil, parseErrorDoc(doc)
	}
	if r == 0 {
		return []byte{}, nil
	}
	out := load(uint64(r))
	extismFree(uint64(r))
	return out, nil
}

// callJSON is call whose response is a JSON object.
func callJSON(fn func(req, data uint64) int64, req, data []byte) (map[string]any, error) {
	b, err := call(fn, req, data)
	if err != nil {
		return nil, err
	}
	v, err := ParseJSON(b)
	if err != nil {
		return nil, errors.Join(errors.New("capability response"), err)
	}
	return jObj(v), nil
}

func pathReq(p string) []byte { return newObj().str("path", p).bytes() }

// ---- fs

// ReadFile returns the whole file at a guest path ("/data/a.txt").
func ReadFile(path string) ([]byte, error) { return call(capFSRead, pathReq(path), nil) }

// ReadFileRange returns up to length bytes from offset.
func ReadFileRange(path string, offset, length int64) ([]byte, error) {
	return call(capFSRead, newObj().str("path", path).num("offset", offset).num("length", length).bytes(), nil)
}

// WriteFile replaces the file atomically with data; createDirs creates
// missing parent directories.
func WriteFile(path string, data []byte, createDirs bool) error {
	_, err := call(capFSWrite, newObj().str("path", path).boolOpt("create_dirs", createDirs).bytes(), nonNil(data))
	return err
}

// AppendFile appends data to the file, creating it if needed.
func AppendFile(path string, data []byte) error {
	_, err := call(capFSAppend, pathReq(path), nonNil(data))
	return err
}

// ReadDir lists a directory.
func ReadDir(path string) ([]FileInfo, error) {
	b, err := call(capFSList, pathReq(path), nil)
	if err != nil {
		return nil, err
	}
	v, err := ParseJSON(b)
	if err != nil {
		return nil, err
	}
	arr, _ := v.([]any)
	out := make([]FileInfo, 0, len(arr))
	for _, e := range arr {
		out = append(out, fileInfoOf(jObj(e)))
	}
	return out, nil
}

// Stat describes one path.
func Stat(path string) (FileInfo, error) {
	m, err := callJSON(capFSStat, pathReq(path), nil)
	if err != nil {
		return FileInfo{}, err
	}
	return fileInfoOf(m), nil
}

// Mkdir creates a directory; parents creates missing parents too (and
// makes an existing directory not an error).
func Mkdir(path string, parents bool) error {
	_, err := call(capFSMkdir, newObj().str("path", path).boolOpt("parents", parents).bytes(), nil)
	return err
}

// Remove removes a file or an empty directory; recursive removes a
// directory with its contents.
func Remove(path string, recursive bool) error {
	_, err := call(capFSRemove, newObj().str("path", path).boolOpt("recursive", recursive).bytes(), nil)
	return err
}

// Rename moves a file or directory within one mount.
func Rename(from, to string) error {
	_, err := call(capFSRename, newObj().str("from", from).str("to", to).bytes(), nil)
	return err
}

// Glob returns the guest paths matching an absolute pattern (path.Match
// segments; "**" matches any number of directories).
func Glob(pattern string) ([]string, error) {
	b, err := call(capFSGlob, newObj().str("pattern", pattern).bytes(), nil)
	if err != nil {
		return nil, err
	}
	v, err := ParseJSON(b)
	if err != nil {
		return nil, err
	}
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, s := range arr {
		if str, ok := s.(string); ok {
			out = append(out, str)
		}
	}
	return out, nil
}

// ---- http

// Fetch makes one HTTP request through the host (reef_http_fetch).
func Fetch(req HTTPRequest) (*HTTPResponse, error) {
	b, err := call(capHTTPFetch, req.json(), req.Body)
	if err != nil {
		return nil, err
	}
	return parseHTTPResponse(b)
}

// Get is Fetch of a GET request.
func Get(url string) (*HTTPResponse, error) { return Fetch(HTTPRequest{URL: url}) }

// ---- browser

// BrowserText returns the visible text of a page.
func BrowserText(url string) (string, error) {
	b, err := call(capBrowserText, newObj().str("url", url).bytes(), nil)
	return string(b), err
}

// BrowserHTML returns the page's HTML, or the outer HTML of the element
// matching selector ("" = the whole document).
func BrowserHTML(url, selector string) (string, error) {
	b, err := call(capBrowserHTML, newObj().str("url", url).strOpt("selector", selector).bytes(), nil)
	return string(b), err
}

// BrowserScreenshot returns a PNG.
func BrowserScreenshot(o ScreenshotOptions) ([]byte, error) {
	return call(capBrowserScreenshot, newObj().str("url", o.URL).strOpt("selector", o.Selector).boolOpt("full_page", o.FullPage).
		numOpt("width", int64(o.Width)).numOpt("height", int64(o.Height)).bytes(), nil)
}

// BrowserPDF prints a page to PDF.
func BrowserPDF(url string) ([]byte, error) {
	return call(capBrowserPDF, newObj().str("url", url).bytes(), nil)
}

// BrowserRun runs a list of actions in one page (url may be "" when the
// first action navigates). It stops at the first failing action, whose
// result carries Err.
func BrowserRun(url string, actions ...Action) (*RunResult, error) {
	list := []byte{'['}
	for i, a := range actions {
		if i > 0 {
			list = append(list, ',')
		}
		list = append(list, a.raw...)
	}
	b, err := call(capBrowserRun, newObj().strOpt("url", url).raw("actions", append(list, ']')).bytes(), nil)
	if err != nil {
		return nil, err
	}
	v, err := ParseJSON(b)
	if err != nil {
		return nil, err
	}
	return parseRunResult(v)
}

// ---- mail

// MailSend sends a message and returns its Message-ID.
func MailSend(m Mail) (string, error) {
	r, err := callJSON(capMailSend, m.json(), nil)
	if err != nil {
		return "", err
	}
	return jStr(r, "message_id"), nil
}

// MailMailboxes lists the granted mailboxes of account ("" = the only
// account granted).
func MailMailboxes(account string) ([]Mailbox, error) {
	r, err := callJSON(capMailMailboxes, newObj().strOpt("account", account).bytes(), nil)
	if err != nil {
		return nil, err
	}
	var out []Mailbox
	for _, v := range jArr(r, "mailboxes") {
		m := jObj(v)
		out = append(out, Mailbox{Name: jStr(m, "name"), Messages: int(jInt(m, "messages")), Unseen: int(jInt(m, "unseen"))})
	}
	return out, nil
}

// MailSearch finds messages.
func MailSearch(q MailQuery) (*SearchResult, error) {
	r, err := callJSON(capMailSearch, q.json(), nil)
	if err != nil {
		return nil, err
	}
	return parseSearchResult(r), nil
}

// MailFetch reads one message (flags are not changed).
func MailFetch(f FetchRequest) (*Message, error) {
	r, err := callJSON(capMailFetch, f.json(), nil)
	if err != nil {
		return nil, err
	}
	return parseMessage(r), nil
}

// MailMarkSeen marks messages seen; it returns the UIDs that existed.
func MailMarkSeen(account, mailbox string, uids []uint32) ([]uint32, error) {
	r, err := callJSON(capMailMarkSeen, newObj().strOpt("account", account).str("mailbox", mailbox).uints("uids", uids).bytes(), nil)
	if err != nil {
		return nil, err
	}
	return jUints(r, "uids"), nil
}

// MailMove moves messages to another granted mailbox; it returns the UIDs
// moved.
func MailMove(account, mailbox string, uids []uint32, to string) ([]uint32, error) {
	r, err := callJSON(capMailMove, newObj().strOpt("account", account).str("mailbox", mailbox).uints("uids", uids).str("to", to).bytes(), nil)
	if err != nil {
		return nil, err
	}
	return jUints(r, "moved"), nil
}

// ---- kv

func keyReq(k string) []byte { return newObj().str("key", k).bytes() }

// KVGet returns the value of key; a missing key is an error matching
// ErrNotFound.
func KVGet(key string) ([]byte, error) { return call(capKVGet, keyReq(key), nil) }

// KVSet stores value under key.
func KVSet(key string, value []byte) error {
	_, err := call(capKVSet, keyReq(key), nonNil(value))
	return err
}

// KVDelete removes key; it reports whether the key existed.
func KVDelete(key string) (bool, error) {
	r, err := callJSON(capKVDelete, keyReq(key), nil)
	if err != nil {
		return false, err
	}
	return jBool(r, "deleted"), nil
}

// KVList lists keys in byte order; more reports further matching keys
// (page with After = the last key).
func KVList(o KVListOptions) (keys []string, more bool, err error) {
	r, err := callJSON(capKVList, newObj().strOpt("prefix", o.Prefix).strOpt("after", o.After).numOpt("limit", int64(o.Limit)).bytes(), nil)
	if err != nil {
		return nil, false, err
	}
	return jStrs(r, "keys"), jBool(r, "more"), nil
}

// KVCompareAndSwap writes (or deletes) a key only if it holds what c
// expects, atomically.
func KVCompareAndSwap(c CAS) (CASResult, error) {
	var data []byte
	if !c.Delete {
		data = nonNil(c.New)
	}
	r, err := callJSON(capKVCAS, c.json(), data)
	if err != nil {
		return CASResult{}, err
	}
	res := CASResult{Swapped: jBool(r, "swapped"), Present: jBool(r, "present")}
	if cur := jStr(r, "current"); cur != "" {
		res.Current, _ = base64.StdEncoding.DecodeString(cur)
	}
	return res, nil
}

// nonNil turns a nil payload into an empty one (handle 0 also means
// empty, but an explicit block keeps the intent visible in traces).
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
