package skill_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/reefhq/reef/runtime/skill"
)

func TestParseManifestGood(t *testing.T) {
	in := `
wasm: m.wasm
functions:
  - name: extract
    description: Visible text.
    input: { type: object, required: [url], properties: { url: { type: string }, n: { type: integer, maximum: 0x10 } } }
  - name: _raw2
    input: true
capabilities:
  fs: { "/": ro, "/data/in": rw }
  http: { hosts: ["*.example.org", "[::1]:8080", "http://127.0.0.1:9000"], methods: [GET, POST, OPTIONS] }
  browser: { hosts: ["*"], eval: true }
  mail: { send: { to: ["*@example.org", "a.b+c@mail.example.net", "*@*.example.com"] }, read: { mailboxes: [INBOX, "Sent Items"] } }
  kv: { quota: 65536 }
  secrets: [TOKEN, A1_B]
limits: { memory: 64KiB, timeout: 1ms, output: 1 }
`
	got, err := skill.ParseManifest("reef.yaml", []byte(in))
	if err != nil {
		t.Fatalf("ParseManifest: %v", err)
	}
	want := skill.Manifest{
		Wasm: "m.wasm",
		Functions: []skill.Function{
			{Name: "extract", Description: "Visible text.", Input: json.RawMessage(`{"properties":{"n":{"maximum":16,"type":"integer"},"url":{"type":"string"}},"required":["url"],"type":"object"}`)},
			{Name: "_raw2", Input: json.RawMessage(`true`)},
		},
		Capabilities: skill.Capabilities{
			FS:      map[string]skill.Access{"/": skill.ReadOnly, "/data/in": skill.ReadWrite},
			HTTP:    &skill.HTTPRequest{Hosts: []string{"*.example.org", "[::1]:8080", "http://127.0.0.1:9000"}, Methods: []string{"GET", "POST", "OPTIONS"}},
			Browser: &skill.BrowserRequest{Hosts: []string{"*"}, Eval: true},
			Mail: &skill.MailRequest{
				Send: &skill.MailSend{To: []string{"*@example.org", "a.b+c@mail.example.net", "*@*.example.com"}},
				Read: &skill.MailRead{Mailboxes: []string{"INBOX", "Sent Items"}},
			},
			KV:      &skill.KVRequest{Quota: 65536},
			Secrets: []string{"TOKEN", "A1_B"},
		},
		Limits:    skill.Limits{Memory: 64 << 10, Timeout: skill.Duration(time.Millisecond), Output: 1},
		Isolation: skill.IsolationPooled,
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("manifest =\n%s\nwant\n%s", g, w)
	}
}

