// A small JSON reader and writer (AssemblyScript has no reflection: read
// values with the typed getters, build them with the static constructors).

export const enum Kind { Null, Bool, Number, String, Array, Object }

const MAX_DEPTH = 256;

/** One JSON value. Objects keep their keys in order. */
export class Value {
  kind: Kind = Kind.Null;
  b: bool = false;
  /** A number's JSON text (parsed on demand by num/int). */
  text: string = "";
  str: string = "";
  items: Array<Value> = [];
  keys: Array<string> = [];

  static null(): Value { return new Value(); }
  static bool(b: bool): Value { const v = new Value(); v.kind = Kind.Bool; v.b = b; return v; }
  static int(n: i64): Value { const v = new Value(); v.kind = Kind.Number; v.text = n.toString(); return v; }
  static float(f: f64): Value {
    if (!isFinite(f)) return new Value();
    const v = new Value(); v.kind = Kind.Number; v.text = f.toString(); return v;
  }
  static string(s: string): Value { const v = new Value(); v.kind = Kind.String; v.str = s; return v; }
  static array(): Value { const v = new Value(); v.kind = Kind.Array; return v; }
  static object(): Value { const v = new Value(); v.kind = Kind.Object; return v; }
  static strings(list: Array<string>): Value {
    const v = Value.array();
    for (let i = 0; i < list.length; i++) v.items.push(Value.string(list[i]));
    return v;
  }

  /** Sets (or replaces) a member of an object; returns this for chaining. */
  set(key: string, v: Value): Value {
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] == key) { this.items[i] = v; return this; }
    }
    this.keys.push(key);
    this.items.push(v);
    return this;
  }
  /** Appends to an array. */
  push(v: Value): Value { this.items.push(v); return this; }

  /** A member of an object, or null. */
  get(key: string): Value | null {
    if (this.kind != Kind.Object) return null;
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] == key) return this.items[i];
    return null;
  }
  has(key: string): bool { return this.get(key) !== null; }
  get isNull(): bool { return this.kind == Kind.Null; }
  get length(): i32 { return this.items.length; }
  at(i: i32): Value { return this.items[i]; }

  /** The number (NaN if not a number). */
  num(): f64 { return this.kind == Kind.Number ? parseFloat(this.text) : NaN; }
  /** The number as an integer (0 if not a number). */
  int(): i64 {
    if (this.kind != Kind.Number) return 0;
    const f = parseFloat(this.text);
    return isFinite(f) ? <i64>f : 0;
  }

  /** Member shortcuts: the default when missing or of another type. */
  getString(key: string, def: string = ""): string {
    const v = this.get(key);
    return v !== null && v.kind == Kind.String ? v.str : def;
  }
  getInt(key: string, def: i64 = 0): i64 {
    const v = this.get(key);
    return v !== null && v.kind == Kind.Number ? v.int() : def;
  }
  getNumber(key: string, def: f64 = 0): f64 {
    const v = this.get(key);
    return v !== null && v.kind == Kind.Number ? v.num() : def;
  }
  getBool(key: string, def: bool = false): bool {
    const v = this.get(key);
    return v !== null && v.kind == Kind.Bool ? v.b : def;
  }
  getStrings(key: string): Array<string> {
    const out = new Array<string>();
    const v = this.get(key);
    if (v === null || v.kind != Kind.Array) return out;
    for (let i = 0; i < v.items.length; i++) if (v.items[i].kind == Kind.String) out.push(v.items[i].str);
    return out;
  }

  /** The compact JSON encoding. */
  toString(): string {
    const parts = new Array<string>();
    this.write(parts);
    return parts.join("");
  }

  write(out: Array<string>): void {
    switch (this.kind) {
      case Kind.Null: out.push("null"); break;
      case Kind.Bool: out.push(this.b ? "true" : "false"); break;
      case Kind.Number: out.push(this.text); break;
      case Kind.String: out.push(quote(this.str)); break;
      case Kind.Array: {
        out.push("[");
        for (let i = 0; i < this.items.length; i++) {
          if (i > 0) out.push(",");
          this.items[i].write(out);
        }
        out.push("]");
        break;
      }
      default: {
        out.push("{");
        for (let i = 0; i < this.keys.length; i++) {
          if (i > 0) out.push(",");
          out.push(quote(this.keys[i]));
          out.push(":");
          this.items[i].write(out);
        }
        out.push("}");
      }
    }
  }
}

const HEX = "0123456789abcdef";

/** s as a JSON string literal. */
export function quote(s: string): string {
  let out = "\"";
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c != 0x22 && c != 0x5c && c != 0x7f && c != 0x2028 && c != 0x2029) continue;
    out += s.substring(start, i);
    if (c == 0x22) out += "\\\"";
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x0d) out += "\\r";
    else if (c == 0x09) out += "\\t";
    else out += "\\u" + HEX.charAt((c >> 12) & 15) + HEX.charAt((c >> 8) & 15) + HEX.charAt((c >> 4) & 15) + HEX.charAt(c & 15);
    start = i + 1;
  }
  return out + s.substring(start) + "\"";
}

/** The outcome of parse: a value, or an error naming the offset. */
export class Parsed {
  value: Value = new Value();
  error: string = "";
  get ok(): bool { return this.error.length == 0; }
}

