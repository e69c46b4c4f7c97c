// Package hosthttp is reef's outbound HTTP capability: the reef_http_fetch
// host function, the Extism kernel's http_request, and the guarded dialer
// that the browser capability reuses for its filtering proxy.
//
// # What is checked, and where
//
//   - Every URL host is normalised by ParseHost before anything else: the
//     legacy IPv4 spellings browsers and libc accept (2130706433, 0177.0.0.1,
//     0x7f.1, 127.1), IPv4-mapped IPv6 and zoned IPv6 are parsed as the
//     address they mean (or refused), so the allowlist and the address rules
//     see one spelling only.
//   - The policy (requested ∩ granted hosts, ports, methods) decides the
//     first request and every redirect hop (Policy.CheckHTTP).
//   - Every connection goes through Guard.DialContext: it resolves the name
//     itself, refuses loopback, private, link-local, CGNAT, multicast,
//     metadata and translated (IPv4-mapped, NAT64, 6to4, Teredo) addresses
//     unless the host was granted as that literal address, and connects to
//     the address it checked — there is no second resolution, so DNS
//     rebinding cannot swap the address between check and connect.
//   - Limits: response bytes, time, redirects, requests per guest call,
//     request body and header sizes. Header names and values with CR, LF,
//     NUL or other control bytes, and hop-by-hop headers, are refused.
//   - Secrets: {{secret:NAME}} in a request header value is replaced
//     host-side after Policy.CheckSecret allows NAME for that hop; a redirect
//     to another origin drops those headers; any echo of an injected value
//     in the response is redacted before the guest sees it.
//
// Plain http requests are sent on the calling goroutine by inlineTransport
// (net/http's request writer and response parser, reef's pool); https goes
// through net/http's Transport. README.md explains why.
//
// The response layout the PDKs parse is documented in README.md.
package hosthttp
