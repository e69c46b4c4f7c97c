package hostmail

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/runtime/policy"
)

// Request limits of the read functions.
const (
	DefaultSearchLimit = 50
	MaxSearchLimit     = 1000
	maxUIDs            = 1000
	maxMailboxBytes    = 512
	maxCriterionBytes  = 256
	previewChars       = 200
	// previewFetchBytes is how much of each message search downloads for
	// a preview: enough for the headers and the start of the first text
	// part of ordinary mail.
	previewFetchBytes = 16 << 10
)

// Address is a mail address in responses.
type Address struct {
	Name    string `json:"name,omitempty"`
	Address string `json:"address"`
}

// MailboxesRequest is the request of reef_mail_mailboxes.
type MailboxesRequest struct {
	Account string `json:"account,omitempty"`
}

// MailboxInfo is one granted mailbox that exists on the server.
type MailboxInfo struct {
	Name     string `json:"name"`
	Messages uint32 `json:"messages"`
	Unseen   uint32 `json:"unseen"`
}

// MailboxesResponse is the response of reef_mail_mailboxes.
type MailboxesResponse struct {
	Mailboxes []MailboxInfo `json:"mailboxes"`
}

// SearchRequest is the request of reef_mail_search.
type SearchRequest struct {
	Account string `json:"account,omitempty"`
	Mailbox string `json:"mailbox"`
	Unseen  bool   `json:"unseen,omitempty"`
	// Since is a date ("2026-01-02") or an RFC 3339 time (only its date
	// is used, as IMAP compares dates).
	Since   string `json:"since,omitempty"`
	From    string `json:"from,omitempty"`
	Subject string `json:"subject,omitempty"`
	// Limit is how many of the newest matches to return (default 50, at
	// most 1000).
	Limit int `json:"limit,omitempty"`
	// Preview adds the first characters of each message's text.
	Preview bool `json:"preview,omitempty"`
}

// MessageSummary is one search result.
type MessageSummary struct {
	UID     uint32    `json:"uid"`
	From    []Address `json:"from"`
	To      []Address `json:"to"`
	Subject string    `json:"subject"`
	Date    string    `json:"date"`
	Seen    bool      `json:"seen"`
	Size    int64     `json:"size"`
	Preview string    `json:"preview,omitempty"`
}

// SearchResponse is the response of reef_mail_search: the newest Limit
// matches, newest first, and the number of all matches.
type SearchResponse struct {
	Mailbox  string           `json:"mailbox"`
	Total    int              `json:"total"`
	Messages []MessageSummary `json:"messages"`
}

// FetchRequest is the request of reef_mail_fetch.
type FetchRequest struct {
	Account string `json:"account,omitempty"`
	Mailbox string `json:"mailbox"`
	UID     uint32 `json:"uid"`
	// Body defaults to true; false fetches headers only.
	Body *bool `json:"body,omitempty"`
	// Attachments adds each attachment's content (base64, size-capped).
	Attachments bool `json:"attachments,omitempty"`
}

// FetchResponse is the response of reef_mail_fetch.
type FetchResponse struct {
	Mailbox       string              `json:"mailbox"`
	UID           uint32              `json:"uid"`
	MessageID     string              `json:"message_id,omitempty"`
	From          []Address           `json:"from"`
	To            []Address           `json:"to"`
	Cc            []Address           `json:"cc,omitempty"`
	ReplyTo       []Address           `json:"reply_to,omitempty"`
	Subject       string              `json:"subject"`
	Date          string              `json:"date"`
	Seen          bool                `json:"seen"`
	Flags         []string            `json:"flags"`
	Size          int64               `json:"size"`
	Headers       map[string][]string `json:"headers"`
	Text          string              `json:"text,omitempty"`
	TextTruncated bool                `json:"text_truncated,omitempty"`
	HTML          string              `json:"html,omitempty"`
	HTMLTruncated bool                `json:"html_truncated,omitempty"`
	Attachments   []AttachmentInfo    `json:"attachments,omitempty"`
	// Truncated: the message is larger than the module's message limit
	// and only its beginning was read.
	Truncated bool `json:"truncated,omitempty"`
	// ParseError reports a malformed MIME structure; the fields above hold
	// what was read before it.
	ParseError string `json:"parse_error,omitempty"`
}

