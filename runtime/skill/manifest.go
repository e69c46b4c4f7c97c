package skill

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/reefhq/reef/runtime/hostmatch"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// Bounds of the limits a manifest may ask for.
const (
	MinMemory  = 64 << 10 // one wasm page
	MinTimeout = time.Millisecond
	MaxTimeout = 10 * time.Minute
	MaxOutput  = 1 << 30
	// MaxFunctionName bounds a function name (an export name).
	MaxFunctionName = 128
)

var (
	functionNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	secretNameRE   = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	// HTTPMethods are the methods a manifest may request: the standard set
	// without CONNECT (tunnels) and TRACE (echoes credentials back).
	HTTPMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
)

var (
	manifestKeys   = []string{"wasm", "functions", "capabilities", "limits", "isolation"}
	functionKeys   = []string{"name", "description", "input"}
	capabilityKeys = []string{"fs", "http", "browser", "mail", "kv", "secrets"}
	limitKeys      = []string{"memory", "timeout", "output"}
)

// parsedManifest is a manifest with what Load needs besides: the line of
// the wasm key and the compiled input schemas.
type parsedManifest struct {
	m        Manifest
	wasmLine int
	schemas  map[string]*jsonschema.Schema
}

// ParseManifest parses and strictly validates reef.yaml. Unknown keys at
// any level, missing or malformed values and input schemas that are not
// valid JSON Schema are errors with file and line; all problems found are
// returned joined (each a *ValidationError). Limits left out stay zero (the
// policy fills in defaults); Isolation defaults to pooled.
//
// Files over MaxManifestSize, YAML anchors or aliases and bytes that are not
// UTF-8 are refused before anything is expanded.
func ParseManifest(file string, data []byte) (Manifest, error) {
	pm, err := parseManifest(file, data)
	return pm.m, err
}

func parseManifest(file string, data []byte) (parsedManifest, error) {
	p := &problems{file: file}
	pm := parsedManifest{schemas: map[string]*jsonschema.Schema{}}
	root := parseYAML(p, data, MaxManifestSize, file)
	if !p.ok() {
		return pm, p.err()
	}
	if root == nil {
		p.addLine(0, "", "the manifest is empty; wasm and functions are required")
		return pm, p.err()
	}
	m := &pm.m
	seen := map[string]bool{}
	mapping(p, root, "", manifestKeys, func(key string, _, v *yaml.Node) {
		seen[key] = true
		switch key {
		case "wasm":
			pm.wasmLine = v.Line
			if s, ok := str(p, v, key); ok {
				m.Wasm = s
				if rule := checkWasmPath(s); rule != "" {
					p.addLine(v.Line, key, "%s", rule)
				} else {
					m.Wasm = path.Clean(s) // "./m.wasm" -> "m.wasm"
				}
			}
		case "functions":
			parseFunctions(p, v, &pm)
		case "capabilities":
			parseCapabilities(p, v, &m.Capabilities)
		case "limits":
			parseLimits(p, v, &m.Limits)
		case "isolation":
			if s, ok := str(p, v, key); ok {
				switch Isolation(s) {
				case IsolationPooled, IsolationCall:
					m.Isolation = Isolation(s)
				default:
					p.addLine(v.Line, key, "must be pooled or call, not %q", s)
				}
			}
		}
	})
	if root.Kind == yaml.MappingNode {
		for _, req := range []string{"wasm", "functions"} {
			if !seen[req] {
				p.addLine(root.Line, req, "is required")
			}
		}
	}
	if m.Isolation == "" {
		m.Isolation = IsolationPooled
	}
	return pm, p.err()
}

// checkWasmPath returns why s is not a relative path inside the bundle, or
// "".
func checkWasmPath(s string) string {
	switch {
	case s == "":
		return "must name the module file, relative to the bundle folder"
	case hasControl(s) || strings.ContainsRune(s, '\\'):
		return fmt.Sprintf("%q: control characters and backslashes are not allowed; use / between folders", s)
	case strings.HasPrefix(s, "/") || (len(s) > 1 && s[1] == ':'):
		return fmt.Sprintf("%q must be a relative path inside the bundle, not an absolute path", s)
	}
	for _, part := range strings.Split(s, "/") {
		if part == ".." {
			return fmt.Sprintf("%q must stay inside the bundle: \"..\" is not allowed", s)
		}
	}
	if c := path.Clean(s); c == "." || c != s && c != strings.TrimPrefix(s, "./") {
		return fmt.Sprintf("%q is not a clean path (want %q)", s, c)
	}
	return ""
}

