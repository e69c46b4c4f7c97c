// reef — the AssemblyScript PDK for reef skills (AssemblyScript 0.28).
//
//   import * as reef from "@reefhq/as-pdk";
//   export function greet(): i32 {
//     const inp = reef.inputJSON();
//     if (!inp.ok) return reef.fail(inp.error!.message);
//     ...
//     reef.outputJSON(out);
//     return 0;
//   }
//
// Compile with (see README.md):
//   asc skill.ts -o skill.wasm -O3 --runtime incremental \
//     --use abort=~lib/@reefhq/as-pdk/assembly/index/reefAbort
//
// Buffers move with reef's bulk-copy kernel extensions by default; add
// `--use REEF_EXTISM_ONLY=NaN` to use only the plain Extism kernel ABI.
//
// AssemblyScript has no exceptions you can catch: every capability
// wrapper returns a Result whose `error` is a ReefError (code "denied" =
// capability not granted) instead of throwing.

import { Value, parse, quote } from "./json";

// ---------------------------------------------------------------- kernel

// @ts-ignore: decorator
@external("extism:host/env", "alloc") declare function x_alloc(n: u64): u64;
// @ts-ignore: decorator
@external("extism:host/env", "free") declare function x_free(h: u64): void;
// @ts-ignore: decorator
@external("extism:host/env", "length") declare function x_length(h: u64): u64;
// @ts-ignore: decorator
@external("extism:host/env", "load_u8") declare function x_load_u8(p: u64): u32;
// @ts-ignore: decorator
@external("extism:host/env", "load_u64") declare function x_load_u64(p: u64): u64;
// @ts-ignore: decorator
@external("extism:host/env", "store_u8") declare function x_store_u8(p: u64, v: u32): void;
// @ts-ignore: decorator
@external("extism:host/env", "store_u64") declare function x_store_u64(p: u64, v: u64): void;
// @ts-ignore: decorator
@external("extism:host/env", "input_length") declare function x_input_length(): u64;
// @ts-ignore: decorator
@external("extism:host/env", "input_load_u8") declare function x_input_load_u8(p: u64): u32;
// @ts-ignore: decorator
@external("extism:host/env", "input_load_u64") declare function x_input_load_u64(p: u64): u64;
// @ts-ignore: decorator
@external("extism:host/env", "output_set") declare function x_output_set(h: u64, n: u64): void;
// @ts-ignore: decorator
@external("extism:host/env", "error_set") declare function x_error_set(h: u64): void;
// @ts-ignore: decorator
@external("extism:host/env", "config_get") declare function x_config_get(h: u64): u64;
// @ts-ignore: decorator
@external("extism:host/env", "var_get") declare function x_var_get(h: u64): u64;
// @ts-ignore: decorator
@external("extism:host/env", "var_set") declare function x_var_set(k: u64, v: u64): void;
// @ts-ignore: decorator
@external("extism:host/env", "log_debug") declare function x_log_debug(h: u64): void;
// @ts-ignore: decorator
@external("extism:host/env", "log_info") declare function x_log_info(h: u64): void;
// @ts-ignore: decorator
@external("extism:host/env", "log_warn") declare function x_log_warn(h: u64): void;
// @ts-ignore: decorator
@external("extism:host/env", "log_error") declare function x_log_error(h: u64): void;

// reef bulk-copy extensions (one host call per buffer).
// @ts-ignore: decorator
@external("extism:host/env", "reef_input_read") declare function x_reef_input_read(dst: usize, n: u32): u32;
// @ts-ignore: decorator
@external("extism:host/env", "reef_output_write") declare function x_reef_output_write(src: usize, n: u32): void;
// @ts-ignore: decorator
@external("extism:host/env", "reef_error_write") declare function x_reef_error_write(src: usize, n: u32): void;
// @ts-ignore: decorator
@external("extism:host/env", "reef_load") declare function x_reef_load(h: u64, dst: usize, n: u32): u32;
// @ts-ignore: decorator
@external("extism:host/env", "reef_store") declare function x_reef_store(src: usize, n: u32): u64;