// MarkSeenRequest is the request of reef_mail_mark_seen.
type MarkSeenRequest struct {
	Account string   `json:"account,omitempty"`
	Mailbox string   `json:"mailbox"`
	UIDs    []uint32 `json:"uids"`
}

// MarkSeenResponse lists the UIDs that exist and are now seen.
type MarkSeenResponse struct {
	UIDs []uint32 `json:"uids"`
}

// MoveRequest is the request of reef_mail_move.
type MoveRequest struct {
	Account string   `json:"account,omitempty"`
	Mailbox string   `json:"mailbox"`
	UIDs    []uint32 `json:"uids"`
	To      string   `json:"to"`
}

// MoveResponse lists the UIDs that existed and were moved.
type MoveResponse struct {
	Moved []uint32 `json:"moved"`
}

// mailboxName validates a mailbox name and folds any case of INBOX to
// "INBOX" (RFC 3501: INBOX is case-insensitive).
func mailboxName(field, mb string) (string, error) {
	if mb == "" {
		return "", abi.Errorf(abi.CodeInvalid, "%s: required", field)
	}
	if err := headerText(field, mb, maxMailboxBytes); err != nil {
		return "", err
	}
	if strings.ContainsAny(mb, "*%") {
		return "", abi.Errorf(abi.CodeInvalid, "%s %q: wildcards are not mailbox names", field, mb)
	}
	if strings.EqualFold(mb, "INBOX") {
		return "INBOX", nil
	}
	return mb, nil
}

// checkMailbox validates and decides one mailbox.
func checkMailbox(c abi.Call, field, mb string, modify bool) (string, error) {
	mb, err := mailboxName(field, mb)
	if err != nil {
		return "", err
	}
	if err := c.Policy().CheckMailbox(mb, modify); err != nil {
		return "", err
	}
	return mb, nil
}

