// Package hostmatch parses and matches host allowlist patterns
// ("example.org", "*.example.org", "example.org:8443",
// "http://127.0.0.1:8080"). It is shared by the skill manifest validator,
// the policy and the http and browser capabilities, so a host means the same
// thing everywhere.
package hostmatch
