// Package hostkv is reef's key-value capability: a per-skill namespace in
// one bbolt file, with a value cap and a per-skill total quota.
//
// # Layout
//
// Every skill gets one top-level bucket named after it. Inside it, the
// user's keys live in a nested bucket ("data") and a 16-byte metadata record
// ("meta") holds the key count and the total bytes (keys + values), updated
// in the same transaction as every write, so the quota check is O(1) and a
// crash can never leave the count out of step with the data. A reserved
// top-level bucket whose name starts with NUL holds the file's format
// version; skill names containing NUL are refused, so no skill can reach it.
// Separate buckets are what make namespaces airtight: no key, prefix or
// cursor of one skill can address another skill's bucket.
//
// # Quota
//
// The quota is policy.Policy.CheckKV (requested ∩ granted); a skill without
// a kv grant gets a *policy.Denial (code "denied") for every operation. A
// write fails with code "limit", and writes nothing, when its value is over
// Options.MaxValueBytes or when it would raise the namespace's total above
// the quota. A write that does not raise the total (overwriting with a
// smaller value) is always allowed, so a skill whose quota was lowered can
// still shrink its data.
//
// # Durability
//
// Every write is one bbolt update transaction, which fsyncs before the
// handler returns: a value the guest was told is stored survives a crash or
// kill -9, and a write cut short leaves the previous value. The file is
// created 0600 and locked; a second process opening it gets ErrLocked after
// Options.LockTimeout instead of hanging.
//
// The guest-visible request and response formats are in README.md.
package hostkv
