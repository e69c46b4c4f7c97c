package reef

import (
	"encoding/json"
	"reflect"
	"testing"
)

func parse(t *testing.T, s string) any {
	t.Helper()
	v, err := ParseJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestResponseParsers(t *testing.T) {
	fi := fileInfoOf(jObj(parse(t, `{"name":"a.txt","path":"/data/a.txt","size":5,"dir":false,"type":"file","mode":"0644","mtime":"2026-01-01T00:00:00Z"}`)))
	if fi != (FileInfo{Name: "a.txt", Path: "/data/a.txt", Size: 5, Type: "file", Mode: "0644", Mtime: "2026-01-01T00:00:00Z"}) {
		t.Fatalf("%+v", fi)
	}
	rr, err := parseRunResult(parse(t, `{"completed":1,"results":[{"step":0,"action":"text","ok":true,"text":"hi"},
		{"step":1,"action":"attr","ok":false,"exists":false,"png":"aGk=","error":{"code":"not_found","message":"no element"}}]}`))
	if err != nil || rr.Completed != 1 || len(rr.Results) != 2 || rr.Results[0].Text != "hi" || *rr.Results[1].Exists ||
		string(rr.Results[1].PNG) != "hi" || rr.Results[1].Err.Code != "not_found" {
		t.Fatalf("%+v %v", rr, err)
	}
	if _, err := parseRunResult(parse(t, `[]`)); err == nil {
		t.Fatal("a non-object run result was accepted")
	}
	sr := parseSearchResult(jObj(parse(t, `{"mailbox":"INBOX","total":3,"messages":[{"uid":42,"from":[{"name":"Al","address":"al@x.example"}],"subject":"s","seen":true,"size":10}]}`)))
	if sr.Total != 3 || sr.Messages[0].UID != 42 || sr.Messages[0].From[0] != (Address{"Al", "al@x.example"}) || !sr.Messages[0].Seen {
		t.Fatalf("%+v", sr)
	}
	m := parseMessage(jObj(parse(t, `{"uid":7,"subject":"x","flags":["\\Seen"],"headers":{"Received":["a","b"]},"attachments":[{"name":"f","size":2,"content_base64":"aGk="}]}`)))
	if m.UID != 7 || !reflect.DeepEqual(m.Flags, []string{`\Seen`}) || !reflect.DeepEqual(m.Headers["Received"], []string{"a", "b"}) || string(m.Attachments[0].Content) != "hi" {
		t.Fatalf("%+v", m)
	}
	if got := jUints(jObj(parse(t, `{"u":[1,2,"x"]}`)), "u"); !reflect.DeepEqual(got, []uint32{1, 2}) {
		t.Fatalf("%v", got)
	}
	if !jBool(jObj(parse(t, `{"b":true}`)), "b") {
		t.Fatal("jBool")
	}
}

func TestRequestJSON(t *testing.T) {
	q := MailQuery{Mailbox: "INBOX", Unseen: true, Limit: 5}
	var m map[string]any
	if err := json.Unmarshal(q.json(), &m); err != nil || !reflect.DeepEqual(m, map[string]any{"mailbox": "INBOX", "unseen": true, "limit": 5.0}) {
		t.Fatalf("%s %v", q.json(), err)
	}
	fr := FetchRequest{Mailbox: "INBOX", UID: 9, Body: true}
	if got := string(fr.json()); got != `{"mailbox":"INBOX","uid":9,"body":true,"attachments":false}` {
		t.Fatal(got)
	}
	if got := string(newObj().str("mailbox", "INBOX").uints("uids", []uint32{1, 2}).bytes()); got != `{"mailbox":"INBOX","uids":[1,2]}` {
		t.Fatal(got)
	}
}
