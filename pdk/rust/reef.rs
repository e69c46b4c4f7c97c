//! reef — the Rust PDK for reef skills (one file, no dependencies).
//!
//! Build a skill with Debian's rustc for wasm32-wasi:
//!
//! ```text
//! /usr/bin/rustc --edition 2021 --crate-type cdylib --target wasm32-wasi \
//!     -C opt-level=z -C lto -C codegen-units=1 -C strip=symbols -C panic=abort \
//!     -C link-arg=-zstack-size=131072 -o my-skill.wasm lib.rs
//! ```
//!
//! and include this file as the module `reef` (the name matters for the
//! `json_struct!` macro):
//!
//! ```text
//! mod reef;                              // reef.rs beside lib.rs (`reef new` copies it)
//! #[path = "../../pdk/rust/reef.rs"] mod reef;   // or from the reef repository
//! ```
//!
//! Export each function with `#[no_mangle] pub extern "C" fn name() -> i32`
//! calling `reef::run` (JSON), `reef::run_str` or `reef::run_bytes`.
//!
//! By default input, output and every buffer move with reef's bulk-copy
//! kernel extensions (one host call per buffer). Build with
//! `--cfg reef_extism` to use only the plain Extism kernel ABI.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;

type Handle = u64;

#[link(wasm_import_module = "extism:host/env")]
extern "C" {
    #[link_name = "alloc"]
    fn x_alloc(n: u64) -> Handle;
    #[link_name = "free"]
    fn x_free(h: Handle);
    #[link_name = "length"]
    fn x_length(h: Handle) -> u64;
    #[link_name = "load_u8"]
    fn x_load_u8(p: u64) -> u32;
    #[link_name = "load_u64"]
    fn x_load_u64(p: u64) -> u64;
    #[link_name = "store_u8"]
    fn x_store_u8(p: u64, v: u32);
    #[link_name = "store_u64"]
    fn x_store_u64(p: u64, v: u64);
    #[link_name = "input_length"]
    fn x_input_length() -> u64;
    #[link_name = "input_load_u8"]
    fn x_input_load_u8(p: u64) -> u32;
    #[link_name = "input_load_u64"]
    fn x_input_load_u64(p: u64) -> u64;
    #[link_name = "output_set"]
    fn x_output_set(h: Handle, n: u64);
    #[link_name = "error_set"]
    fn x_error_set(h: Handle);
    #[link_name = "config_get"]
    fn x_config_get(h: Handle) -> Handle;
    #[link_name = "var_get"]
    fn x_var_get(h: Handle) -> Handle;
    #[link_name = "var_set"]
    fn x_var_set(k: Handle, v: Handle);
    #[link_name = "log_debug"]
    fn x_log_debug(h: Handle);
    #[link_name = "log_info"]
    fn x_log_info(h: Handle);
    #[link_name = "log_warn"]
    fn x_log_warn(h: Handle);
    #[link_name = "log_error"]
    fn x_log_error(h: Handle);
}

#[cfg(not(reef_extism))]
#[link(wasm_import_module = "extism:host/env")]
extern "C" {
    #[link_name = "reef_input_read"]
    fn x_reef_input_read(dst: *mut u8, n: u32) -> u32;
    #[link_name = "reef_output_write"]
    fn x_reef_output_write(src: *const u8, n: u32);
    #[link_name = "reef_error_write"]
    fn x_reef_error_write(src: *const u8, n: u32);
    #[link_name = "reef_load"]
    fn x_reef_load(h: Handle, dst: *mut u8, n: u32) -> u32;
    #[link_name = "reef_store"]
    fn x_reef_store(src: *const u8, n: u32) -> Handle;
}

#[link(wasm_import_module = "extism:host/user")]
extern "C" {
    fn reef_fs_read(req: Handle, data: Handle) -> i64;
    fn reef_fs_write(req: Handle, data: Handle) -> i64;
    fn reef_fs_append(req: Handle, data: Handle) -> i64;
    fn reef_fs_list(req: Handle, data: Handle) -> i64;
    fn reef_fs_stat(req: Handle, data: Handle) -> i64;
    fn reef_fs_mkdir(req: Handle, data: Handle) -> i64;
    fn reef_fs_remove(req: Handle, data: Handle) -> i64;
    fn reef_fs_rename(req: Handle, data: Handle) -> i64;
    fn reef_fs_glob(req: Handle, data: Handle) -> i64;
    fn reef_http_fetch(req: Handle, data: Handle) -> i64;
    fn reef_browser_text(req: Handle, data: Handle) -> i64;
    fn reef_browser_html(req: Handle, data: Handle) -> i64;
    fn reef_browser_screenshot(req: Handle, data: Handle) -> i64;
    fn reef_browser_pdf(req: Handle, data: Handle) -> i64;
    fn reef_browser_run(req: Handle, data: Handle) -> i64;
    fn reef_mail_send(req: Handle, data: Handle) -> i64;
    fn reef_mail_mailboxes(req: Handle, data: Handle) -> i64;
    fn reef_mail_search(req: Handle, data: Handle) -> i64;
    fn reef_mail_fetch(req: Handle, data: Handle) -> i64;
    fn reef_mail_mark_seen(req: Handle, data: Handle) -> i64;
    fn reef_mail_move(req: Handle, data: Handle) -> i64;
    fn reef_kv_get(req: Handle, data: Handle) -> i64;
    fn reef_kv_set(req: Handle, data: Handle) -> i64;
    fn reef_kv_delete(req: Handle, data: Handle) -> i64;
    fn reef_kv_list(req: Handle, data: Handle) -> i64;
    fn reef_kv_cas(req: Handle, data: Handle) -> i64;
}

// ---------------------------------------------------------------- memory

/// Copies bytes into a new kernel block.
fn store(b: &[u8]) -> Handle {
    #[cfg(not(reef_extism))]
    unsafe {
        x_reef_store(b.as_ptr(), b.len() as u32)
    }
    #[cfg(reef_extism)]
    unsafe {
        let h = x_alloc(b.len() as u64);
        let mut i = 0usize;
        while i + 8 <= b.len() {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            x_store_u64(h + i as u64, u64::from_le_bytes(w));
            i += 8;
        }
        while i < b.len() {
            x_store_u8(h + i as u64, b[i] as u32);
            i += 1;
        }
        h
    }
}