func parseFunctions(p *problems, n *yaml.Node, pm *parsedManifest) {
	const field = "functions"
	if n.Kind != yaml.SequenceNode {
		p.addLine(n.Line, field, "must be a list of functions, not %s", kindName(n))
		return
	}
	if len(n.Content) == 0 {
		p.addLine(n.Line, field, "must declare at least one function")
		return
	}
	names := map[string]int{}
	for i, fn := range n.Content {
		fpath := index(field, i)
		var f Function
		hasName := false
		if !mapping(p, fn, fpath, functionKeys, func(key string, _, v *yaml.Node) {
			switch key {
			case "name":
				s, ok := str(p, v, join(fpath, key))
				if !ok {
					return
				}
				hasName = true
				f.Name = s
				switch {
				case len(s) > MaxFunctionName || !functionNameRE.MatchString(s):
					p.addLine(v.Line, join(fpath, key), "%q must match ^[A-Za-z_][A-Za-z0-9_]*$ and be at most %d characters", s, MaxFunctionName)
				case names[s] != 0:
					p.addLine(v.Line, join(fpath, key), "duplicate function %q (first declared on line %d)", s, names[s])
				default:
					names[s] = v.Line + p.lineOff
				}
			case "description":
				f.Description, _ = str(p, v, join(fpath, key))
			case "input":
				raw, sch, ok := compileSchemaNode(p, v, join(fpath, key))
				if !ok {
					return
				}
				f.Input = raw
				pm.schemas[fpath] = sch
			}
		}) {
			continue
		}
		if !hasName {
			p.addLine(fn.Line, join(fpath, "name"), "is required")
		}
		if sch := pm.schemas[fpath]; sch != nil {
			delete(pm.schemas, fpath)
			if f.Name != "" {
				pm.schemas[f.Name] = sch
			}
		}
		pm.m.Functions = append(pm.m.Functions, f)
	}
}

func parseCapabilities(p *problems, n *yaml.Node, c *Capabilities) {
	const base = "capabilities"
	mapping(p, n, base, capabilityKeys, func(key string, _, v *yaml.Node) {
		field := join(base, key)
		switch key {
		case "fs":
			c.FS = map[string]Access{}
			mapping(p, v, field, nil, func(guest string, k, mv *yaml.Node) {
				if rule := checkGuestPath(guest); rule != "" {
					p.addLine(k.Line, join(field, guest), "%s", rule)
					return
				}
				s, ok := str(p, mv, join(field, guest))
				if !ok {
					return
				}
				switch Access(s) {
				case ReadOnly, ReadWrite:
					c.FS[guest] = Access(s)
				default:
					p.addLine(mv.Line, join(field, guest), "must be ro or rw, not %q", s)
				}
			})
		case "http":
			r := &HTTPRequest{}
			c.HTTP = r
			hasHosts := false
			mapping(p, v, field, []string{"hosts", "methods"}, func(k string, _, hv *yaml.Node) {
				switch k {
				case "hosts":
					hasHosts = true
					r.Hosts = parseHosts(p, hv, join(field, k))
				case "methods":
					r.Methods = parseMethods(p, hv, join(field, k))
				}
			})
			if v.Kind == yaml.MappingNode && !hasHosts {
				p.addLine(v.Line, join(field, "hosts"), "is required: list the hosts the skill calls")
			}
		case "browser":
			r := &BrowserRequest{}
			c.Browser = r
			hasHosts := false
			mapping(p, v, field, []string{"hosts", "eval"}, func(k string, _, bv *yaml.Node) {
				switch k {
				case "hosts":
					hasHosts = true
					r.Hosts = parseHosts(p, bv, join(field, k))
				case "eval":
					r.Eval, _ = boolean(p, bv, join(field, k))
				}
			})
			if v.Kind == yaml.MappingNode && !hasHosts {
				p.addLine(v.Line, join(field, "hosts"), "is required: list the hosts the browser may load")
			}
		case "mail":
			c.Mail = parseMail(p, v, field)
		case "kv":
			r := &KVRequest{}
			c.KV = r
			hasQuota := false
			mapping(p, v, field, []string{"quota"}, func(k string, _, qv *yaml.Node) {
				hasQuota = true
				q, ok := parseSize(p, qv, join(field, k))
				r.Quota = q
				if ok && q <= 0 {
					p.addLine(qv.Line, join(field, k), "must be greater than 0")
				}
			})
			if v.Kind == yaml.MappingNode && !hasQuota {
				p.addLine(v.Line, join(field, "quota"), "is required (e.g. quota: 1MiB)")
			}
		case "secrets":
			names, nodes, _ := strList(p, v, field)
			seen := map[string]bool{}
			for i, s := range names {
				switch {
				case !secretNameRE.MatchString(s):
					p.addLine(nodes[i].Line, index(field, i), "%q must match ^[A-Z][A-Z0-9_]*$", s)
				case seen[s]:
					p.addLine(nodes[i].Line, index(field, i), "duplicate secret %q", s)
				default:
					seen[s] = true
					c.Secrets = append(c.Secrets, s)
				}
			}
		}
	})
}