func (m *Module) mailboxes(c abi.Call, req, _ []byte) ([]byte, error) {
	var r MailboxesRequest
	if len(req) > 0 {
		if err := decodeStrict(req, &r); err != nil {
			return nil, err
		}
	}
	a, err := m.account(c, r.Account, true)
	if err != nil {
		return nil, err
	}
	granted := policyMailboxes(c.Policy())
	resp := MailboxesResponse{Mailboxes: []MailboxInfo{}}
	err = m.withIMAP(c.Context(), a, func(ic *imapclient.Client) error {
		resp.Mailboxes = resp.Mailboxes[:0]
		list, err := ic.List("", "*", nil).Collect()
		if err != nil {
			return err
		}
		exists := map[string]bool{}
		for _, l := range list {
			name := l.Mailbox
			if strings.EqualFold(name, "INBOX") {
				name = "INBOX"
			}
			if !slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) {
				exists[name] = true
			}
		}
		for _, mb := range granted {
			if !exists[mb] {
				continue
			}
			st, err := ic.Status(mb, &imap.StatusOptions{NumMessages: true, NumUnseen: true}).Wait()
			if err != nil {
				return err
			}
			info := MailboxInfo{Name: mb}
			if st.NumMessages != nil {
				info.Messages = *st.NumMessages
			}
			if st.NumUnseen != nil {
				info.Unseen = *st.NumUnseen
			}
			resp.Mailboxes = append(resp.Mailboxes, info)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

func (m *Module) search(c abi.Call, req, _ []byte) ([]byte, error) {
	var r SearchRequest
	if err := decodeStrict(req, &r); err != nil {
		return nil, err
	}
	crit, limit, err := searchCriteria(&r)
	if err != nil {
		return nil, err
	}
	a, err := m.account(c, r.Account, true)
	if err != nil {
		return nil, err
	}
	mb, err := checkMailbox(c, "mailbox", r.Mailbox, false)
	if err != nil {
		return nil, err
	}
	resp := SearchResponse{Mailbox: mb, Messages: []MessageSummary{}}
	err = m.withIMAP(c.Context(), a, func(ic *imapclient.Client) error {
		resp.Messages = resp.Messages[:0]
		if _, err := ic.Select(mb, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			return err
		}
		data, err := ic.UIDSearch(crit, nil).Wait()
		if err != nil {
			return err
		}
		uids := data.AllUIDs()
		slices.Sort(uids)
		resp.Total = len(uids)
		if len(uids) > limit {
			uids = uids[len(uids)-limit:]
		}
		if len(uids) == 0 {
			return nil
		}
		opts := &imap.FetchOptions{UID: true, Flags: true, Envelope: true, RFC822Size: true, InternalDate: true}
		if r.Preview {
			opts.BodySection = []*imap.FetchItemBodySection{{Peek: true, Partial: &imap.SectionPartial{Offset: 0, Size: previewFetchBytes}}}
		}
		msgs, err := ic.Fetch(imap.UIDSetNum(uids...), opts).Collect()
		if err != nil {
			return err
		}
		for _, msg := range msgs {
			s := MessageSummary{UID: uint32(msg.UID), Seen: hasFlag(msg.Flags, imap.FlagSeen), Size: msg.RFC822Size, From: []Address{}, To: []Address{}}
			s.Date = messageDate(msg)
			if env := msg.Envelope; env != nil {
				s.From, s.To, s.Subject = addresses(env.From), addresses(env.To), env.Subject
			}
			if r.Preview && len(msg.BodySection) > 0 {
				s.Preview = preview(msg.BodySection[0].Bytes, previewChars)
			}
			resp.Messages = append(resp.Messages, s)
		}
		slices.SortFunc(resp.Messages, func(x, y MessageSummary) int { return int(y.UID) - int(x.UID) })
		return nil
	})
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

func searchCriteria(r *SearchRequest) (*imap.SearchCriteria, int, error) {
	crit := &imap.SearchCriteria{}
	limit := r.Limit
	switch {
	case limit == 0:
		limit = DefaultSearchLimit
	case limit < 0 || limit > MaxSearchLimit:
		return nil, 0, abi.Errorf(abi.CodeInvalid, "limit %d: want 1-%d", r.Limit, MaxSearchLimit)
	}
	if r.Unseen {
		crit.NotFlag = append(crit.NotFlag, imap.FlagSeen)
	}
	if r.Since != "" {
		t, err := parseSince(r.Since)
		if err != nil {
			return nil, 0, err
		}
		crit.Since = t
	}
	for _, h := range []struct{ key, field, v string }{{"From", "from", r.From}, {"Subject", "subject", r.Subject}} {
		if h.v == "" {
			continue
		}
		if err := headerText(h.field, h.v, maxCriterionBytes); err != nil {
			return nil, 0, err
		}
		crit.Header = append(crit.Header, imap.SearchCriteriaHeaderField{Key: h.key, Value: h.v})
	}
	return crit, limit, nil
}

func parseSince(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
	}
	return time.Time{}, abi.Errorf(abi.CodeInvalid, "since %q: want a date like 2026-01-02 or an RFC 3339 time", s)
}

func (m *Module) fetch(c abi.Call, req, _ []byte) ([]byte, error) {
	var r FetchRequest
	if err := decodeStrict(req, &r); err != nil {
		return nil, err
	}
	if r.UID == 0 {
		return nil, abi.Errorf(abi.CodeInvalid, "uid: required (a positive message UID from search)")
	}
	a, err := m.account(c, r.Account, true)
	if err != nil {
		return nil, err
	}
	mb, err := checkMailbox(c, "mailbox", r.Mailbox, false)
	if err != nil {
		return nil, err
	}
	body := r.Body == nil || *r.Body
	section := &imap.FetchItemBodySection{Peek: true, Partial: &imap.SectionPartial{Offset: 0, Size: m.opts.MaxMessageBytes}}
	if !body {
		section = &imap.FetchItemBodySection{Peek: true, Specifier: imap.PartSpecifierHeader}
	}
	var msg *imapclient.FetchMessageBuffer
	err = m.withIMAP(c.Context(), a, func(ic *imapclient.Client) error {
		if _, err := ic.Select(mb, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			return err
		}
		msgs, err := ic.Fetch(imap.UIDSetNum(imap.UID(r.UID)), &imap.FetchOptions{
			UID: true, Flags: true, Envelope: true, RFC822Size: true, InternalDate: true,
			BodySection: []*imap.FetchItemBodySection{section},
		}).Collect()
		if err != nil {
			return err
		}
		for _, x := range msgs {
			if uint32(x.UID) == r.UID {
				msg = x
			}
		}
		if msg == nil {
			return abi.Errorf(abi.CodeNotFound, "no message with uid %d in mailbox %q", r.UID, mb)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var raw []byte
	if len(msg.BodySection) > 0 {
		raw = msg.BodySection[0].Bytes
	}
	p := parseMessage(raw, parseLimits{text: m.opts.MaxTextBytes, attachment: m.opts.MaxAttachmentBytes, content: r.Attachments, headerOnly: !body})
	resp := FetchResponse{
		Mailbox: mb, UID: r.UID, Seen: hasFlag(msg.Flags, imap.FlagSeen), Size: msg.RFC822Size, Date: messageDate(msg),
		From: []Address{}, To: []Address{}, Flags: []string{}, Headers: p.Headers,
		Text: p.Text, TextTruncated: p.TextTruncated, HTML: p.HTML, HTMLTruncated: p.HTMLTruncated, Attachments: p.Attachments,
		Truncated: body && msg.RFC822Size > m.opts.MaxMessageBytes,
	}
	for _, f := range msg.Flags {
		resp.Flags = append(resp.Flags, string(f))
	}
	if env := msg.Envelope; env != nil {
		resp.MessageID = env.MessageID
		if resp.MessageID != "" && !strings.HasPrefix(resp.MessageID, "<") {
			resp.MessageID = "<" + resp.MessageID + ">"
		}
		resp.From, resp.To, resp.Cc, resp.ReplyTo = addresses(env.From), addresses(env.To), addresses(env.Cc), addresses(env.ReplyTo)
		resp.Subject = env.Subject
	}
	if p.Err != nil {
		resp.ParseError = p.Err.Error()
	}
	return json.Marshal(resp)
}

// uidSet validates a UID list.
func uidSet(uids []uint32) (imap.UIDSet, error) {
	if len(uids) == 0 {
		return nil, abi.Errorf(abi.CodeInvalid, "uids: at least one UID is required")
	}
	if len(uids) > maxUIDs {
		return nil, abi.Errorf(abi.CodeInvalid, "uids: %d given, at most %d", len(uids), maxUIDs)
	}
	set := imap.UIDSet{}
	for _, u := range uids {
		if u == 0 {
			return nil, abi.Errorf(abi.CodeInvalid, "uids: 0 is not a message UID")
		}
		set.AddNum(imap.UID(u))
	}
	return set, nil
}

// existing returns the UIDs of set present in the selected mailbox.
func existing(ic *imapclient.Client, set imap.UIDSet) ([]imap.UID, error) {
	data, err := ic.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{set}}, nil).Wait()
	if err != nil {
		return nil, err
	}
	uids := data.AllUIDs()
	slices.Sort(uids)
	return uids, nil
}

// modifyUIDs is the shared body of mark-seen and move: it checks the UID
// list, the account and the (modify-granted) mailbox, selects the mailbox
// and runs act on the UIDs of the list that exist there (act is not called
// when none do). It returns the UIDs act ran on.
func (m *Module) modifyUIDs(c abi.Call, account, mailbox string, uidList []uint32, check func(mb string) error, act func(ic *imapclient.Client, uids []imap.UID) error) (string, []uint32, error) {
	set, err := uidSet(uidList)
	if err != nil {
		return "", nil, err
	}
	a, err := m.account(c, account, true)
	if err != nil {
		return "", nil, err
	}
	mb, err := checkMailbox(c, "mailbox", mailbox, true)
	if err != nil {
		return "", nil, err
	}
	if check != nil {
		if err := check(mb); err != nil {
			return "", nil, err
		}
	}
	done := []uint32{}
	err = m.withIMAP(c.Context(), a, func(ic *imapclient.Client) error {
		done = done[:0]
		if _, err := ic.Select(mb, nil).Wait(); err != nil {
			return err
		}
		uids, err := existing(ic, set)
		if err != nil || len(uids) == 0 {
			return err
		}
		if err := act(ic, uids); err != nil {
			return err
		}
		done = uint32s(uids)
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	return mb, done, nil
}

func (m *Module) markSeen(c abi.Call, req, _ []byte) ([]byte, error) {
	var r MarkSeenRequest
	if err := decodeStrict(req, &r); err != nil {
		return nil, err
	}
	mb, uids, err := m.modifyUIDs(c, r.Account, r.Mailbox, r.UIDs, nil, func(ic *imapclient.Client, uids []imap.UID) error {
		store := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}
		return ic.Store(imap.UIDSetNum(uids...), store, nil).Close()
	})
	if err != nil {
		return nil, err
	}
	c.Logger().Info("mail marked seen", "mailbox", mb, "count", len(uids))
	return json.Marshal(MarkSeenResponse{UIDs: uids})
}

func (m *Module) move(c abi.Call, req, _ []byte) ([]byte, error) {
	var r MoveRequest
	if err := decodeStrict(req, &r); err != nil {
		return nil, err
	}
	var to string
	check := func(mb string) error {
		var err error
		if to, err = checkMailbox(c, "to", r.To, true); err != nil {
			return err
		}
		if to == mb {
			return abi.Errorf(abi.CodeInvalid, "to %q: same as mailbox", r.To)
		}
		return nil
	}
	mb, uids, err := m.modifyUIDs(c, r.Account, r.Mailbox, r.UIDs, check, func(ic *imapclient.Client, uids []imap.UID) error {
		_, err := ic.Move(imap.UIDSetNum(uids...), to).Wait()
		return err
	})
	if err != nil {
		return nil, err
	}
	c.Logger().Info("mail moved", "mailbox", mb, "to", to, "count", len(uids))
	return json.Marshal(MoveResponse{Moved: uids})
}

func uint32s(uids []imap.UID) []uint32 {
	out := make([]uint32, len(uids))
	for i, u := range uids {
		out[i] = uint32(u)
	}
	return out
}

func hasFlag(flags []imap.Flag, f imap.Flag) bool {
	for _, x := range flags {
		if strings.EqualFold(string(x), string(f)) {
			return true
		}
	}
	return false
}

func addresses(in []imap.Address) []Address {
	out := make([]Address, 0, len(in))
	for _, a := range in {
		if a.IsGroupStart() || a.IsGroupEnd() {
			continue
		}
		out = append(out, Address{Name: a.Name, Address: a.Addr()})
	}
	return out
}

// messageDate is the Date header, or the server's internal date when the
// header is missing, as RFC 3339.
func messageDate(msg *imapclient.FetchMessageBuffer) string {
	t := msg.InternalDate
	if msg.Envelope != nil && !msg.Envelope.Date.IsZero() {
		t = msg.Envelope.Date
	}
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

// policyMailboxes is the mailboxes a policy grants for reading.
func policyMailboxes(p *policy.Policy) []string {
	if p == nil || p.Mail == nil {
		return nil
	}
	return p.Mail.Mailboxes
}
