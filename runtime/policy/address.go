package policy

import (
	"fmt"
	"strings"
)

// Recipient addresses are matched on a deliberately narrow grammar: one
// "@", a local part of letters, digits and ".+-_=" (no quotes, no "%" or
// "!" relay hacks, no source routes), and an ASCII DNS domain. Anything
// else is refused before any pattern is looked at, so a string that a mail
// server might read differently from this matcher ("x@evil.com@corp.example",
// "\"x@evil\"@corp.example", "x%evil.com@corp.example") never matches.

// splitAddress validates a bare addr-spec and returns its lower-case local
// part and domain.
func splitAddress(addr string) (local, domain string, err error) {
	a := strings.ToLower(strings.TrimSpace(addr))
	if strings.Count(a, "@") != 1 {
		return "", "", fmt.Errorf("address %q must contain exactly one @", addr)
	}
	at := strings.IndexByte(a, '@')
	local, domain = a[:at], strings.TrimSuffix(a[at+1:], ".")
	if !validLocal(local) {
		return "", "", fmt.Errorf("address %q: local part must be letters, digits and . + - _ = only", addr)
	}
	if !validDomain(domain) {
		return "", "", fmt.Errorf("address %q: %q is not a DNS domain", addr, domain)
	}
	return local, domain, nil
}

// parseAddressPattern validates a recipient pattern: "user@domain",
// "*@domain" or "*@*.domain" (and "user@*.domain").
func parseAddressPattern(pat string) (local, domain string, err error) {
	p := strings.ToLower(strings.TrimSpace(pat))
	if strings.Count(p, "@") != 1 {
		return "", "", fmt.Errorf("recipient pattern %q must contain exactly one @ (user@domain, *@domain or *@*.domain)", pat)
	}
	at := strings.IndexByte(p, '@')
	local, domain = p[:at], p[at+1:]
	if local != "*" && !validLocal(local) {
		return "", "", fmt.Errorf("recipient pattern %q: local part must be * or letters, digits and . + - _ =", pat)
	}

	if !validDomain(strings.TrimPrefix(domain, "*.")) {
		return "", "", fmt.Errorf("recipient pattern %q: %q is not a domain or *.domain", pat, domain)
	}
	return local, domain, nil
}

func validLocal(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte(".+-_=", c) >= 0) {
			return false
		}
	}
	return true
}

func validDomain(s string) bool {
	if s == "" || len(s) > 253 || !strings.Contains(s, ".") && s != "localhost" {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	last := s[strings.LastIndexByte(s, '.')+1:]
	allDigits := true
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			allDigits = false
		}
	}
	return !allDigits // "10.0.0.1" is an address, not a domain
}

// matchAddress matches a recipient against patterns: "*@host",
// "*@*.host", "user@host", "user@*.host", all case-insensitive. The
// address itself must pass the narrow grammar above first.
func matchAddress(patterns []string, addr string) bool {
	local, domain, err := splitAddress(addr)
	if err != nil {
		return false
	}
	for _, pat := range patterns {
		pl, pd, err := parseAddressPattern(pat)
		if err != nil {
			continue
		}
		if pl != "*" && pl != local {
			continue
		}
		switch {
		case pd == domain:
			return true
		case strings.HasPrefix(pd, "*.") && strings.HasSuffix(domain, pd[1:]) && len(domain) > len(pd)-1:
			return true
		}
	}
	return false
}

// sameMailbox compares IMAP mailbox names: exact, except that INBOX is
// case-insensitive (RFC 3501 section 5.1).
func sameMailbox(a, b string) bool {
	return a == b || strings.EqualFold(a, "INBOX") && strings.EqualFold(b, "INBOX")
}

// AnyRecipient is the manifest pattern for "any recipient the operator
// grants". It is valid only on the requesting side: a grant must name its
// domains.
const AnyRecipient = "*@*"

// matchRequested is matchAddress for a skill's requested patterns, where
// AnyRecipient admits every well-formed address.
func matchRequested(patterns []string, addr string) bool {
	for _, p := range patterns {
		if strings.TrimSpace(p) == AnyRecipient {
			_, _, err := splitAddress(addr)
			return err == nil
		}
	}
	return matchAddress(patterns, addr)
}