/** Copies bytes into a new kernel block. */
function storeBlock(b: Uint8Array): u64 {
  if (isDefined(REEF_EXTISM_ONLY)) {
    const n = b.length;
    const h = x_alloc(<u64>n);
    let i = 0;
    for (; i + 8 <= n; i += 8) x_store_u64(h + <u64>i, load<u64>(b.dataStart + <usize>i));
    for (; i < n; i++) x_store_u8(h + <u64>i, <u32>b[i]);
    return h;
  } else {
    return x_reef_store(b.dataStart, <u32>b.length);
  }
}

/** Copies a kernel block into a new array. */
function loadBlock(h: u64): Uint8Array {
  if (h == 0) return new Uint8Array(0);
  const n = <i32>x_length(h);
  const b = new Uint8Array(n);
  if (isDefined(REEF_EXTISM_ONLY)) {
    let i = 0;
    for (; i + 8 <= n; i += 8) store<u64>(b.dataStart + <usize>i, x_load_u64(h + <u64>i));
    for (; i < n; i++) b[i] = <u8>x_load_u8(h + <u64>i);
  } else if (n > 0) {
    x_reef_load(h, b.dataStart, <u32>n);
  }
  return b;
}

function utf8(s: string): Uint8Array { return Uint8Array.wrap(String.UTF8.encode(s)); }
function text(b: Uint8Array): string { return String.UTF8.decode(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)); }

// ---------------------------------------------------------------- input / output

/** The call's input bytes. */
export function input(): Uint8Array {
  const n = <i32>x_input_length();
  const b = new Uint8Array(n);
  if (isDefined(REEF_EXTISM_ONLY)) {
    let i = 0;
    for (; i + 8 <= n; i += 8) store<u64>(b.dataStart + <usize>i, x_input_load_u64(<u64>i));
    for (; i < n; i++) b[i] = <u8>x_input_load_u8(<u64>i);
  } else if (n > 0) {
    x_reef_input_read(b.dataStart, <u32>n);
  }
  return b;
}

/** The input as a string (UTF-8). */
export function inputString(): string { return text(input()); }

/** The input parsed as JSON; invalid JSON is an error naming the offset. */
export function inputJSON(): Result<Value> {
  const s = inputString();
  if (s.length == 0) return Result.fail<Value>(ReefError.local("invalid", "invalid JSON input: the input is empty"));
  const p = parse(s);
  if (!p.ok) return Result.fail<Value>(ReefError.local("invalid", "invalid JSON input: " + p.error));
  return Result.ok<Value>(p.value);
}

/** Sets the call's output. */
export function output(b: Uint8Array): void {
  if (isDefined(REEF_EXTISM_ONLY)) {
    x_output_set(storeBlock(b), <u64>b.length);
  } else {
    x_reef_output_write(b.dataStart, <u32>b.length);
  }
}

export function outputString(s: string): void { output(utf8(s)); }

export function outputJSON(v: Value): void { outputString(v.toString()); }

/** Sets the call's error message. */
export function setError(msg: string): void {
  const b = utf8(msg);
  if (isDefined(REEF_EXTISM_ONLY)) {
    x_error_set(storeBlock(b));
  } else {
    x_reef_error_write(b.dataStart, <u32>b.length);
  }
}

/** Sets the error and returns 1, for `return reef.fail("…")` in an export. */
export function fail(msg: string): i32 {
  setError(msg);
  return 1;
}

/** A skill config value, or null. */
export function config(key: string): string | null {
  const k = storeBlock(utf8(key));
  const h = x_config_get(k);
  x_free(k);
  if (h == 0) return null;
  const v = loadBlock(h);
  x_free(h);
  return text(v);
}

/** An Extism var, or null. */
export function varGet(key: string): Uint8Array | null {
  const k = storeBlock(utf8(key));
  const h = x_var_get(k);
  x_free(k);
  if (h == 0) return null;
  const v = loadBlock(h);
  x_free(h);
  return v;
}