/// Copies a kernel block into guest memory.
fn load(h: Handle) -> Vec<u8> {
    if h == 0 {
        return Vec::new();
    }
    let n = unsafe { x_length(h) } as usize;
    let mut b = vec![0u8; n];
    #[cfg(not(reef_extism))]
    unsafe {
        if n > 0 {
            x_reef_load(h, b.as_mut_ptr(), n as u32);
        }
    }
    #[cfg(reef_extism)]
    unsafe {
        let mut i = 0usize;
        while i + 8 <= n {
            b[i..i + 8].copy_from_slice(&x_load_u64(h + i as u64).to_le_bytes());
            i += 8;
        }
        while i < n {
            b[i] = x_load_u8(h + i as u64) as u8;
            i += 1;
        }
    }
    b
}

// ---------------------------------------------------------------- input / output

/// The call's input bytes.
pub fn input() -> Vec<u8> {
    let n = unsafe { x_input_length() } as usize;
    let mut b = vec![0u8; n];
    #[cfg(not(reef_extism))]
    unsafe {
        if n > 0 {
            x_reef_input_read(b.as_mut_ptr(), n as u32);
        }
    }
    #[cfg(reef_extism)]
    unsafe {
        let mut i = 0usize;
        while i + 8 <= n {
            b[i..i + 8].copy_from_slice(&x_input_load_u64(i as u64).to_le_bytes());
            i += 8;
        }
        while i < n {
            b[i] = x_input_load_u8(i as u64) as u8;
            i += 1;
        }
    }
    b
}

/// The input as UTF-8 text (invalid sequences become U+FFFD).
pub fn input_string() -> String {
    String::from_utf8_lossy(&input()).into_owned()
}

/// The input parsed as JSON; invalid JSON is an `Error::Json` naming the
/// byte offset.
pub fn input_json() -> Result<Value, Error> {
    let b = input();
    if b.is_empty() {
        return Err(Error::Json("invalid JSON input: the input is empty".into()));
    }
    Value::parse(&b).map_err(|e| Error::Json(cat(&["invalid JSON input: ", &e])))
}

/// Sets the call's output.
pub fn output(b: &[u8]) {
    #[cfg(not(reef_extism))]
    unsafe {
        x_reef_output_write(b.as_ptr(), b.len() as u32)
    }
    #[cfg(reef_extism)]
    unsafe {
        x_output_set(store(b), b.len() as u64)
    }
}

/// Sets the output to a string.
pub fn output_str(s: &str) {
    output(s.as_bytes())
}

/// Sets the output to a value encoded as JSON.
pub fn output_json<T: ToJson + ?Sized>(v: &T) {
    output(v.to_json().encode().as_bytes())
}

/// Sets the call's error message (return non-zero after it).
pub fn set_error(msg: &str) {
    #[cfg(not(reef_extism))]
    unsafe {
        x_reef_error_write(msg.as_ptr(), msg.len() as u32)
    }
    #[cfg(reef_extism)]
    unsafe {
        x_error_set(store(msg.as_bytes()))
    }
}

/// A skill config value (Extism config_get).
pub fn config(key: &str) -> Option<String> {
    let k = store(key.as_bytes());
    let h = unsafe { x_config_get(k) };
    unsafe { x_free(k) };
    if h == 0 {
        return None;
    }
    let v = load(h);
    unsafe { x_free(h) };
    Some(String::from_utf8_lossy(&v).into_owned())
}

/// An Extism var (shared by the skill version's instances).
pub fn var_get(key: &str) -> Option<Vec<u8>> {
    let k = store(key.as_bytes());
    let h = unsafe { x_var_get(k) };
    unsafe { x_free(k) };
    if h == 0 {
        return None;
    }
    let v = load(h);
    unsafe { x_free(h) };
    Some(v)
}

/// Sets an Extism var; None deletes it.
pub fn var_set(key: &str, value: Option<&[u8]>) {
    let k = store(key.as_bytes());
    let v = match value {
        Some(b) => store(b),
        None => 0,
    };
    unsafe {
        x_var_set(k, v);
        x_free(k);
        if v != 0 {
            x_free(v);
        }
    }
}

/// Log levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// Writes a message to the host's log.
pub fn log(level: Level, msg: &str) {
    let h = store(msg.as_bytes());
    unsafe {
        match level {
            Level::Debug => x_log_debug(h),
            Level::Info => x_log_info(h),
            Level::Warn => x_log_warn(h),
            Level::Error => x_log_error(h),
        }
        x_free(h);
    }
}

/// Runs f on the JSON input decoded into I and writes its result as JSON.
/// Returns the export's exit code: 0, or 1 after setting the error
/// (invalid input JSON included; never a trap).
pub fn run<I: FromJson, O: ToJson, F: FnOnce(I) -> Result<O, Error>>(f: F) -> i32 {
    let result = input_json().and_then(|v| I::from_json(&v).map_err(|e| e.context("invalid input"))).and_then(f);
    match result {
        Ok(o) => {
            output_json(&o);
            0
        }
        Err(e) => {
            set_error(&e.message());
            1
        }
    }
}

/// Runs f on the input as a string.
pub fn run_str<F: FnOnce(String) -> Result<String, Error>>(f: F) -> i32 {
    match f(input_string()) {
        Ok(s) => {
            output_str(&s);
            0
        }
        Err(e) => {
            set_error(&e.message());
            1
        }
    }
}

/// Runs f on the raw input bytes.
pub fn run_bytes<F: FnOnce(Vec<u8>) -> Result<Vec<u8>, Error>>(f: F) -> i32 {
    match f(input()) {
        Ok(b) => {
            output(&b);
            0
        }
        Err(e) => {
            set_error(&e.message());
            1
        }
    }
}

// ---------------------------------------------------------------- text

// The PDK builds its messages and JSON numbers with these instead of
// format!/to_string: core::fmt (and the float formatter a stray {} can
// pull in) is most of a small module's size. See README.md, "Size".

/// Concatenates parts into a new String (format! without core::fmt).
pub fn cat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

/// The decimal text of an unsigned integer.
pub fn utoa(mut n: u64) -> String {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf[i..].iter().map(|&b| b as char).collect()
}

