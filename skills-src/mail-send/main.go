//go:build wasip1

// Command mail-send is a reef skill: send one e-mail through an account
// the operator configured (reef_mail_send). The skill never sees the
// account's credentials and cannot choose the sender; every recipient is
// checked against the operator's grant by the host.
package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	reef "github.com/reefhq/reef/pdk/go"
)

type attachment struct {
	Name          string `json:"name"`
	ContentBase64 string `json:"content_base64"`
	Type          string `json:"type"`
}

type input struct {
	Account     string       `json:"account"`
	To          []string     `json:"to"`
	Cc          []string     `json:"cc"`
	Bcc         []string     `json:"bcc"`
	Subject     string       `json:"subject"`
	Text        string       `json:"text"`
	HTML        string       `json:"html"`
	Attachments []attachment `json:"attachments"`
}

type output struct {
	MessageID string `json:"message_id"`
}

func send(in input) (output, error) {
	switch {
	case len(in.To) == 0:
		return output{}, errors.New(`"to" needs at least one recipient`)
	case in.Text == "" && in.HTML == "":
		return output{}, errors.New(`give a body: "text", "html" or both`)
	}
	m := reef.Mail{Account: in.Account, To: in.To, Cc: in.Cc, Bcc: in.Bcc, Subject: in.Subject, Text: in.Text, HTML: in.HTML}
	for i, a := range in.Attachments {
		if strings.TrimSpace(a.Name) == "" {
			return output{}, fmt.Errorf("attachments[%d]: \"name\" is required", i)
		}
		b, err := decodeBase64(a.ContentBase64)
		if err != nil {
			return output{}, fmt.Errorf("attachments[%d] (%s): content_base64: %w", i, a.Name, err)
		}
		m.Attachments = append(m.Attachments, reef.Attachment{Name: a.Name, Type: a.Type, Content: b})
	}
	id, err := reef.MailSend(m)
	if err != nil {
		return output{}, fmt.Errorf("sending %q: %w", in.Subject, err)
	}
	return output{MessageID: id}, nil
}

// decodeBase64 accepts standard base64 with or without padding, and line
// breaks (as mail tools wrap it).
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s)
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("not valid base64: %w", err)
	}
	return b, nil
}

//lint:ignore U1000 exported to the host
//go:wasmexport send
func sendExport() int32 { return reef.Run(send) }

func main() {}