/** Sets an Extism var; null deletes it. */
export function varSet(key: string, value: Uint8Array | null): void {
  const k = storeBlock(utf8(key));
  const v: u64 = value === null ? 0 : storeBlock(value);
  x_var_set(k, v);
  x_free(k);
  if (v != 0) x_free(v);
}

export enum LogLevel { Debug, Info, Warn, Error }

/** Writes to the host's log. */
export function log(level: LogLevel, msg: string): void {
  const h = storeBlock(utf8(msg));
  if (level == LogLevel.Debug) x_log_debug(h);
  else if (level == LogLevel.Warn) x_log_warn(h);
  else if (level == LogLevel.Error) x_log_error(h);
  else x_log_info(h);
  x_free(h);
}

/**
 * The abort handler: pass `--use abort=~lib/@reefhq/as-pdk/assembly/index/reefAbort`
 * to asc (or the path of this file when not installed as a package). It
 * sets the call's error to the message and location, then traps, so a
 * failed assertion or an out-of-range access reports what happened
 * instead of importing env.abort (which reef does not provide).
 */
export function reefAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let m = "abort: " + (message !== null ? message : "(no message)");
  if (fileName !== null) m += " at " + fileName + ":" + line.toString() + ":" + column.toString();
  setError(m);
  unreachable();
}

// ---------------------------------------------------------------- errors and results

/** A capability's error document, or an error of the PDK itself. */
export class ReefError {
  /** denied, not_found, invalid, exists, limit, timeout, io, unavailable, conflict */
  code: string = "";
  capability: string = "";
  value: string = "";
  message: string = "";
  /** The audit id of a denial. */
  id: string = "";

  static local(code: string, message: string): ReefError {
    const e = new ReefError();
    e.code = code;
    e.message = message;
    return e;
  }

  static fromDoc(b: Uint8Array): ReefError {
    const p = parse(text(b));
    if (!p.ok) return ReefError.local("io", "unreadable capability error document: " + text(b));
    const e = new ReefError();
    e.code = p.value.getString("code");
    e.capability = p.value.getString("capability");
    e.value = p.value.getString("value");
    e.message = p.value.getString("message");
    e.id = p.value.getString("id");
    return e;
  }

  /** The capability is not granted (code "denied"). */
  get denied(): bool { return this.code == "denied"; }
  get notFound(): bool { return this.code == "not_found"; }

  toString(): string {
    if (this.code == "denied") return "capability not granted: " + this.message;
    return this.code.length > 0 ? this.code + ": " + this.message : this.message;
  }
}

/** A value or an error: check `ok` (or `error !== null`) before `value`. */
export class Result<T> {
  value: T;
  error: ReefError | null;
  constructor(value: T, error: ReefError | null) {
    this.value = value;
    this.error = error;
  }
  get ok(): bool { return this.error === null; }
  static ok<T>(v: T): Result<T> { return new Result<T>(v, null); }
  static fail<T>(e: ReefError): Result<T> {
    if (isReference<T>()) return new Result<T>(changetype<T>(0), e);
    // @ts-ignore: a value type's zero
    return new Result<T>(<T>0, e);
  }
}

// ---------------------------------------------------------------- capabilities

// @ts-ignore: decorator
@external("extism:host/user", "reef_fs_read") declare function cap_fs_read(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_fs_write") declare function cap_fs_write(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_fs_append") declare function cap_fs_append(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_fs_list") declare function cap_fs_list(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_fs_stat") declare function cap_fs_stat(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_fs_mkdir") declare function cap_fs_mkdir(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_fs_remove") declare function cap_fs_remove(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_fs_rename") declare function cap_fs_rename(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_fs_glob") declare function cap_fs_glob(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_http_fetch") declare function cap_http_fetch(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_browser_text") declare function cap_browser_text(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_browser_html") declare function cap_browser_html(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_browser_screenshot") declare function cap_browser_screenshot(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_browser_pdf") declare function cap_browser_pdf(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_browser_run") declare function cap_browser_run(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_mail_send") declare function cap_mail_send(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_mail_mailboxes") declare function cap_mail_mailboxes(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_mail_search") declare function cap_mail_search(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_mail_fetch") declare function cap_mail_fetch(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_mail_mark_seen") declare function cap_mail_mark_seen(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_mail_move") declare function cap_mail_move(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_kv_get") declare function cap_kv_get(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_kv_set") declare function cap_kv_set(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_kv_delete") declare function cap_kv_delete(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_kv_list") declare function cap_kv_list(req: u64, data: u64): i64;
// @ts-ignore: decorator
@external("extism:host/user", "reef_kv_cas") declare function cap_kv_cas(req: u64, data: u64): i64;

