// An Extism plugin written only against the official @extism/as-pdk
// (npm, 1.0.0). reef's pdk/extismcompat tests run this very module under
// the Extism Go SDK and under reef and compare the results.
import { Config, Host, LogLevel, Memory, Var } from "@extism/as-pdk";
import { error_set, http_request, length } from "@extism/as-pdk/lib/env";

// as-pdk 1.0.0 wraps http_request but not the status code; the function
// is part of Extism's kernel ABI.
@external("extism:host/env", "http_status_code")
declare function http_status_code(): i32;

// Extism AS plugins replace AssemblyScript's env.abort (asc --use abort=).
function myAbort(message: string | null, fileName: string | null, lineNumber: u32, columnNumber: u32): void {
  const m = message == null ? "abort" : message;
  error_set(Memory.allocateString(m).offset);
  unreachable();
}

function fail_with(msg: string): i32 {
  error_set(Memory.allocateString(msg).offset);
  return 1;
}

export function greet(): i32 {
  Host.outputString("Hello, " + Host.inputString() + "!");
  return 0;
}

export function config(): i32 {
  const v = Config.get("greeting");
  if (v == null) {
    return fail_with("config key greeting is not set");
  }
  Host.outputString(v);
  return 0;
}

export function count(): i32 {
  let n: i32 = 0;
  const cur = Var.getString("count");
  if (cur != null) {
    n = I32.parseInt(cur);
  }
  n += 1;
  const s = n.toString();
  Var.set("count", Uint8Array.wrap(String.UTF8.encode(s)));
  Host.outputString(s);
  return 0;
}

export function log(): i32 {
  const msg = Host.inputString();
  Host.log(LogLevel.Info, "info: " + msg);
  Host.log(LogLevel.Warn, "warn: " + msg);
  Host.outputString("logged");
  return 0;
}

export function fetch(): i32 {
  const url = Host.inputString();
  const req = '{"method":"GET","url":' + jsonString(url) + ',"headers":{}}';
  const reqMem = Memory.allocateString(req);
  const off = http_request(reqMem.offset, 0);
  const status = http_status_code();
  let body = "";
  if (off != 0) {
    body = new Memory(off, length(off)).toString();
  }
  Host.outputString(status.toString() + " " + body);
  return 0;
}

export function fail(): i32 {
  return fail_with("failed on purpose: " + Host.inputString());
}

function jsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22 || c == 0x5c) {
      out += "\\" + String.fromCharCode(c);
    } else if (c < 0x20) {
      out += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    } else {
      out += String.fromCharCode(c);
    }
  }
  return out + '"';
}
