//! base64: encode and decode base64 (standard and URL-safe alphabets).
#[path = "../../pdk/rust/reef.rs"]
mod reef;

use reef::{Error, Value};

const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

reef::json_struct! { struct EncodeInput { text: Option<String>, hex: Option<String>, url_safe: Option<bool>, padding: Option<bool> } }
reef::json_struct! { struct DecodeInput { base64: String } }

fn encode_bytes(b: &[u8], table: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity((b.len() + 2) / 3 * 4);
    for c in b.chunks(3) {
        let v = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        out.push(table[(v >> 18) as usize] as char);
        out.push(table[(v >> 12 & 63) as usize] as char);
        if c.len() > 1 {
            out.push(table[(v >> 6 & 63) as usize] as char);
        } else if pad {
            out.push('=');
        }
        if c.len() > 2 {
            out.push(table[(v & 63) as usize] as char);
        } else if pad {
            out.push('=');
        }
    }
    out
}

fn from_hex(s: &str) -> Result<Vec<u8>, Error> {
    let s: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    if s.len() % 2 != 0 {
        return Err(Error::msg("\"hex\" has an odd number of digits"));
    }
    let digit = |c: u8| -> Result<u8, Error> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(Error::msg(reef::cat(&["\"hex\" has a non-hex character ", &quote(c)]))),
        }
    };
    s.chunks(2).map(|p| Ok(digit(p[0])? << 4 | digit(p[1])?)).collect()
}

/// A byte as Rust's {:?} prints `b as char` ('*', '\'', '\u{1b}', 'é'),
/// without core::fmt (see the PDK README, "Size").
fn quote(b: u8) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::from("'");
    match b {
        b'\t' => s.push_str("\\t"),
        b'\r' => s.push_str("\\r"),
        b'\n' => s.push_str("\\n"),
        b'\'' => s.push_str("\\'"),
        b'\\' => s.push_str("\\\\"),
        0 => s.push_str("\\0"),
        0x20..=0x7e | 0xa1..=0xac | 0xae..=0xff => s.push(b as char),
        _ => {
            s.push_str("\\u{");
            if b >= 16 {
                s.push(H[(b >> 4) as usize] as char);
            }
            s.push(H[(b & 15) as usize] as char);
            s.push('}');
        }
    }
    s.push('\'');
    s
}

fn to_hex(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(H[(x >> 4) as usize] as char);
        s.push(H[(x & 15) as usize] as char);
    }
    s
}

/// Decodes either alphabet, padding optional, whitespace ignored. Errors
/// name the offending position.
fn decode_any(s: &str) -> Result<(Vec<u8>, bool), Error> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits, mut url, mut n) = (0u32, 0u32, false, 0usize);
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let d = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'-' => {
                url = true;
                62
            }
            b'_' => {
                url = true;
                63
            }
            b' ' | b'\n' | b'\r' | b'\t' => {
                i += 1;
                continue;
            }
            b'=' => {
                if bytes[i..].iter().any(|&x| x != b'=' && !x.is_ascii_whitespace()) {
                    return Err(Error::msg(reef::cat(&["invalid base64: data after padding at byte ", &reef::utoa(i as u64)])));
                }
                break;
            }
            _ => {
                return Err(Error::msg(reef::cat(&["invalid base64: unexpected character ", &quote(c), " at byte ", &reef::utoa(i as u64)])));
            }
        };
        acc = acc << 6 | d as u32;
        bits += 6;
        n += 1;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
        i += 1;
    }
    if n % 4 == 1 {
        return Err(Error::msg("invalid base64: truncated input (a lone final character)"));
    }
    Ok((out, url))
}

fn encode(in_: EncodeInput) -> Result<Value, Error> {
    let data = match (&in_.text, &in_.hex) {
        (Some(t), None) => t.as_bytes().to_vec(),
        (None, Some(h)) => from_hex(h)?,
        _ => return Err(Error::msg("give exactly one of \"text\" or \"hex\"")),
    };
    let url = in_.url_safe.unwrap_or(false);
    let pad = in_.padding.unwrap_or(!url);
    let s = encode_bytes(&data, if url { URL } else { STD }, pad);
    Ok(Value::object().with("base64", &s).with("bytes", &data.len()))
}

fn decode(in_: DecodeInput) -> Result<Value, Error> {
    let (b, url) = decode_any(&in_.base64)?;
    let mut o = Value::object()
        .with("bytes", &b.len())
        .with("alphabet", if url { "url" } else { "standard" });
    match String::from_utf8(b) {
        Ok(s) => {
            o = o.with("utf8", &true).with("text", &s);
        }
        Err(e) => {
            o = o.with("utf8", &false).with("hex", &to_hex(e.as_bytes()));
        }
    }
    Ok(o)
}

#[export_name = "encode"]
pub extern "C" fn encode_export() -> i32 {
    reef::run(encode)
}

#[export_name = "decode"]
pub extern "C" fn decode_export() -> i32 {
    reef::run(decode)
}