/** Calls a capability: JSON request, optional payload, raw response. */
export function call(fn: (req: u64, data: u64) => i64, req: Value, data: Uint8Array | null): Result<Uint8Array> {
  const rq = storeBlock(utf8(req.toString()));
  const d: u64 = data === null ? 0 : storeBlock(data);
  const r = fn(rq, d);
  x_free(rq);
  if (d != 0) x_free(d);
  if (r < 0) {
    const h = <u64>(-r);
    const doc = loadBlock(h);
    x_free(h);
    return Result.fail<Uint8Array>(ReefError.fromDoc(doc));
  }
  const out = loadBlock(<u64>r);
  if (r > 0) x_free(<u64>r);
  return Result.ok<Uint8Array>(out);
}

function callJSON(fn: (req: u64, data: u64) => i64, req: Value, data: Uint8Array | null): Result<Value> {
  const r = call(fn, req, data);
  if (!r.ok) return Result.fail<Value>(r.error!);
  const p = parse(text(r.value));
  if (!p.ok) return Result.fail<Value>(ReefError.local("io", "capability response: " + p.error));
  return Result.ok<Value>(p.value);
}

function callText(fn: (req: u64, data: u64) => i64, req: Value): Result<string> {
  const r = call(fn, req, null);
  if (!r.ok) return Result.fail<string>(r.error!);
  return Result.ok<string>(text(r.value));
}

function done(r: Result<Uint8Array>): Result<bool> {
  if (!r.ok) return Result.fail<bool>(r.error!);
  return Result.ok<bool>(true);
}

function obj(k: string, v: string): Value { return Value.object().set(k, Value.string(v)); }

/** Filesystem: guest paths such as "/data/notes.txt". */
export namespace fs {
  export function read(path: string): Result<Uint8Array> { return call(cap_fs_read, obj("path", path), null); }
  export function readString(path: string): Result<string> { return callText(cap_fs_read, obj("path", path)); }
  export function readRange(path: string, offset: i64, length: i64): Result<Uint8Array> {
    return call(cap_fs_read, obj("path", path).set("offset", Value.int(offset)).set("length", Value.int(length)), null);
  }
  /** Replaces the file atomically; createDirs makes missing parents. */
  export function write(path: string, data: Uint8Array, createDirs: bool = false): Result<bool> {
    const r = obj("path", path);
    if (createDirs) r.set("create_dirs", Value.bool(true));
    return done(call(cap_fs_write, r, data));
  }
  export function writeString(path: string, s: string, createDirs: bool = false): Result<bool> { return write(path, utf8(s), createDirs); }
  export function append(path: string, data: Uint8Array): Result<bool> { return done(call(cap_fs_append, obj("path", path), data)); }
  /** A JSON array of {"name","size","dir","type","mode","mtime"}. */
  export function list(path: string): Result<Value> { return callJSON(cap_fs_list, obj("path", path), null); }
  /** {"name","path","size","dir","type","mode","mtime"}. */
  export function stat(path: string): Result<Value> { return callJSON(cap_fs_stat, obj("path", path), null); }
  export function mkdir(path: string, parents: bool = false): Result<bool> {
    return done(call(cap_fs_mkdir, obj("path", path).set("parents", Value.bool(parents)), null));
  }
  export function remove(path: string, recursive: bool = false): Result<bool> {
    return done(call(cap_fs_remove, obj("path", path).set("recursive", Value.bool(recursive)), null));
  }
  export function rename(from: string, to: string): Result<bool> {
    return done(call(cap_fs_rename, obj("from", from).set("to", Value.string(to)), null));
  }
  /** Matching guest paths ("**" spans directories). */
  export function glob(pattern: string): Result<Array<string>> {
    const r = callJSON(cap_fs_glob, obj("pattern", pattern), null);
    if (!r.ok) return Result.fail<Array<string>>(r.error!);
    const out = new Array<string>();
    for (let i = 0; i < r.value.length; i++) out.push(r.value.at(i).str);
    return Result.ok<Array<string>>(out);
  }
}

