// Package jsonstr appends Go strings to a buffer as JSON strings, byte for
// byte as encoding/json encodes them, without reflection or allocation;
// the audit log and the http capability's response head use it on hot
// paths.
package jsonstr
