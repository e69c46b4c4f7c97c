// Package policy decides what a skill may really do: the operator's grants
// (grants.yaml) intersected with what the skill's manifest requests.
//
// Effective = requested ∩ granted. Anything else is denied with a *Denial
// naming the skill, the capability and the value; every decision a
// capability asks for is written to the audit log and reported to an
// optional counter hook (metrics).
//
// # Caveats
//
// A Policy is immutable and safe for concurrent use; a grants change builds
// a new one. Host functions never see grants or manifests directly, only the
// Policy's decision methods.
package policy