/// The decimal text of a signed integer.
pub fn itoa(n: i64) -> String {
    if n < 0 {
        let mut s = String::from("-");
        s.push_str(&utoa(n.unsigned_abs()));
        s
    } else {
        utoa(n as u64)
    }
}

// ---------------------------------------------------------------- errors

/// The host's error document for a failed capability call.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostError {
    pub code: String,
    pub capability: String,
    pub value: String,
    pub message: String,
    /// The audit id of a denial.
    pub id: String,
}

/// Every error the PDK returns. A skill returns its own errors as
/// `Error::Msg` (or with `?` from anything that converts).
#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    /// The capability (or this value of it) is not granted.
    Denied(HostError),
    NotFound(HostError),
    Invalid(HostError),
    Exists(HostError),
    Limit(HostError),
    Timeout(HostError),
    Io(HostError),
    Unavailable(HostError),
    Conflict(HostError),
    /// A code this PDK does not know.
    Host(HostError),
    /// Invalid JSON, or JSON of the wrong shape.
    Json(String),
    /// The skill's own error message.
    Msg(String),
}

impl Error {
    /// An error with a message (the skill's own).
    pub fn msg<S: Into<String>>(s: S) -> Error {
        Error::Msg(s.into())
    }

    fn from_doc(b: &[u8]) -> Error {
        let v = match Value::parse(b) {
            Ok(v) => v,
            Err(_) => {
                return Error::Host(HostError { code: "io".into(), message: cat(&["unreadable capability error document: ", &String::from_utf8_lossy(b)]), ..Default::default() })
            }
        };
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
        let h = HostError { code: s("code"), capability: s("capability"), value: s("value"), message: s("message"), id: s("id") };
        match h.code.as_str() {
            "denied" => Error::Denied(h),
            "not_found" => Error::NotFound(h),
            "invalid" => Error::Invalid(h),
            "exists" => Error::Exists(h),
            "limit" => Error::Limit(h),
            "timeout" => Error::Timeout(h),
            "io" => Error::Io(h),
            "unavailable" => Error::Unavailable(h),
            "conflict" => Error::Conflict(h),
            _ => Error::Host(h),
        }
    }

    /// The host error document, for capability errors.
    pub fn host(&self) -> Option<&HostError> {
        match self {
            Error::Denied(h) | Error::NotFound(h) | Error::Invalid(h) | Error::Exists(h) | Error::Limit(h) | Error::Timeout(h) | Error::Io(h) | Error::Unavailable(h) | Error::Conflict(h) | Error::Host(h) => Some(h),
            _ => None,
        }
    }

    /// Whether the host denied the capability.
    pub fn is_denied(&self) -> bool {
        matches!(self, Error::Denied(_))
    }

    fn context(self, what: &str) -> Error {
        match self {
            Error::Json(m) => Error::Json(cat(&[what, ": ", &m])),
            other => other,
        }
    }
}

impl Error {
    /// The message the host is given: "capability not granted: …" for a
    /// denial, "<code>: <message>" for other capability errors, the text
    /// itself for Json and Msg. (Display prints the same.)
    pub fn message(&self) -> String {
        match self {
            Error::Denied(h) => cat(&["capability not granted: ", &h.message]),
            Error::Json(m) | Error::Msg(m) => m.clone(),
            Error::NotFound(h) | Error::Invalid(h) | Error::Exists(h) | Error::Limit(h) | Error::Timeout(h) | Error::Io(h) | Error::Unavailable(h) | Error::Conflict(h) | Error::Host(h) => cat(&[&h.code, ": ", &h.message]),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(s: String) -> Error {
        Error::Msg(s)
    }
}

impl From<&str> for Error {
    fn from(s: &str) -> Error {
        Error::Msg(s.to_string())
    }
}

// ---------------------------------------------------------------- JSON

/// A JSON value. Objects keep their keys in order of appearance.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// A number, kept as its JSON text (so a skill that never reads
    /// floats links no float parser or formatter).
    Number(String),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

const MAX_DEPTH: usize = 256;

impl Value {
    /// Parses one JSON document (trailing data is an error).
    pub fn parse(b: &[u8]) -> Result<Value, String> {
        let mut p = Parser { b, i: 0 };
        p.ws();
        let v = p.value(0)?;
        p.ws();
        if p.i != b.len() {
            return Err(p.fail("data after the JSON value"));
        }
        Ok(v)
    }

    /// An empty object, to build with `with`.
    pub fn object() -> Value {
        Value::Object(Vec::new())
    }

    /// Adds (or replaces) a member of an object; no-op on other values.
    pub fn with<T: ToJson + ?Sized>(mut self, key: &str, v: &T) -> Value {
        self.set(key, v.to_json());
        self
    }

    /// Sets a member of an object.
    pub fn set(&mut self, key: &str, v: Value) {
        if let Value::Object(m) = self {
            for kv in m.iter_mut() {
                if kv.0 == key {
                    kv.1 = v;
                    return;
                }
            }
            m.push((key.to_string(), v));
        }
    }

    /// A member of an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(m) => m.iter().find(|kv| kv.0 == key).map(|kv| &kv.1),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.parse().ok(),
            _ => None,
        }
    }