// checkGuestPath returns why g is not an absolute, clean guest path, or "".
func checkGuestPath(g string) string {
	switch {
	case hasControl(g) || strings.ContainsRune(g, '\\'):
		return fmt.Sprintf("guest path %q: control characters and backslashes are not allowed", g)
	case !strings.HasPrefix(g, "/"):
		return fmt.Sprintf("guest path %q must be absolute (e.g. /data)", g)
	case path.Clean(g) != g:
		return fmt.Sprintf("guest path %q must be clean (want %q)", g, path.Clean(g))
	}
	return ""
}

func parseHosts(p *problems, n *yaml.Node, field string) []string {
	hosts, nodes, _ := strList(p, n, field)
	if n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
		p.addLine(n.Line, field, "must list at least one host pattern")
	}
	out := hosts[:0]
	for i, h := range hosts {
		if _, err := hostmatch.Parse(h); err != nil {
			p.addLine(nodes[i].Line, index(field, i), "%v", err)
			continue
		}
		out = append(out, h)
	}
	return out
}

func parseMethods(p *problems, n *yaml.Node, field string) []string {
	methods, nodes, _ := strList(p, n, field)
	var out []string
	for i, m := range methods {
		switch {
		case !slices.Contains(HTTPMethods, m):
			hint := ""
			if slices.Contains(HTTPMethods, strings.ToUpper(m)) {
				hint = fmt.Sprintf(" (write %s)", strings.ToUpper(m))
			}
			p.addLine(nodes[i].Line, index(field, i), "%q is not one of %s%s", m, strings.Join(HTTPMethods, ", "), hint)
		case slices.Contains(out, m):
			p.addLine(nodes[i].Line, index(field, i), "duplicate method %q", m)
		default:
			out = append(out, m)
		}
	}
	return out
}

func parseMail(p *problems, n *yaml.Node, field string) *MailRequest {
	r := &MailRequest{}
	mapping(p, n, field, []string{"send", "read"}, func(k string, _, v *yaml.Node) {
		sub := join(field, k)
		switch k {
		case "send":
			r.Send = &MailSend{}
			hasTo := false
			mapping(p, v, sub, []string{"to"}, func(_ string, _, tv *yaml.Node) {
				hasTo = true
				pats, nodes, _ := strList(p, tv, join(sub, "to"))
				if tv.Kind == yaml.SequenceNode && len(tv.Content) == 0 {
					p.addLine(tv.Line, join(sub, "to"), "must list at least one recipient pattern")
				}
				for i, s := range pats {
					if rule := checkMailPattern(s); rule != "" {
						p.addLine(nodes[i].Line, index(join(sub, "to"), i), "%s", rule)
						continue
					}
					r.Send.To = append(r.Send.To, s)
				}
			})
			if v.Kind == yaml.MappingNode && !hasTo {
				p.addLine(v.Line, join(sub, "to"), "is required: list recipient patterns such as *@example.org")
			}
		case "read":
			r.Read = &MailRead{}
			hasBoxes := false
			mapping(p, v, sub, []string{"mailboxes", "modify"}, func(rk string, _, rv *yaml.Node) {
				switch rk {
				case "mailboxes":
					hasBoxes = true
					boxes, nodes, _ := strList(p, rv, join(sub, rk))
					if rv.Kind == yaml.SequenceNode && len(rv.Content) == 0 {
						p.addLine(rv.Line, join(sub, rk), "must list at least one mailbox")
					}
					for i, b := range boxes {
						if b == "" || len(b) > 255 || hasControl(b) {
							p.addLine(nodes[i].Line, index(join(sub, rk), i), "mailbox %q must be 1-255 characters without control characters", b)
							continue
						}
						r.Read.Mailboxes = append(r.Read.Mailboxes, b)
					}
				case "modify":
					r.Read.Modify, _ = boolean(p, rv, join(sub, rk))
				}
			})
			if v.Kind == yaml.MappingNode && !hasBoxes {
				p.addLine(v.Line, join(sub, "mailboxes"), "is required (e.g. [INBOX])")
			}
		}
	})
	if n.Kind == yaml.MappingNode && r.Send == nil && r.Read == nil {
		p.addLine(n.Line, field, "must request send, read or both")
	}
	return r
}