/** An HTTP answer; any status is a successful call. */
export class Response {
  status: i32 = 0;
  /** {"Content-Type": "…"} */
  headers: Value = Value.object();
  url: string = "";
  body: Uint8Array = new Uint8Array(0);
  header(name: string): string { return this.headers.getString(name); }
  text(): string { return text(this.body); }
}

export namespace http {
  /**
   * One request. headers may be null or a JSON object; values may use
   * {{secret:NAME}} templates the host fills in.
   */
  export function fetch(method: string, url: string, headers: Value | null = null, body: Uint8Array | null = null): Result<Response> {
    const req = obj("method", method).set("url", Value.string(url));
    if (headers !== null) req.set("headers", headers);
    const r = call(cap_http_fetch, req, body);
    if (!r.ok) return Result.fail<Response>(r.error!);
    const b = r.value;
    if (b.length < 4) return Result.fail<Response>(ReefError.local("io", "http response shorter than its header"));
    const n = <i32>load<u32>(b.dataStart);
    if (n < 0 || n > b.length - 4) return Result.fail<Response>(ReefError.local("io", "http response head past its end"));
    const head = parse(text(b.subarray(4, 4 + n)));
    if (!head.ok) return Result.fail<Response>(ReefError.local("io", "http response head: " + head.error));
    const resp = new Response();
    resp.status = <i32>head.value.getInt("status");
    resp.url = head.value.getString("url");
    const h = head.value.get("headers");
    if (h !== null) resp.headers = h;
    resp.body = b.slice(4 + n);
    return Result.ok<Response>(resp);
  }
  export function get(url: string): Result<Response> { return fetch("GET", url); }
}

export namespace browser {
  export function text(url: string): Result<string> { return callText(cap_browser_text, obj("url", url)); }
  export function html(url: string, selector: string = ""): Result<string> {
    const r = obj("url", url);
    if (selector.length > 0) r.set("selector", Value.string(selector));
    return callText(cap_browser_html, r);
  }
  /** A PNG; width/height 0 = 1280×800. */
  export function screenshot(url: string, selector: string = "", fullPage: bool = false, width: i32 = 0, height: i32 = 0): Result<Uint8Array> {
    const r = obj("url", url);
    if (selector.length > 0) r.set("selector", Value.string(selector));
    if (fullPage) r.set("full_page", Value.bool(true));
    if (width > 0) r.set("width", Value.int(width));
    if (height > 0) r.set("height", Value.int(height));
    return call(cap_browser_screenshot, r, null);
  }
  export function pdf(url: string): Result<Uint8Array> { return call(cap_browser_pdf, obj("url", url), null); }
  /**
   * Runs actions (a JSON array such as [{"navigate":"https://…"},{"text":"h1"}])
   * in one page; the answer is {"results":[…],"completed":N}.
   */
  export function run(url: string, actions: Value): Result<Value> {
    const r = Value.object();
    if (url.length > 0) r.set("url", Value.string(url));
    r.set("actions", actions);
    return callJSON(cap_browser_run, r, null);
  }
}

