// Package policy decides what a skill may really do: the operator's grants
// (grants.yaml) intersected with what the skill's manifest requests.
//
// It sits between the skill bundle and the capabilities: runtime/skill
// parses what a skill requests, the registry pairs each loaded skill with
// its Grant and calls Compute, and every host function (hostfuncs/*) asks
// the resulting *Policy before it touches a file, a host, a mailbox or the
// key-value store.
//
// # Basics
//
// Effective = requested ∩ granted. Compute(skill, grant, recorder) returns
// a *Policy whose decision methods (CheckHTTP, CheckBrowser, CheckEval,
// Mount/Resolve, CheckKV, CheckSecret, MailAccount, CheckRecipient,
// CheckMailbox) return nil or a *Denial naming the skill, the capability,
// the value and the rule that refused it, with an ID. Every decision, allow
// or deny, is handed to the Recorder: the audit log (Audit) and the metrics
// hook, fanned out with Recorders. A decision taken elsewhere (the http
// capability refusing a private address after DNS) goes through Deny and
// Allow so it is recorded the same way.
//
// grants.yaml is read with LoadGrants (strict: unknown keys, wrong types
// and bad values are errors with file, line and field; a missing file
// grants nothing) and edited with UpdateGrants, which locks the file, hands
// a copy of the grants to a function (use the Grant helpers: AddHTTPHost,
// AddFS, SetKV, RemoveBrowserHost, RevokeAll…), validates the result and
// writes it atomically while keeping the user's comments. README-grants.md
// in this directory documents the format.
//
// # Caveats
//
// A Policy is immutable and safe for concurrent use; a grants change builds
// a new one. Host functions never see grants or manifests directly, only
// the Policy's decision methods. A nil *Policy denies everything.
//
// Guest paths are cleaned lexically before matching ("/data/../etc" is
// "/etc", outside /data), so the caller must open the path Resolve returns
// (relative to the mount), never the raw guest string; symlinks inside the
// host directory are the fs capability's business (os.Root).
//
// Host patterns come from runtime/hostmatch: a name pattern, even "*",
// never admits an IP literal; only a pattern that names the address does.
//
// The audit log never blocks a call: when its queue is full, entries are
// dropped, counted (Audit.Stats) and reported by a "dropped" line. Allowed
// filesystem and key-value operations are recorded too, so a busy skill
// makes a busy log.
package policy
