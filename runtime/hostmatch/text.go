package hostmatch

// MarshalText prints the canonical pattern, so lists serialise as strings
// in JSON (reef inspect, the API).
func (p Pattern) MarshalText() ([]byte, error) { return []byte(p.String()), nil }