// checkMailPattern accepts "user@example.org", "*@example.org",
// "*@*.example.org" and "*@*" (any recipient the grant allows): a local part of printable characters without spaces,
// quotes, commas or angle brackets (so a pattern can never smuggle a second
// address or a header), and a host name.
func checkMailPattern(s string) string {
	local, domain, ok := strings.Cut(s, "@")
	bad := func(why string) string {
		return fmt.Sprintf("%q is not an address pattern such as user@example.org or *@example.org: %s", s, why)
	}
	switch {
	case hasControl(s):
		return bad("control characters are not allowed")
	case !ok || strings.Contains(domain, "@"):
		return bad("want exactly one @")
	case local == "" || len(local) > 64:
		return bad("the part before @ must be 1-64 characters")
	case strings.ContainsAny(local, " \t\"(),:;<>[\\]"):
		return bad("spaces, quotes, commas and brackets are not allowed")
	case local != "*" && strings.Contains(local, "*"):
		return bad("* must be the whole part before @")
	}
	if domain == "*" {
		// "*@*" asks for "any recipient the operator grants": a generic
		// mail skill cannot know its recipients; the grant narrows it.
		if local != "*" {
			return bad("a * domain goes only with a * local part (*@*)")
		}
		return ""
	}
	hp, err := hostmatch.Parse(domain)
	if err != nil || hp.Port != 0 || hp.Scheme != "" || hp.Addr.IsValid() || hp.Host == "*" {
		return bad("the part after @ must be a host name or *.domain")
	}
	return ""
}

func parseLimits(p *problems, n *yaml.Node, l *Limits) {
	const base = "limits"
	mapping(p, n, base, limitKeys, func(key string, _, v *yaml.Node) {
		field := join(base, key)
		switch key {
		case "memory":
			s, ok := parseSize(p, v, field)
			if !ok {
				return
			}
			if s < MinMemory || s > MaxMemory {
				p.addLine(v.Line, field, "%s is out of range: must be %s to %s", s, Size(MinMemory), Size(MaxMemory))
				return
			}
			l.Memory = s
		case "timeout":
			s, ok := str(p, v, field)
			if !ok {
				return
			}
			var d Duration
			if err := d.UnmarshalText([]byte(s)); err != nil {
				p.addLine(v.Line, field, "%v", err)
				return
			}
			if time.Duration(d) < MinTimeout || time.Duration(d) > MaxTimeout {
				p.addLine(v.Line, field, "%s is out of range: must be %s to %s", time.Duration(d), MinTimeout, MaxTimeout)
				return
			}
			l.Timeout = d
		case "output":
			s, ok := parseSize(p, v, field)
			if !ok {
				return
			}
			if s <= 0 || s > MaxOutput {
				p.addLine(v.Line, field, "%s is out of range: must be 1 to %s", s, Size(MaxOutput))
				return
			}
			l.Output = s
		}
	})
}

func parseSize(p *problems, n *yaml.Node, field string) (Size, bool) {
	s, ok := str(p, n, field)
	if !ok {
		return 0, false
	}
	var v Size
	if err := v.UnmarshalText([]byte(s)); err != nil {
		p.addLine(n.Line, field, "%v", err)
		return 0, false
	}
	return v, true
}