export namespace mail {
  /**
   * Sends a message: a JSON object {"to":[…],"subject","text"|"html",
   * "cc"?,"bcc"?,"reply_to"?,"account"?,"attachments"?}. Returns the
   * Message-ID.
   */
  export function send(message: Value): Result<string> {
    const r = callJSON(cap_mail_send, message, null);
    if (!r.ok) return Result.fail<string>(r.error!);
    return Result.ok<string>(r.value.getString("message_id"));
  }
  /** {"mailboxes":[{"name","messages","unseen"}]} */
  export function mailboxes(account: string = ""): Result<Value> {
    const r = Value.object();
    if (account.length > 0) r.set("account", Value.string(account));
    return callJSON(cap_mail_mailboxes, r, null);
  }
  /** query: {"mailbox","unseen"?,"since"?,"from"?,"subject"?,"limit"?,"preview"?}; answer {"mailbox","total","messages":[…]} */
  export function search(query: Value): Result<Value> { return callJSON(cap_mail_search, query, null); }
  export function fetch(account: string, mailbox: string, uid: u32, body: bool = true, attachments: bool = false): Result<Value> {
    const r = obj("mailbox", mailbox).set("uid", Value.int(uid)).set("body", Value.bool(body)).set("attachments", Value.bool(attachments));
    if (account.length > 0) r.set("account", Value.string(account));
    return callJSON(cap_mail_fetch, r, null);
  }
  function uidsReq(account: string, mailbox: string, uids: Array<u32>): Value {
    const list = Value.array();
    for (let i = 0; i < uids.length; i++) list.push(Value.int(uids[i]));
    const r = obj("mailbox", mailbox).set("uids", list);
    if (account.length > 0) r.set("account", Value.string(account));
    return r;
  }
  /** {"uids":[…]}: those that existed and are now seen. */
  export function markSeen(account: string, mailbox: string, uids: Array<u32>): Result<Value> {
    return callJSON(cap_mail_mark_seen, uidsReq(account, mailbox, uids), null);
  }
  /** {"moved":[…]} */
  export function move(account: string, mailbox: string, uids: Array<u32>, to: string): Result<Value> {
    return callJSON(cap_mail_move, uidsReq(account, mailbox, uids).set("to", Value.string(to)), null);
  }
}

export namespace kv {
  /** The value of key; error code "not_found" when missing. */
  export function get(key: string): Result<Uint8Array> { return call(cap_kv_get, obj("key", key), null); }
  export function getString(key: string): Result<string> { return callText(cap_kv_get, obj("key", key)); }
  export function set(key: string, value: Uint8Array): Result<bool> { return done(call(cap_kv_set, obj("key", key), value)); }
  export function setString(key: string, value: string): Result<bool> { return set(key, utf8(value)); }
  /** true if the key existed. */
  export function del(key: string): Result<bool> {
    const r = callJSON(cap_kv_delete, obj("key", key), null);
    if (!r.ok) return Result.fail<bool>(r.error!);
    return Result.ok<bool>(r.value.getBool("deleted"));
  }
  /** {"keys":[…],"more":bool} */
  export function list(prefix: string = "", after: string = "", limit: i32 = 0): Result<Value> {
    const r = Value.object();
    if (prefix.length > 0) r.set("prefix", Value.string(prefix));
    if (after.length > 0) r.set("after", Value.string(after));
    if (limit > 0) r.set("limit", Value.int(limit));
    return callJSON(cap_kv_list, r, null);
  }
  /**
   * Compare-and-swap: old null = the key must not exist; newValue null =
   * delete on a match. The answer is {"swapped","present","current"?}.
   */
  export function cas(key: string, old: Uint8Array | null, newValue: Uint8Array | null): Result<Value> {
    const r = obj("key", key).set("old_present", Value.bool(old !== null));
    if (old !== null && old.length > 0) r.set("old", Value.string(base64(old)));
    if (newValue === null) r.set("delete", Value.bool(true));
    return callJSON(cap_kv_cas, r, newValue === null ? new Uint8Array(0) : newValue);
  }
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Standard padded base64. */
export function base64(b: Uint8Array): string {
  let out = "";
  for (let i = 0; i < b.length; i += 3) {
    const v = (<u32>b[i] << 16) | (i + 1 < b.length ? <u32>b[i + 1] << 8 : 0) | (i + 2 < b.length ? <u32>b[i + 2] : 0);
    out += B64.charAt(v >> 18) + B64.charAt((v >> 12) & 63);
    out += i + 1 < b.length ? B64.charAt((v >> 6) & 63) : "=";
    out += i + 2 < b.length ? B64.charAt(v & 63) : "=";
  }
  return out;
}