    /// An integral number (no fraction or exponent in its text).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.parse().ok(),
            _ => None,
        }
    }

    /// An integer number value.
    pub fn int(n: i64) -> Value {
        Value::Number(itoa(n))
    }

    /// A float number value (NaN and infinities become null).
    pub fn float(f: f64) -> Value {
        if f.is_finite() {
            Value::Number(f.to_string())
        } else {
            Value::Null
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    fn str_field(&self, k: &str) -> String {
        self.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string()
    }

    fn int_field(&self, k: &str) -> i64 {
        self.get(k).and_then(|v| v.as_i64()).unwrap_or(0)
    }

    fn bool_field(&self, k: &str) -> bool {
        self.get(k).and_then(|v| v.as_bool()).unwrap_or(false)
    }

    /// The compact JSON encoding (what Display prints).
    pub fn encode(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }

    fn write(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(n),
            Value::String(s) => write_str(out, s),
            Value::Array(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            Value::Object(m) => {
                out.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(out, k);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

impl fmt::Display for Value {
    /// The compact JSON encoding.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

fn write_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{2028}' || c == '\u{2029}' => {
                let u = c as u32;
                out.push_str("\\u");
                for sh in [12, 8, 4, 0] {
                    out.push(HEX[((u >> sh) & 15) as usize] as char);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn fail(&self, msg: &str) -> String {
        cat(&["invalid JSON at byte ", &utoa(self.i as u64), ": ", msg])
    }

    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(self.fail("nested too deeply"));
        }
        match self.peek() {
            None => Err(self.fail("unexpected end of input")),
            Some(b'{') => {
                self.i += 1;
                let mut m = Vec::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(Value::Object(m));
                }
                loop {
                    self.ws();
                    if self.peek() != Some(b'"') {
                        return Err(self.fail("expected a string key"));
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.peek() != Some(b':') {
                        return Err(self.fail("expected ':' after a key"));
                    }
                    self.i += 1;
                    self.ws();
                    let v = self.value(depth + 1)?;
                    m.push((k, v));
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Value::Object(m));
                        }
                        _ => return Err(self.fail("expected ',' or '}' in an object")),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(Value::Array(a));
                }
                loop {
                    self.ws();
                    a.push(self.value(depth + 1)?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::Array(a));
                        }
                        _ => return Err(self.fail("expected ',' or ']' in an array")),
                    }
                }
            }
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.lit("true", Value::Bool(true)),
            Some(b'f') => self.lit("false", Value::Bool(false)),
            Some(b'n') => self.lit("null", Value::Null),
            Some(c) if c == b'-' || c.is_ascii_digit() => self.number(),
            Some(_) => Err(self.fail("unexpected character")),
        }
    }

    fn lit(&mut self, s: &str, v: Value) -> Result<Value, String> {
        if self.b[self.i..].starts_with(s.as_bytes()) {
            self.i += s.len();
            Ok(v)
        } else {
            Err(self.fail("invalid literal"))
        }
    }

    fn digits(&mut self) -> usize {
        let s = self.i;
        while self.i < self.b.len() && self.b[self.i].is_ascii_digit() {
            self.i += 1;
        }
        self.i - s
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        if self.peek() == Some(b'0') {
            self.i += 1;
        } else if self.digits() == 0 {
            return Err(self.fail("invalid number"));
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.fail("invalid number"));
            }
        }
        if matches!(self.peek(), Some(b'e') | Some(b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+') | Some(b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.fail("invalid number"));
            }
        }
        Ok(Value::Number(String::from_utf8_lossy(&self.b[start..self.i]).into_owned()))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        if self.i + 4 > self.b.len() {
            return Err(self.fail("invalid \\u escape"));
        }
        let mut v = 0u32;
        for k in 0..4 {
            let d = (self.b[self.i + k] as char).to_digit(16).ok_or_else(|| self.fail("invalid \\u escape"))?;
            v = v << 4 | d;
        }
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = match self.peek() {
                Some(c) => c,
                None => return Err(self.fail("unterminated string")),
            };
            match c {
                b'"' => {
                    self.i += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                b'\\' => {
                    self.i += 1;
                    let e = match self.peek() {
                        Some(e) => e,
                        None => return Err(self.fail("unterminated escape")),
                    };
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let mut u = self.hex4()?;
                            if (0xD800..0xDC00).contains(&u) {
                                if self.b[self.i..].starts_with(b"\\u") {
                                    let save = self.i;
                                    self.i += 2;
                                    let lo = self.hex4()?;
                                    if (0xDC00..0xE000).contains(&lo) {
                                        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                                    } else {
                                        self.i = save;
                                        u = 0xFFFD;
                                    }
                                } else {
                                    u = 0xFFFD;
                                }
                            }
                            char::from_u32(u).unwrap_or('\u{FFFD}')
                        }
                        _ => {
                            self.i -= 1;
                            return Err(self.fail("invalid escape"));
                        }
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c if c < 0x20 => return Err(self.fail("control character in a string")),
                c => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }
}

/// Types decoded from a JSON value.
pub trait FromJson: Sized {
    fn from_json(v: &Value) -> Result<Self, Error>;
    /// The value of a missing object member (an error unless Option).
    fn missing(field: &str) -> Result<Self, Error> {
        Err(Error::Json(cat(&["missing field `", field, "`"])))
    }
}

/// Types encoded as a JSON value.
pub trait ToJson {
    fn to_json(&self) -> Value;
}

fn mismatch<T>(want: &str, v: &Value) -> Result<T, Error> {
    let got = match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    Err(Error::Json(cat(&["expected ", want, ", got ", got])))
}

impl FromJson for Value {
    fn from_json(v: &Value) -> Result<Self, Error> {
        Ok(v.clone())
    }
}
impl ToJson for Value {
    fn to_json(&self) -> Value {
        self.clone()
    }
}
impl FromJson for String {
    fn from_json(v: &Value) -> Result<Self, Error> {
        match v {
            Value::String(s) => Ok(s.clone()),
            _ => mismatch("a string", v),
        }
    }
}
impl ToJson for String {
    fn to_json(&self) -> Value {
        Value::String(self.clone())
    }
}
impl ToJson for str {
    fn to_json(&self) -> Value {
        Value::String(self.to_string())
    }
}
impl FromJson for bool {
    fn from_json(v: &Value) -> Result<Self, Error> {
        match v {
            Value::Bool(b) => Ok(*b),
            _ => mismatch("a boolean", v),
        }
    }
}
impl ToJson for bool {
    fn to_json(&self) -> Value {
        Value::Bool(*self)
    }
}
impl FromJson for f64 {
    fn from_json(v: &Value) -> Result<Self, Error> {
        match v {
            Value::Number(_) => v.as_f64().ok_or_else(|| Error::Json("number out of range".into())),
            _ => mismatch("a number", v),
        }
    }
}
impl ToJson for f64 {
    fn to_json(&self) -> Value {
        Value::float(*self)
    }
}
macro_rules! json_int {
    ($($t:ty),*) => {$(
        impl FromJson for $t {
            fn from_json(v: &Value) -> Result<Self, Error> {
                match v {
                    Value::Number(n) => n.parse::<$t>().map_err(|_| Error::Json(cat(&[concat!("expected an integer (", stringify!($t), "), got "), n]))),
                    _ => mismatch(concat!("an integer (", stringify!($t), ")"), v),
                }
            }
        }
        impl ToJson for $t {
            #[allow(unused_comparisons)]
            fn to_json(&self) -> Value {
                // Every one of these types fits i64 when negative, u64 otherwise.
                Value::Number(if *self < 0 { itoa(*self as i64) } else { utoa(*self as u64) })
            }
        }
    )*};
}
json_int!(i32, i64, u32, u64, usize);

