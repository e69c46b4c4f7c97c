//go:build wasip1

// Command hostile_go is a hostile reef skill in Go: it attacks the
// filesystem through WASI (os.ReadFile, os.Symlink, os.Link…) and through
// the Go PDK, and reports exactly what it got back so the test can assert
// the refusal.
package main

import (
	"encoding/json"
	"errors"
	"os"

	reef "github.com/reefhq/reef/pdk/go"
)

type req struct {
	Op      string            `json:"op"`
	Path    string            `json:"path"`
	Target  string            `json:"target"`
	Content string            `json:"content"`
	N       int               `json:"n"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
}

// res is what every export answers: OK with Data, or the error text and,
// for a capability error, the error document's fields.
type res struct {
	OK         bool     `json:"ok"`
	Data       string   `json:"data,omitempty"`
	Seen       []string `json:"seen,omitempty"`
	Reads      int      `json:"reads,omitempty"`
	Err        string   `json:"err,omitempty"`
	Code       string   `json:"code,omitempty"`
	Capability string   `json:"capability,omitempty"`
	Value      string   `json:"value,omitempty"`
	ID         string   `json:"id,omitempty"`
	Status     int      `json:"status,omitempty"`
}

func fail(err error) res {
	r := res{Err: err.Error()}
	var e *reef.Error
	if errors.As(err, &e) {
		r.Code, r.Capability, r.Value, r.ID = e.Code, e.Capability, e.Value, e.ID
	}
	return r
}

func run(in req) (res, error) {
	switch in.Op {
	case "read":
		b, err := os.ReadFile(in.Path)
		if err != nil {
			return fail(err), nil
		}
		return res{OK: true, Data: string(b)}, nil
	case "write":
		if err := os.WriteFile(in.Path, []byte(in.Content), 0o644); err != nil {
			return fail(err), nil
		}
		return res{OK: true}, nil
	case "symlink", "link":
		f := os.Symlink
		if in.Op == "link" {
			f = os.Link
		}
		if err := f(in.Target, in.Path); err != nil {
			return fail(err), nil
		}
		b, err := os.ReadFile(in.Path)
		if err != nil {
			return fail(err), nil
		}
		return res{OK: true, Data: string(b)}, nil
	case "readdir":
		ents, err := os.ReadDir(in.Path)
		if err != nil {
			return fail(err), nil
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return res{OK: true, Seen: names}, nil
	case "readloop":
		seen := map[string]bool{}
		r := res{OK: true}
		for i := 0; i < in.N; i++ {
			b, err := os.ReadFile(in.Path)
			if err != nil {
				continue
			}
			r.Reads++
			if !seen[string(b)] && len(seen) < 16 {
				seen[string(b)] = true
				r.Seen = append(r.Seen, string(b))
			}
		}
		return r, nil
	case "pdk_read":
		b, err := reef.ReadFile(in.Path)
		if err != nil {
			return fail(err), nil
		}
		return res{OK: true, Data: string(b)}, nil
	case "pdk_write":
		if err := reef.WriteFile(in.Path, []byte(in.Content), false); err != nil {
			return fail(err), nil
		}
		return res{OK: true}, nil
	case "fetch":
		resp, err := reef.Fetch(reef.HTTPRequest{URL: in.URL, Headers: in.Headers})
		if err != nil {
			return fail(err), nil
		}
		hdr, _ := json.Marshal(resp.Headers)
		return res{OK: true, Status: resp.Status, Data: string(resp.Body), Seen: []string{string(hdr), resp.URL}}, nil
	case "kv_set":
		if err := reef.KVSet(in.Path, []byte(in.Content)); err != nil {
			return fail(err), nil
		}
		return res{OK: true}, nil
	case "kv_get":
		b, err := reef.KVGet(in.Path)
		if err != nil {
			return fail(err), nil
		}
		return res{OK: true, Data: string(b)}, nil
	}
	return res{}, errors.New("unknown op " + in.Op)
}

//lint:ignore U1000 exported to the host
//go:wasmexport attack
func attack() int32 { return reef.Run(run) }

func main() {}
