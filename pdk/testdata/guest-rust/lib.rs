//! PDK test guest in Rust (see ../README.md).
#[path = "../../rust/reef.rs"]
mod reef;

reef::json_struct! { pub struct Input { name: String } }
reef::json_struct! { pub struct Output { greeting: String } }

#[no_mangle]
pub extern "C" fn greet() -> i32 {
    reef::run(|i: Input| -> Result<Output, reef::Error> {
        let w = reef::config("greeting").unwrap_or_else(|| "Hello".to_string());
        Ok(Output { greeting: format!("{}, {}!", w, i.name) })
    })
}

#[no_mangle]
pub extern "C" fn count() -> i32 {
    let n: i64 = reef::var_get("n").and_then(|v| String::from_utf8(v).ok()).and_then(|s| s.parse().ok()).unwrap_or(0);
    let s = (n + 1).to_string();
    reef::var_set("n", Some(s.as_bytes()));
    reef::output_str(&s);
    0
}

#[no_mangle]
pub extern "C" fn kv() -> i32 {
    reef::run_str(|input| {
        let (k, v) = input.split_once('=').ok_or("want key=value")?;
        if let Err(e) = reef::kv::set(k, v.as_bytes()) {
            if !e.is_denied() && matches!(e, reef::Error::Denied(_)) {
                return Err(reef::Error::msg("inconsistent denial"));
            }
            return Err(e);
        }
        let got = reef::kv::get(k)?.ok_or("key vanished")?;
        Ok(String::from_utf8_lossy(&got).into_owned())
    })
}

#[no_mangle]
pub extern "C" fn fsread() -> i32 {
    reef::run_bytes(|p| reef::fs::read(&String::from_utf8_lossy(&p)))
}

#[no_mangle]
pub extern "C" fn fswrite() -> i32 {
    reef::run_str(|input| {
        let (p, c) = input.split_once('=').ok_or("want path=content")?;
        reef::fs::write(p, c.as_bytes(), true)?;
        Ok(reef::fs::stat(p)?.size.to_string())
    })
}

#[no_mangle]
pub extern "C" fn logs() -> i32 {
    reef::log(reef::Level::Info, "hello from the Rust guest");
    reef::output_str("logged");
    0
}