impl<T: FromJson> FromJson for Option<T> {
    fn from_json(v: &Value) -> Result<Self, Error> {
        match v {
            Value::Null => Ok(None),
            _ => T::from_json(v).map(Some),
        }
    }
    fn missing(_: &str) -> Result<Self, Error> {
        Ok(None)
    }
}
impl<T: ToJson> ToJson for Option<T> {
    fn to_json(&self) -> Value {
        match self {
            Some(v) => v.to_json(),
            None => Value::Null,
        }
    }
}
impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(v: &Value) -> Result<Self, Error> {
        match v {
            Value::Array(a) => a.iter().enumerate().map(|(i, x)| T::from_json(x).map_err(|e| e.context(&cat(&["[", &utoa(i as u64), "]"])))).collect(),
            _ => mismatch("an array", v),
        }
    }
}
impl<T: ToJson> ToJson for Vec<T> {
    fn to_json(&self) -> Value {
        Value::Array(self.iter().map(|x| x.to_json()).collect())
    }
}
impl<T: ToJson> ToJson for [T] {
    fn to_json(&self) -> Value {
        Value::Array(self.iter().map(|x| x.to_json()).collect())
    }
}
impl<T: FromJson> FromJson for BTreeMap<String, T> {
    fn from_json(v: &Value) -> Result<Self, Error> {
        match v {
            Value::Object(m) => m.iter().map(|(k, x)| T::from_json(x).map(|t| (k.clone(), t)).map_err(|e| e.context(k))).collect(),
            _ => mismatch("an object", v),
        }
    }
}
impl<T: ToJson> ToJson for BTreeMap<String, T> {
    fn to_json(&self) -> Value {
        Value::Object(self.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
    }
}
impl<T: ToJson + ?Sized> ToJson for &T {
    fn to_json(&self) -> Value {
        (**self).to_json()
    }
}

/// Decodes member `field` of an object (used by `json_struct!`).
pub fn field<T: FromJson>(v: &Value, field: &str) -> Result<T, Error> {
    match v.get(field) {
        Some(x) => T::from_json(x).map_err(|e| e.context(&cat(&["field `", field, "`"]))),
        None => T::missing(field),
    }
}

/// Declares a struct with FromJson and ToJson implementations; members
/// map to JSON keys of the same name, `Option` members may be missing.
///
/// ```text
/// reef::json_struct! { pub struct Input { name: String, times: Option<u32> } }
/// ```
#[macro_export]
macro_rules! json_struct {
    ($(#[$m:meta])* $vis:vis struct $name:ident { $($fvis:vis $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])* $vis struct $name { $($fvis $field: $ty),* }
        impl $crate::reef::FromJson for $name {
            fn from_json(v: &$crate::reef::Value) -> Result<Self, $crate::reef::Error> {
                if !matches!(v, $crate::reef::Value::Object(_)) {
                    return Err($crate::reef::Error::Json(String::from("expected an object")));
                }
                Ok($name { $($field: $crate::reef::field(v, stringify!($field))?),* })
            }
        }
        impl $crate::reef::ToJson for $name {
            fn to_json(&self) -> $crate::reef::Value {
                let mut o = $crate::reef::Value::object();
                $(o.set(stringify!($field), $crate::reef::ToJson::to_json(&self.$field));)*
                o
            }
        }
    };
}
pub use json_struct;

// ---------------------------------------------------------------- base64

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard padded base64.
pub fn base64_encode(b: &[u8]) -> String {
    let mut out = String::with_capacity((b.len() + 2) / 3 * 4);
    for c in b.chunks(3) {
        let v = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        out.push(B64[(v >> 18) as usize] as char);
        out.push(B64[(v >> 12 & 63) as usize] as char);
        out.push(if c.len() > 1 { B64[(v >> 6 & 63) as usize] as char } else { '=' });
        out.push(if c.len() > 2 { B64[(v & 63) as usize] as char } else { '=' });
    }
    out
}

/// Decodes standard base64 (padding optional); None if malformed.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        if c == b'=' {
            break;
        }
        let d = B64.iter().position(|&x| x == c)? as u32;
        acc = acc << 6 | d;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

// ---------------------------------------------------------------- capabilities

type CapFn = unsafe extern "C" fn(Handle, Handle) -> i64;

/// Runs one capability: JSON request, optional payload, raw response.
pub fn call(f: CapFn, req: &Value, data: Option<&[u8]>) -> Result<Vec<u8>, Error> {
    let rq = store(req.encode().as_bytes());
    let d = match data {
        Some(b) => store(b),
        None => 0,
    };
    let r = unsafe { f(rq, d) };
    unsafe {
        x_free(rq);
        if d != 0 {
            x_free(d);
        }
    }
    if r < 0 {
        let h = (-r) as u64;
        let doc = load(h);
        unsafe { x_free(h) };
        return Err(Error::from_doc(&doc));
    }
    if r == 0 {
        return Ok(Vec::new());
    }
    let out = load(r as u64);
    unsafe { x_free(r as u64) };
    Ok(out)
}

fn call_json(f: CapFn, req: &Value, data: Option<&[u8]>) -> Result<Value, Error> {
    let b = call(f, req, data)?;
    Value::parse(&b).map_err(|e| Error::Json(cat(&["capability response: ", &e])))
}

fn path_req(path: &str) -> Value {
    Value::object().with("path", path)
}

/// A file as fs list/stat describe it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileInfo {
    pub name: String,
    /// The guest path (stat only).
    pub path: String,
    pub size: i64,
    pub dir: bool,
    /// "file", "dir", "symlink" or "other".
    pub kind: String,
    /// Permission bits in octal ("0644").
    pub mode: String,
    /// RFC 3339 modification time (UTC).
    pub mtime: String,
}