func TestParseManifestDefaults(t *testing.T) {
	got, err := skill.ParseManifest("reef.yaml", []byte("wasm: a.wasm\nfunctions: [{name: f}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Isolation != skill.IsolationPooled {
		t.Errorf("Isolation = %q, want pooled", got.Isolation)
	}
	if got.Limits != (skill.Limits{}) {
		t.Errorf("Limits = %+v, want zero (the policy fills defaults)", got.Limits)
	}
	if got.Functions[0].Input != nil {
		t.Errorf("Input = %s, want nil", got.Functions[0].Input)
	}
	got, err = skill.ParseManifest("reef.yaml", []byte("wasm: a.wasm\nfunctions: [{name: f}]\nlimits: {memory: 4GiB, timeout: 10m, output: 1GiB}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Limits.Memory != skill.MaxMemory || time.Duration(got.Limits.Timeout) != 10*time.Minute || got.Limits.Output != 1<<30 {
		t.Errorf("Limits = %+v, want the maxima", got.Limits)
	}
}

func TestParseManifestRules(t *testing.T) {
	const head = "wasm: m.wasm\nfunctions: [{name: f}]\n" // lines 1-2
	tests := []struct {
		name string
		in   string
		want []string
	}{
		// whole file
		{"empty", "", []string{"reef.yaml: the manifest is empty"}},
		{"only a comment", "# nothing\n", []string{"the manifest is empty"}},
		{"not a map", "- a\n", []string{"reef.yaml:1: must be a map, not a list"}},
		{"invalid YAML", "wasm: m.wasm\nfunctions: [\n", []string{"reef.yaml:", "invalid YAML"}},
		{"two documents", head + "---\nwasm: x\n", []string{"exactly one YAML document"}},
		{"non-UTF-8", head + "isolation: \xc0\xaf\n", []string{"reef.yaml:3:", "not valid UTF-8"}},
		{"anchor and alias", "wasm: &w m.wasm\nfunctions: [{name: f, description: *w}]\n", []string{"reef.yaml:1:", "anchors and aliases"}},
		{"custom tag", head + "isolation: !pooled pooled\n", []string{"reef.yaml:3:", "tag !pooled is not allowed"}},
		{"unknown top-level key", head + "capabilites: {}\n", []string{"reef.yaml:3: capabilites: unknown key", "allowed: wasm, functions, capabilities, limits, isolation"}},
		{"duplicate top-level key", head + "wasm: n.wasm\n", []string{"reef.yaml:3: wasm: duplicate key"}},
		{"wasm missing", "functions: [{name: f}]\n", []string{"reef.yaml:1: wasm: is required"}},
		{"functions missing", "wasm: m.wasm\n", []string{"functions: is required"}},
		// wasm
		{"wasm empty", "wasm: ''\nfunctions: [{name: f}]\n", []string{"reef.yaml:1: wasm: must name the module file"}},
		{"wasm null", "wasm:\nfunctions: [{name: f}]\n", []string{"wasm: must be a string, not empty"}},
		{"wasm absolute", "wasm: /etc/m.wasm\nfunctions: [{name: f}]\n", []string{"wasm:", "not an absolute path"}},
		{"wasm parent", "wasm: ../other/m.wasm\nfunctions: [{name: f}]\n", []string{"wasm:", `".." is not allowed`}},
		{"wasm parent inside", "wasm: bin/../../m.wasm\nfunctions: [{name: f}]\n", []string{`".." is not allowed`}},
		{"wasm backslash", "wasm: 'bin\\m.wasm'\nfunctions: [{name: f}]\n", []string{"backslashes are not allowed"}},
		{"wasm drive letter", "wasm: 'C:/m.wasm'\nfunctions: [{name: f}]\n", []string{"not an absolute path"}},
		{"wasm not clean", "wasm: bin//m.wasm\nfunctions: [{name: f}]\n", []string{"not a clean path"}},
		{"wasm dot", "wasm: .\nfunctions: [{name: f}]\n", []string{"not a clean path"}},
		{"wasm a list", "wasm: [a]\nfunctions: [{name: f}]\n", []string{"wasm: must be a string, not a list"}},
		// functions
		{"functions empty", "wasm: m.wasm\nfunctions: []\n", []string{"reef.yaml:2: functions: must declare at least one function"}},
		{"functions a map", "wasm: m.wasm\nfunctions: {f: {}}\n", []string{"functions: must be a list of functions"}},
		{"function not a map", "wasm: m.wasm\nfunctions: [f]\n", []string{"functions[0]: must be a map"}},
		{"function name missing", "wasm: m.wasm\nfunctions:\n  - description: d\n", []string{"reef.yaml:3: functions[0].name: is required"}},
		{"function name invalid", "wasm: m.wasm\nfunctions:\n  - name: 1f\n", []string{"reef.yaml:3: functions[0].name:", "^[A-Za-z_][A-Za-z0-9_]*$"}},
		{"function name hyphen", "wasm: m.wasm\nfunctions:\n  - name: a-b\n", []string{"functions[0].name:"}},
		{"function name too long", "wasm: m.wasm\nfunctions:\n  - name: " + strings.Repeat("f", 129) + "\n", []string{"at most 128 characters"}},
		{"function name duplicate", "wasm: m.wasm\nfunctions:\n  - name: f\n  - name: f\n", []string{"reef.yaml:4: functions[1].name: duplicate function \"f\" (first declared on line 3)"}},
		{"function unknown key", "wasm: m.wasm\nfunctions:\n  - name: f\n    output: {}\n", []string{"reef.yaml:4: functions[0].output: unknown key", "allowed: name, description, input"}},
		{"function description a map", "wasm: m.wasm\nfunctions:\n  - name: f\n    description: {a: b}\n", []string{"functions[0].description: must be a string"}},
		// input schemas
		{"input not a schema", "wasm: m.wasm\nfunctions:\n  - name: f\n    input: object\n", []string{"reef.yaml:4: functions[0].input: must be a JSON Schema"}},
		{"input null", "wasm: m.wasm\nfunctions:\n  - name: f\n    input:\n", []string{"functions[0].input: must be a JSON Schema", "not empty"}},
		{"input bad type", "wasm: m.wasm\nfunctions:\n  - name: f\n    input: {type: objekt}\n", []string{"reef.yaml:4: functions[0].input: is not a valid JSON Schema"}},
		{"input bad nested", "wasm: m.wasm\nfunctions:\n  - name: f\n    input:\n      type: object\n      properties:\n        n: {minimum: ten}\n", []string{"functions[0].input: is not a valid JSON Schema", "minimum"}},
		{"input bad pattern", "wasm: m.wasm\nfunctions:\n  - name: f\n    input: {type: string, pattern: '(?<=a)b'}\n", []string{"is not a valid JSON Schema"}},
		{"input remote ref", "wasm: m.wasm\nfunctions:\n  - name: f\n    input: {$ref: 'https://example.org/s.json'}\n", []string{"is not a valid JSON Schema", "only references inside the schema"}},
		{"input file ref", "wasm: m.wasm\nfunctions:\n  - name: f\n    input: {$ref: 'file:///etc/passwd'}\n", []string{"only references inside the schema"}},
		{"input relative ref", "wasm: m.wasm\nfunctions:\n  - name: f\n    input: {$ref: 'other.json'}\n", []string{"only references inside the schema"}},
		{"input remote metaschema", "wasm: m.wasm\nfunctions:\n  - name: f\n    input: {$schema: 'https://example.org/meta'}\n", []string{"is not a valid JSON Schema"}},
		{"input NaN", "wasm: m.wasm\nfunctions:\n  - name: f\n    input: {type: number, maximum: .nan}\n", []string{"reef.yaml:4:", "not a number JSON can hold"}},
		{"input map key", "wasm: m.wasm\nfunctions:\n  - name: f\n    input:\n      ? [a]\n      : b\n", []string{"reef.yaml:5:", "keys must be strings"}},
		// capabilities
		{"capabilities unknown", head + "capabilities: {net: {}}\n", []string{"reef.yaml:3: capabilities.net: unknown key", "allowed: fs, http, browser, mail, kv, secrets"}},
		{"capabilities a list", head + "capabilities: [fs]\n", []string{"capabilities: must be a map"}},
		{"fs relative", head + "capabilities: {fs: {data: ro}}\n", []string{"reef.yaml:3: capabilities.fs.data: guest path \"data\" must be absolute"}},
		{"fs not clean", head + "capabilities: {fs: {/data/../etc: ro}}\n", []string{"must be clean", `want "/etc"`}},
		{"fs trailing slash", head + "capabilities: {fs: {/data/: ro}}\n", []string{"must be clean"}},
		{"fs backslash", head + "capabilities: {fs: {'/a\\b': ro}}\n", []string{"backslashes are not allowed"}},
		{"fs mode", head + "capabilities: {fs: {/data: rwx}}\n", []string{"capabilities.fs./data: must be ro or rw, not \"rwx\""}},
		{"fs duplicate", head + "capabilities:\n  fs:\n    /data: ro\n    /data: rw\n", []string{"reef.yaml:6: capabilities.fs./data: duplicate key"}},
		{"http hosts missing", head + "capabilities: {http: {methods: [GET]}}\n", []string{"capabilities.http.hosts: is required"}},
		{"http hosts empty", head + "capabilities: {http: {hosts: []}}\n", []string{"capabilities.http.hosts: must list at least one host pattern"}},
		{"http host bad", head + "capabilities:\n  http:\n    hosts:\n      - example.org\n      - example.org/path\n", []string{"reef.yaml:7: capabilities.http.hosts[1]:", "only [scheme://]host[:port]"}},
		{"http host scheme", head + "capabilities: {http: {hosts: ['file://x']}}\n", []string{"capabilities.http.hosts[0]:", "scheme \"file\" not allowed"}},
		{"http host wildcard middle", head + "capabilities: {http: {hosts: ['a.*.org']}}\n", []string{"hosts[0]:", "not a host name"}},
		{"http host port", head + "capabilities: {http: {hosts: ['a.org:99999']}}\n", []string{"invalid port"}},
		{"http method unknown", head + "capabilities: {http: {hosts: [a.org], methods: [FETCH]}}\n", []string{"capabilities.http.methods[0]: \"FETCH\" is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"}},
		{"http method lower case", head + "capabilities: {http: {hosts: [a.org], methods: [get]}}\n", []string{"(write GET)"}},
		{"http method CONNECT", head + "capabilities: {http: {hosts: [a.org], methods: [CONNECT]}}\n", []string{"\"CONNECT\" is not one of"}},
		{"http method TRACE", head + "capabilities: {http: {hosts: [a.org], methods: [TRACE]}}\n", []string{"\"TRACE\" is not one of"}},
		{"http method duplicate", head + "capabilities: {http: {hosts: [a.org], methods: [GET, GET]}}\n", []string{"methods[1]: duplicate method"}},
		{"http unknown key", head + "capabilities: {http: {hosts: [a.org], proxy: x}}\n", []string{"capabilities.http.proxy: unknown key"}},
		{"browser hosts missing", head + "capabilities: {browser: {eval: true}}\n", []string{"capabilities.browser.hosts: is required"}},
		{"browser host bad", head + "capabilities: {browser: {hosts: ['javascript://x']}}\n", []string{"capabilities.browser.hosts[0]:", "not allowed"}},
		{"browser eval not bool", head + "capabilities: {browser: {hosts: [a.org], eval: maybe}}\n", []string{"capabilities.browser.eval: must be true or false"}},
		{"mail empty", head + "capabilities: {mail: {}}\n", []string{"capabilities.mail: must request send, read or both"}},
		{"mail send to missing", head + "capabilities: {mail: {send: {}}}\n", []string{"capabilities.mail.send.to: is required"}},
		{"mail send to empty", head + "capabilities: {mail: {send: {to: []}}}\n", []string{"capabilities.mail.send.to: must list at least one"}},
		{"mail pattern no at", head + "capabilities: {mail: {send: {to: [example.org]}}}\n", []string{"capabilities.mail.send.to[0]:", "want exactly one @"}},
		{"mail pattern two at", head + "capabilities: {mail: {send: {to: ['a@b@c.org']}}}\n", []string{"want exactly one @"}},
		{"mail pattern CRLF", head + "capabilities: {mail: {send: {to: [\"a@b.org\\r\\nBcc: x@evil.org\"]}}}\n", []string{"mail.send.to[0]:", "control characters"}},
		{"mail pattern comma", head + "capabilities: {mail: {send: {to: ['a@b.org,c@d.org']}}}\n", []string{"mail.send.to[0]:"}},
		{"mail pattern angle", head + "capabilities: {mail: {send: {to: ['<a>@b.org']}}}\n", []string{"mail.send.to[0]:", "brackets"}},
		{"mail pattern partial star", head + "capabilities: {mail: {send: {to: ['a*@b.org']}}}\n", []string{"* must be the whole part before @"}},
		{"mail pattern user at any domain", head + "capabilities: {mail: {send: {to: ['bob@*']}}}\n", []string{"goes only with a * local part"}},
		{"mail pattern ip domain", head + "capabilities: {mail: {send: {to: ['a@127.0.0.1']}}}\n", []string{"must be a host name"}},
		{"mail pattern port", head + "capabilities: {mail: {send: {to: ['a@b.org:25']}}}\n", []string{"must be a host name"}},
		{"mail read mailboxes missing", head + "capabilities: {mail: {read: {modify: true}}}\n", []string{"capabilities.mail.read.mailboxes: is required"}},
		{"mail read mailbox control", head + "capabilities: {mail: {read: {mailboxes: [\"IN\\nBOX\"]}}}\n", []string{"mail.read.mailboxes[0]:", "control characters"}},
		{"mail read modify not bool", head + "capabilities: {mail: {read: {mailboxes: [INBOX], modify: 1}}}\n", []string{"mail.read.modify: must be true or false"}},
		{"mail unknown key", head + "capabilities: {mail: {send: {to: ['*@a.org'], cc: []}}}\n", []string{"capabilities.mail.send.cc: unknown key"}},
		{"kv quota missing", head + "capabilities: {kv: {}}\n", []string{"capabilities.kv.quota: is required"}},
		{"kv quota zero", head + "capabilities: {kv: {quota: 0}}\n", []string{"capabilities.kv.quota: must be greater than 0"}},
		{"kv quota negative", head + "capabilities: {kv: {quota: -1MiB}}\n", []string{"capabilities.kv.quota:", "invalid size"}},
		{"kv quota unit", head + "capabilities: {kv: {quota: 1TiB}}\n", []string{"capabilities.kv.quota:", "invalid size"}},
		{"secrets lower case", head + "capabilities: {secrets: [token]}\n", []string{"capabilities.secrets[0]: \"token\" must match ^[A-Z][A-Z0-9_]*$"}},
		{"secrets leading digit", head + "capabilities: {secrets: [1TOKEN]}\n", []string{"secrets[0]:"}},
		{"secrets duplicate", head + "capabilities: {secrets: [A, A]}\n", []string{"secrets[1]: duplicate secret"}},
		{"secrets not a list", head + "capabilities: {secrets: A}\n", []string{"capabilities.secrets: must be a list"}},
		// limits
		{"limits unknown", head + "limits: {cpu: 1}\n", []string{"reef.yaml:3: limits.cpu: unknown key", "allowed: memory, timeout, output"}},
		{"memory too small", head + "limits: {memory: 1KiB}\n", []string{"reef.yaml:3: limits.memory: 1KiB is out of range: must be 64KiB to 4GiB"}},
		{"memory too large", head + "limits: {memory: 5GiB}\n", []string{"limits.memory: 5GiB is out of range"}},
		{"memory bad unit", head + "limits: {memory: 32 megs}\n", []string{"limits.memory:", "invalid size"}},
		{"memory a map", head + "limits: {memory: {a: 1}}\n", []string{"limits.memory: must be a string"}},
		{"timeout too short", head + "limits: {timeout: 500us}\n", []string{"limits.timeout: 500µs is out of range: must be 1ms to 10m0s"}},
		{"timeout too long", head + "limits: {timeout: 11m}\n", []string{"limits.timeout: 11m0s is out of range"}},
		{"timeout no unit", head + "limits: {timeout: 10}\n", []string{"limits.timeout:", "invalid duration"}},
		{"timeout negative", head + "limits: {timeout: -1s}\n", []string{"limits.timeout:", "must be positive"}},
		{"output zero", head + "limits: {output: 0}\n", []string{"limits.output: 0 is out of range: must be 1 to 1GiB"}},
		{"output too large", head + "limits: {output: 2GiB}\n", []string{"limits.output: 2GiB is out of range"}},
		// isolation
		{"isolation unknown", head + "isolation: fresh\n", []string{"reef.yaml:3: isolation: must be pooled or call, not \"fresh\""}},
		{"isolation a list", head + "isolation: [call]\n", []string{"isolation: must be a string"}},
		// several problems at once
		{"all problems reported", "wasm: ../m.wasm\nfunctions: [{name: 1}]\nlimits: {memory: 1, timeout: 1h}\nextra: 1\n", []string{"reef.yaml:1: wasm:", "reef.yaml:2: functions[0].name:", "reef.yaml:3: limits.memory:", "reef.yaml:3: limits.timeout:", "reef.yaml:4: extra: unknown key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := skill.ParseManifest("reef.yaml", []byte(tt.in))
			wantProblem(t, err, tt.want...)
		})
	}
}

func TestManifestSizeLimit(t *testing.T) {
	base := "wasm: m.wasm\nfunctions: [{name: f}]\n"
	pad := strings.Repeat("# "+strings.Repeat("x", 61)+"\n", skill.MaxManifestSize/64)
	if _, err := skill.ParseManifest("reef.yaml", []byte(base+pad[:skill.MaxManifestSize-len(base)])); err != nil {
		t.Fatalf("manifest of exactly %d bytes: %v", skill.MaxManifestSize, err)
	}
	_, err := skill.ParseManifest("reef.yaml", []byte(base+pad+"# x\n"))
	wantProblem(t, err, "reef.yaml: reef.yaml is", "the limit is 256KiB")
}

func TestManifestAliasBomb(t *testing.T) {
	// The classic billion-laughs document: a decoder that expanded it
	// would build 10^9 strings.
	bomb := `wasm: m.wasm
functions: [{name: f}]
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`
	_, err := skill.ParseManifest("reef.yaml", []byte(bomb))
	wantProblem(t, err, "reef.yaml:3:", "anchors and aliases")

	// The same bomb hidden inside an input schema, where any value is
	// otherwise allowed.
	inSchema := "wasm: m.wasm\nfunctions:\n  - name: f\n    input:\n      default: &a [1, 2]\n      examples: [*a, *a]\n"
	_, err = skill.ParseManifest("reef.yaml", []byte(inSchema))
	wantProblem(t, err, "reef.yaml:5:", "anchors and aliases")
}

func TestManifestDeepNesting(t *testing.T) {
	// Deep flow nesting inside the size limit is refused by the YAML
	// parser's depth limit or accepted as a (silly) schema; never a crash.
	in := "wasm: m.wasm\nfunctions:\n  - name: f\n    input: {allOf: " + strings.Repeat("[{allOf: ", 9000) + "[]" + strings.Repeat("}]", 9000) + "}\n"
	if _, err := skill.ParseManifest("reef.yaml", []byte(in)); err == nil {
		return
	}
	in = "wasm: m.wasm\nfunctions: [{name: f}]\ncapabilities: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n"
	_, err := skill.ParseManifest("reef.yaml", []byte(in))
	wantProblem(t, err, "reef.yaml")
}
