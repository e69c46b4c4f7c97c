// Package metrics defines every Prometheus series reef exports and hands
// the rest of the daemon typed handles to update them.
//
// New registers everything on the Registerer it is given (never the global
// default registry): the process and Go collectors, reef's counters,
// gauges and histogram, and collectors that read engine and registry
// statistics at scrape time (instances per skill, skills loaded), so those
// numbers are never stale and cost nothing between scrapes.
//
// # Label cardinality
//
// Every label value is bounded. skill and function come only from the
// loaded registry: the server passes Other for a name that did not resolve
// to a loaded skill or function, so a client probing random names never
// creates a series. outcome is the closed Outcome enum; capability is the
// closed set of policy capability names. When a skill is removed its series
// are deleted (Forget).
//
// All methods are safe on a nil *Metrics, which discards everything, so
// callers need no "if metrics != nil" branches.
package metrics