impl FileInfo {
    fn of(v: &Value) -> FileInfo {
        FileInfo { name: v.str_field("name"), path: v.str_field("path"), size: v.int_field("size"), dir: v.bool_field("dir"), kind: v.str_field("type"), mode: v.str_field("mode"), mtime: v.str_field("mtime") }
    }
}

/// Filesystem capability: guest paths such as "/data/notes.txt".
pub mod fs {
    use super::*;

    /// The whole file.
    pub fn read(path: &str) -> Result<Vec<u8>, Error> {
        call(reef_fs_read, &path_req(path), None)
    }
    /// Up to `length` bytes from `offset`.
    pub fn read_range(path: &str, offset: i64, length: i64) -> Result<Vec<u8>, Error> {
        call(reef_fs_read, &path_req(path).with("offset", &offset).with("length", &length), None)
    }
    /// The file as UTF-8 text.
    pub fn read_string(path: &str) -> Result<String, Error> {
        read(path).map(|b| String::from_utf8_lossy(&b).into_owned())
    }
    /// Replaces the file atomically; `create_dirs` makes missing parents.
    pub fn write(path: &str, data: &[u8], create_dirs: bool) -> Result<(), Error> {
        let mut r = path_req(path);
        if create_dirs {
            r.set("create_dirs", Value::Bool(true));
        }
        call(reef_fs_write, &r, Some(data)).map(|_| ())
    }
    pub fn append(path: &str, data: &[u8]) -> Result<(), Error> {
        call(reef_fs_append, &path_req(path), Some(data)).map(|_| ())
    }
    pub fn list(path: &str) -> Result<Vec<FileInfo>, Error> {
        let v = call_json(reef_fs_list, &path_req(path), None)?;
        Ok(v.as_array().map(|a| a.iter().map(FileInfo::of).collect()).unwrap_or_default())
    }
    pub fn stat(path: &str) -> Result<FileInfo, Error> {
        call_json(reef_fs_stat, &path_req(path), None).map(|v| FileInfo::of(&v))
    }
    pub fn mkdir(path: &str, parents: bool) -> Result<(), Error> {
        call(reef_fs_mkdir, &path_req(path).with("parents", &parents), None).map(|_| ())
    }
    pub fn remove(path: &str, recursive: bool) -> Result<(), Error> {
        call(reef_fs_remove, &path_req(path).with("recursive", &recursive), None).map(|_| ())
    }
    pub fn rename(from: &str, to: &str) -> Result<(), Error> {
        call(reef_fs_rename, &Value::object().with("from", from).with("to", to), None).map(|_| ())
    }
    /// Guest paths matching an absolute pattern ("**" spans directories).
    pub fn glob(pattern: &str) -> Result<Vec<String>, Error> {
        let v = call_json(reef_fs_glob, &Value::object().with("pattern", pattern), None)?;
        Vec::<String>::from_json(&v)
    }
}

/// HTTP capability.
pub mod http {
    use super::*;

    /// One request; build with `Request::get(url)` and the `with_*` methods.
    #[derive(Clone, Debug, Default)]
    pub struct Request {
        pub method: String,
        pub url: String,
        pub headers: Vec<(String, String)>,
        pub body: Option<Vec<u8>>,
        pub timeout_ms: i64,
        pub max_bytes: i64,
        pub no_redirects: bool,
    }

    impl Request {
        pub fn get(url: &str) -> Request {
            Request { method: "GET".into(), url: url.into(), ..Default::default() }
        }
        pub fn new(method: &str, url: &str) -> Request {
            Request { method: method.into(), url: url.into(), ..Default::default() }
        }
        /// Adds a header; `{{secret:NAME}}` in the value is filled by the host.
        pub fn with_header(mut self, k: &str, v: &str) -> Request {
            self.headers.push((k.into(), v.into()));
            self
        }
        pub fn with_body(mut self, b: &[u8]) -> Request {
            self.body = Some(b.to_vec());
            self
        }
        fn json(&self) -> Value {
            let mut o = Value::object();
            if !self.method.is_empty() {
                o.set("method", Value::String(self.method.clone()));
            }
            o.set("url", Value::String(self.url.clone()));
            if !self.headers.is_empty() {
                o.set("headers", Value::Object(self.headers.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()));
            }
            if self.timeout_ms > 0 {
                o.set("timeout_ms", Value::int(self.timeout_ms));
            }
            if self.max_bytes > 0 {
                o.set("max_bytes", Value::int(self.max_bytes));
            }
            if self.no_redirects {
                o.set("follow_redirects", Value::Bool(false));
            }
            o
        }
    }

    /// The answer; any HTTP status is a successful call.
    #[derive(Clone, Debug, Default)]
    pub struct Response {
        pub status: u16,
        pub headers: Vec<(String, String)>,
        /// The final URL after redirects.
        pub url: String,
        pub body: Vec<u8>,
    }

    impl Response {
        /// A header value (canonical name, case-insensitive match).
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
        }
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.body).into_owned()
        }
    }

    /// Makes one request through the host.
    pub fn fetch(r: &Request) -> Result<Response, Error> {
        let b = call(reef_http_fetch, &r.json(), r.body.as_deref())?;
        if b.len() < 4 {
            return Err(Error::Json("http response shorter than its header".into()));
        }
        let n = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        if n > b.len() - 4 {
            return Err(Error::Json("http response head past its end".into()));
        }
        let head = Value::parse(&b[4..4 + n]).map_err(Error::Json)?;
        let headers = match head.get("headers") {
            Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect(),
            _ => Vec::new(),
        };
        Ok(Response { status: head.int_field("status") as u16, headers, url: head.str_field("url"), body: b[4 + n..].to_vec() })
    }

    pub fn get(url: &str) -> Result<Response, Error> {
        fetch(&Request::get(url))
    }
}

/// Headless browser capability.
pub mod browser {
    use super::*;