/** Parses one JSON document (UTF-16 string; trailing data is an error). */
export function parse(s: string): Parsed {
  const p = new Parser(s);
  const r = new Parsed();
  p.ws();
  const v = p.value(0);
  if (p.err.length == 0) {
    p.ws();
    if (p.i != s.length) p.fail("data after the JSON value");
  }
  if (p.err.length > 0) {
    r.error = "invalid JSON at offset " + p.erri.toString() + ": " + p.err;
    return r;
  }
  r.value = v;
  return r;
}

class Parser {
  s: string;
  i: i32 = 0;
  err: string = "";
  erri: i32 = 0;
  constructor(s: string) { this.s = s; }

  fail(msg: string): Value {
    if (this.err.length == 0) { this.err = msg; this.erri = this.i; }
    return new Value();
  }
  peek(): i32 { return this.i < this.s.length ? this.s.charCodeAt(this.i) : -1; }
  ws(): void {
    while (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) return;
      this.i++;
    }
  }

  value(depth: i32): Value {
    if (depth > MAX_DEPTH) return this.fail("nested too deeply");
    const c = this.peek();
    if (c < 0) return this.fail("unexpected end of input");
    if (c == 0x7b) { // {
      this.i++;
      const o = Value.object();
      this.ws();
      if (this.peek() == 0x7d) { this.i++; return o; }
      while (true) {
        this.ws();
        if (this.peek() != 0x22) return this.fail("expected a string key");
        const k = this.string();
        if (this.err.length > 0) return o;
        this.ws();
        if (this.peek() != 0x3a) return this.fail("expected ':' after a key");
        this.i++;
        this.ws();
        const v = this.value(depth + 1);
        if (this.err.length > 0) return o;
        o.set(k, v);
        this.ws();
        const n = this.peek();
        if (n == 0x2c) { this.i++; continue; }
        if (n == 0x7d) { this.i++; return o; }
        return this.fail("expected ',' or '}' in an object");
      }
    }
    if (c == 0x5b) { // [
      this.i++;
      const a = Value.array();
      this.ws();
      if (this.peek() == 0x5d) { this.i++; return a; }
      while (true) {
        this.ws();
        const v = this.value(depth + 1);
        if (this.err.length > 0) return a;
        a.items.push(v);
        this.ws();
        const n = this.peek();
        if (n == 0x2c) { this.i++; continue; }
        if (n == 0x5d) { this.i++; return a; }
        return this.fail("expected ',' or ']' in an array");
      }
    }
    if (c == 0x22) return Value.string(this.string());
    if (c == 0x74) return this.lit("true") ? Value.bool(true) : this.fail("invalid literal");
    if (c == 0x66) return this.lit("false") ? Value.bool(false) : this.fail("invalid literal");
    if (c == 0x6e) return this.lit("null") ? Value.null() : this.fail("invalid literal");
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    return this.fail("unexpected character");
  }

  lit(w: string): bool {
    if (this.s.substr(this.i, w.length) != w) return false;
    this.i += w.length;
    return true;
  }

  digits(): i32 {
    const s = this.i;
    while (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i);
      if (c < 0x30 || c > 0x39) break;
      this.i++;
    }
    return this.i - s;
  }

  number(): Value {
    const start = this.i;
    if (this.peek() == 0x2d) this.i++;
    if (this.peek() == 0x30) this.i++;
    else if (this.digits() == 0) return this.fail("invalid number");
    if (this.peek() == 0x2e) { this.i++; if (this.digits() == 0) return this.fail("invalid number"); }
    const e = this.peek();
    if (e == 0x65 || e == 0x45) {
      this.i++;
      const sg = this.peek();
      if (sg == 0x2b || sg == 0x2d) this.i++;
      if (this.digits() == 0) return this.fail("invalid number");
    }
    const v = new Value();
    v.kind = Kind.Number;
    v.text = this.s.substring(start, this.i);
    return v;
  }

  hex4(): i32 {
    if (this.i + 4 > this.s.length) return -1;
    let r = 0;
    for (let k = 0; k < 4; k++) {
      const c = this.s.charCodeAt(this.i + k);
      let d = -1;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      if (d < 0) return -1;
      r = (r << 4) | d;
    }
    this.i += 4;
    return r;
  }

  string(): string {
    this.i++;
    let out = "";
    let start = this.i;
    while (true) {
      if (this.i >= this.s.length) { this.fail("unterminated string"); return ""; }
      const c = this.s.charCodeAt(this.i);
      if (c == 0x22) {
        out += this.s.substring(start, this.i);
        this.i++;
        return out;
      }
      if (c < 0x20) { this.fail("control character in a string"); return ""; }
      if (c != 0x5c) { this.i++; continue; }
      out += this.s.substring(start, this.i);
      this.i++;
      const e = this.peek();
      this.i++;
      if (e == 0x22) out += "\"";
      else if (e == 0x5c) out += "\\";
      else if (e == 0x2f) out += "/";
      else if (e == 0x62) out += "\b";
      else if (e == 0x66) out += "\f";
      else if (e == 0x6e) out += "\n";
      else if (e == 0x72) out += "\r";
      else if (e == 0x74) out += "\t";
      else if (e == 0x75) {
        const u = this.hex4();
        if (u < 0) { this.fail("invalid \\u escape"); return ""; }
        out += String.fromCharCode(u); // UTF-16: surrogate pairs stay pairs
      } else { this.i--; this.fail("invalid escape"); return ""; }
      start = this.i;
    }
  }
}