    fn url_req(url: &str) -> Value {
        Value::object().with("url", url)
    }
    /// The visible text of a page.
    pub fn text(url: &str) -> Result<String, Error> {
        call(reef_browser_text, &url_req(url), None).map(|b| String::from_utf8_lossy(&b).into_owned())
    }
    /// The page HTML, or the element matching `selector` ("" = document).
    pub fn html(url: &str, selector: &str) -> Result<String, Error> {
        let mut r = url_req(url);
        if !selector.is_empty() {
            r.set("selector", Value::String(selector.into()));
        }
        call(reef_browser_html, &r, None).map(|b| String::from_utf8_lossy(&b).into_owned())
    }
    /// A PNG of the viewport, the full page, or one element.
    pub fn screenshot(url: &str, selector: &str, full_page: bool, width: u32, height: u32) -> Result<Vec<u8>, Error> {
        let mut r = url_req(url);
        if !selector.is_empty() {
            r.set("selector", Value::String(selector.into()));
        }
        if full_page {
            r.set("full_page", Value::Bool(true));
        }
        if width > 0 {
            r.set("width", Value::int(width as i64));
        }
        if height > 0 {
            r.set("height", Value::int(height as i64));
        }
        call(reef_browser_screenshot, &r, None)
    }
    pub fn pdf(url: &str) -> Result<Vec<u8>, Error> {
        call(reef_browser_pdf, &url_req(url), None)
    }
    /// One action of `run`.
    pub enum Action<'a> {
        Navigate(&'a str),
        Click(&'a str),
        Type(&'a str, &'a str),
        Wait(&'a str),
        Text(&'a str),
        Attr(&'a str, &'a str),
        /// "" = the viewport.
        Screenshot(&'a str),
        Eval(&'a str),
    }
    impl<'a> Action<'a> {
        fn json(&self) -> Value {
            let s = |x: &str| Value::String(x.to_string());
            let (k, v) = match self {
                Action::Navigate(u) => ("navigate", s(u)),
                Action::Click(x) => ("click", s(x)),
                Action::Type(sel, t) => ("type", Value::object().with("selector", *sel).with("text", *t)),
                Action::Wait(x) => ("wait", s(x)),
                Action::Text(x) => ("text", s(x)),
                Action::Attr(sel, n) => ("attr", Value::object().with("selector", *sel).with("name", *n)),
                Action::Screenshot(x) => ("screenshot", if x.is_empty() { Value::Null } else { s(x) }),
                Action::Eval(js) => ("eval", s(js)),
            };
            Value::Object(vec![(k.to_string(), v)])
        }
    }
    /// Runs actions in one page (url "" when the first action navigates).
    /// The answer is {"results":[{"step","action","ok","text"?,"value"?,
    /// "png"?(base64),"error"?}],"completed":N}; it stops at the first
    /// failing action.
    pub fn run(url: &str, actions: &[Action]) -> Result<Value, Error> {
        let mut r = Value::object();
        if !url.is_empty() {
            r.set("url", Value::String(url.into()));
        }
        r.set("actions", Value::Array(actions.iter().map(|a| a.json()).collect()));
        call_json(reef_browser_run, &r, None)
    }
}

/// Mail capability (accounts configured by the operator).
pub mod mail {
    use super::*;

    #[derive(Clone, Debug, Default)]
    pub struct Attachment {
        pub name: String,
        pub mime_type: String,
        pub content: Vec<u8>,
    }

    /// A message to send; at least one of text/html.
    #[derive(Clone, Debug, Default)]
    pub struct Message {
        pub account: String,
        pub to: Vec<String>,
        pub cc: Vec<String>,
        pub bcc: Vec<String>,
        pub reply_to: String,
        pub subject: String,
        pub text: String,
        pub html: String,
        pub attachments: Vec<Attachment>,
    }

    fn opt(o: &mut Value, k: &str, v: &str) {
        if !v.is_empty() {
            o.set(k, Value::String(v.into()));
        }
    }

    /// Sends a message; returns its Message-ID.
    pub fn send(m: &Message) -> Result<String, Error> {
        let mut o = Value::object();
        opt(&mut o, "account", &m.account);
        o.set("to", m.to.to_json());
        if !m.cc.is_empty() {
            o.set("cc", m.cc.to_json());
        }
        if !m.bcc.is_empty() {
            o.set("bcc", m.bcc.to_json());
        }
        opt(&mut o, "reply_to", &m.reply_to);
        o.set("subject", Value::String(m.subject.clone()));
        opt(&mut o, "text", &m.text);
        opt(&mut o, "html", &m.html);
        if !m.attachments.is_empty() {
            let list = m.attachments.iter().map(|a| {
                let mut x = Value::object().with("name", &a.name).with("content_base64", &base64_encode(&a.content));
                opt(&mut x, "type", &a.mime_type);
                x
            });
            o.set("attachments", Value::Array(list.collect()));
        }
        call_json(reef_mail_send, &o, None).map(|v| v.str_field("message_id"))
    }

    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct Mailbox {
        pub name: String,
        pub messages: i64,
        pub unseen: i64,
    }

    /// The granted mailboxes of an account ("" = the only one granted).
    pub fn mailboxes(account: &str) -> Result<Vec<Mailbox>, Error> {
        let mut o = Value::object();
        opt(&mut o, "account", account);
        let v = call_json(reef_mail_mailboxes, &o, None)?;
        let list = v.get("mailboxes").and_then(|x| x.as_array()).cloned().unwrap_or_default();
        Ok(list.iter().map(|m| Mailbox { name: m.str_field("name"), messages: m.int_field("messages"), unseen: m.int_field("unseen") }).collect())
    }

    /// Search criteria (ANDed).
    #[derive(Clone, Debug, Default)]
    pub struct Query {
        pub account: String,
        pub mailbox: String,
        pub unseen: bool,
        pub since: String,
        pub from: String,
        pub subject: String,
        pub limit: u32,
        pub preview: bool,
    }

    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct Summary {
        pub uid: u32,
        /// "Name <address>" or the bare address, per sender.
        pub from: Vec<String>,
        pub subject: String,
        pub date: String,
        pub seen: bool,
        pub size: i64,
        pub preview: String,
    }

    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct SearchResult {
        pub mailbox: String,
        pub total: i64,
        pub messages: Vec<Summary>,
    }

    fn addrs(v: &Value, k: &str) -> Vec<String> {
        let list = v.get(k).and_then(|x| x.as_array()).cloned().unwrap_or_default();
        list.iter()
            .map(|a| {
                let (n, ad) = (a.str_field("name"), a.str_field("address"));
                if n.is_empty() {
                    ad
                } else {
                    cat(&[&n, " <", &ad, ">"])
                }
            })
            .collect()
    }

    pub fn search(q: &Query) -> Result<SearchResult, Error> {
        let mut o = Value::object();
        opt(&mut o, "account", &q.account);
        o.set("mailbox", Value::String(q.mailbox.clone()));
        if q.unseen {
            o.set("unseen", Value::Bool(true));
        }
        opt(&mut o, "since", &q.since);
        opt(&mut o, "from", &q.from);
        opt(&mut o, "subject", &q.subject);
        if q.limit > 0 {
            o.set("limit", Value::int(q.limit as i64));
        }
        if q.preview {
            o.set("preview", Value::Bool(true));
        }
        let v = call_json(reef_mail_search, &o, None)?;
        let list = v.get("messages").and_then(|x| x.as_array()).cloned().unwrap_or_default();
        Ok(SearchResult {
            mailbox: v.str_field("mailbox"),
            total: v.int_field("total"),
            messages: list
                .iter()
                .map(|m| Summary { uid: m.int_field("uid") as u32, from: addrs(m, "from"), subject: m.str_field("subject"), date: m.str_field("date"), seen: m.bool_field("seen"), size: m.int_field("size"), preview: m.str_field("preview") })
                .collect(),
        })
    }

    /// A fetched message: the common fields, and `doc` with everything the
    /// host sent (headers, cc, attachments…; see hostfuncs/mail/README.md).
    #[derive(Clone, Debug, PartialEq)]
    pub struct Fetched {
        pub uid: u32,
        pub from: Vec<String>,
        pub to: Vec<String>,
        pub subject: String,
        pub date: String,
        pub text: String,
        pub html: String,
        pub doc: Value,
    }

    pub fn fetch(account: &str, mailbox: &str, uid: u32, body: bool, attachments: bool) -> Result<Fetched, Error> {
        let mut o = Value::object();
        opt(&mut o, "account", account);
        o.set("mailbox", Value::String(mailbox.into()));
        o.set("uid", Value::int(uid as i64));
        o.set("body", Value::Bool(body));
        o.set("attachments", Value::Bool(attachments));
        let v = call_json(reef_mail_fetch, &o, None)?;
        Ok(Fetched { uid: v.int_field("uid") as u32, from: addrs(&v, "from"), to: addrs(&v, "to"), subject: v.str_field("subject"), date: v.str_field("date"), text: v.str_field("text"), html: v.str_field("html"), doc: v })
    }

    fn uids_req(account: &str, mailbox: &str, uids: &[u32]) -> Value {
        let mut o = Value::object();
        opt(&mut o, "account", account);
        o.set("mailbox", Value::String(mailbox.into()));
        o.set("uids", uids.to_vec().to_json());
        o
    }

    /// Marks messages seen; returns the UIDs that existed.
    pub fn mark_seen(account: &str, mailbox: &str, uids: &[u32]) -> Result<Vec<u32>, Error> {
        let v = call_json(reef_mail_mark_seen, &uids_req(account, mailbox, uids), None)?;
        v.get("uids").map(Vec::<u32>::from_json).unwrap_or(Ok(Vec::new()))
    }

    /// Moves messages to another granted mailbox; returns the UIDs moved.
    pub fn move_to(account: &str, mailbox: &str, uids: &[u32], to: &str) -> Result<Vec<u32>, Error> {
        let mut r = uids_req(account, mailbox, uids);
        r.set("to", Value::String(to.into()));
        let v = call_json(reef_mail_move, &r, None)?;
        v.get("moved").map(Vec::<u32>::from_json).unwrap_or(Ok(Vec::new()))
    }
}

/// Key-value capability: a private namespace per skill.
pub mod kv {
    use super::*;

    fn key_req(key: &str) -> Value {
        Value::object().with("key", key)
    }
    /// The value of key, or None if it does not exist.
    pub fn get(key: &str) -> Result<Option<Vec<u8>>, Error> {
        match call(reef_kv_get, &key_req(key), None) {
            Ok(b) => Ok(Some(b)),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
    pub fn set(key: &str, value: &[u8]) -> Result<(), Error> {
        call(reef_kv_set, &key_req(key), Some(value)).map(|_| ())
    }
    /// Removes key; true if it existed.
    pub fn delete(key: &str) -> Result<bool, Error> {
        call_json(reef_kv_delete, &key_req(key), None).map(|v| v.bool_field("deleted"))
    }
    /// Keys in byte order after `after` ("" = from the start); the bool
    /// says whether more keys match.
    pub fn list(prefix: &str, after: &str, limit: u32) -> Result<(Vec<String>, bool), Error> {
        let mut o = Value::object();
        if !prefix.is_empty() {
            o.set("prefix", Value::String(prefix.into()));
        }
        if !after.is_empty() {
            o.set("after", Value::String(after.into()));
        }
        if limit > 0 {
            o.set("limit", Value::int(limit as i64));
        }
        let v = call_json(reef_kv_list, &o, None)?;
        let keys = v.get("keys").map(Vec::<String>::from_json).unwrap_or(Ok(Vec::new()))?;
        Ok((keys, v.bool_field("more")))
    }
    /// The outcome of a compare-and-swap (a failed comparison is not an error).
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct Cas {
        pub swapped: bool,
        pub present: bool,
        /// The current value when the swap did not happen.
        pub current: Option<Vec<u8>>,
    }
    /// Writes `new` (or deletes with None) only if key holds `old`
    /// (None: key must not exist), atomically.
    pub fn cas(key: &str, old: Option<&[u8]>, new: Option<&[u8]>) -> Result<Cas, Error> {
        let mut o = key_req(key);
        o.set("old_present", Value::Bool(old.is_some()));
        if let Some(b) = old {
            if !b.is_empty() {
                o.set("old", Value::String(base64_encode(b)));
            }
        }
        if new.is_none() {
            o.set("delete", Value::Bool(true));
        }
        let v = call_json(reef_kv_cas, &o, Some(new.unwrap_or(&[])))?;
        let current = v.get("current").and_then(|c| c.as_str()).and_then(base64_decode);
        Ok(Cas { swapped: v.bool_field("swapped"), present: v.bool_field("present"), current })
    }
}
