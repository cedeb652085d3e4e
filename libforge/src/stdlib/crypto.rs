//! The `crypto` module (spec 11 §11.4): hex digests (`sha2`, `md-5`), HMAC-SHA256
//! (`hmac`), base64 (`base64`), hex (`hex`) and secure random bytes (`getrandom`).
//! Text is processed as its UTF-8 bytes; decoded bytes become text with invalid UTF-8
//! replaced by U+FFFD.

use base64::Engine as _;
use hmac::Mac as _;
use md5::Digest as _;

use crate::builtins::Registry;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::value::Value;

pub fn register(r: &mut Registry) {
    r.module("crypto", "sha256", sha256);
    r.module("crypto", "sha512", sha512);
    r.module("crypto", "md5", md5_hex);
    r.module("crypto", "hmac_sha256", hmac_sha256);
    r.module("crypto", "base64_encode", base64_encode);
    r.module("crypto", "base64_decode", base64_decode);
    r.module("crypto", "hex_encode", hex_encode);
    r.module("crypto", "hex_decode", hex_decode);
    r.module("crypto", "random_bytes", random_bytes);
}

/// The largest `random_bytes` length accepted (64 MiB), so a huge request fails with a
/// message instead of exhausting memory.
const MAX_RANDOM_BYTES: i64 = 1 << 26;

/// The String argument of `crypto.NAME`.
fn text<'a>(args: &'a [Value], name: &str) -> Result<&'a str> {
    match args.first().and_then(Value::as_str) {
        Some(s) => Ok(s),
        None => fail(format!("crypto.{name}() requires a string")),
    }
}

/// Bytes as text, invalid UTF-8 replaced by U+FFFD.
fn lossy(bytes: Vec<u8>) -> Value {
    match String::from_utf8(bytes) {
        Ok(s) => Value::string(s),
        Err(e) => Value::string(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

fn sha256(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let s = text(args, "sha256")?;
    Ok(Value::string(hex::encode(sha2::Sha256::digest(s.as_bytes()))))
}

fn sha512(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let s = text(args, "sha512")?;
    Ok(Value::string(hex::encode(sha2::Sha512::digest(s.as_bytes()))))
}

fn md5_hex(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let s = text(args, "md5")?;
    Ok(Value::string(hex::encode(md5::Md5::digest(s.as_bytes()))))
}

/// HMAC-SHA256 of `message` under `key` (message first), as lower-case hex.
fn hmac_sha256(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (Some(message), Some(key)) = (args.first().and_then(Value::as_str), args.get(1).and_then(Value::as_str)) else {
        return fail("crypto.hmac_sha256() requires (message, key) strings");
    };
    // HMAC accepts keys of any length, so this construction cannot fail.
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()) else {
        return fail("crypto.hmac_sha256() invalid key");
    };
    mac.update(message.as_bytes());
    Ok(Value::string(hex::encode(mac.finalize().into_bytes())))
}

fn base64_encode(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let s = text(args, "base64_encode")?;
    Ok(Value::string(base64::engine::general_purpose::STANDARD.encode(s.as_bytes())))
}

/// Strict standard-alphabet decoding with canonical padding.
fn base64_decode(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let s = text(args, "base64_decode")?;
    match base64::engine::general_purpose::STANDARD.decode(s.as_bytes()) {
        Ok(bytes) => Ok(lossy(bytes)),
        Err(e) => fail(format!("base64 decode error: {e}")),
    }
}

fn hex_encode(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let s = text(args, "hex_encode")?;
    Ok(Value::string(hex::encode(s.as_bytes())))
}

fn hex_decode(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let s = text(args, "hex_decode")?;
    match hex::decode(s) {
        Ok(bytes) => Ok(lossy(bytes)),
        Err(e) => fail(format!("hex decode error: {e}")),
    }
}

/// `n` bytes from the operating system's secure generator, as lower-case hex.
fn random_bytes(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(n) = args.first().and_then(Value::as_int) else {
        return fail("crypto.random_bytes() requires an integer length");
    };
    if n > MAX_RANDOM_BYTES {
        return fail(format!("crypto.random_bytes() length too large: {n} (at most {MAX_RANDOM_BYTES})"));
    }
    let mut buf = vec![0u8; usize::try_from(n).unwrap_or(0)];
    if let Err(e) = getrandom::fill(&mut buf) {
        return fail(format!("crypto.random_bytes() error: {e}"));
    }
    Ok(Value::string(hex::encode(buf)))
}

#[cfg(test)]
mod tests {
    use crate::stdlib::testing::{call, call_err, i, keys_of, s, say};
    use crate::value::Value;

    fn c(name: &str, arg: &str) -> String {
        say("crypto", name, &[s(arg)])
    }

    #[test]
    fn members() {
        assert_eq!(
            keys_of(&crate::builtins::module_object("crypto")),
            [
                "sha256",
                "sha512",
                "md5",
                "hmac_sha256",
                "base64_encode",
                "base64_decode",
                "hex_encode",
                "hex_decode",
                "random_bytes"
            ]
        );
    }

    #[test]
    fn hashes() {
        assert_eq!(c("sha256", "hello"), "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert_eq!(c("sha256", ""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(c("md5", "hello"), "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(c("md5", "The quick brown fox jumps over the lazy dog"), "9e107d9d372bb6826bd81d3542a419d6");
        assert_eq!(
            c("sha512", "abc"),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
        assert_eq!(c("sha512", "x").len(), 128);
        assert_eq!(
            say("crypto", "hmac_sha256", &[s("message"), s("key")]),
            "6e9ef29b75fffc5b7abae527d58fdadb2fe42e7219011976917343065f58ed4a"
        );
    }

    #[test]
    fn base64() {
        assert_eq!(c("base64_encode", "hello"), "aGVsbG8=");
        assert_eq!(c("base64_encode", "Hello, World!"), "SGVsbG8sIFdvcmxkIQ==");
        assert_eq!(c("base64_encode", ""), "");
        assert_eq!(c("base64_encode", "a"), "YQ==");
        assert_eq!(c("base64_encode", "ab"), "YWI=");
        assert_eq!(c("base64_encode", "user:pass"), "dXNlcjpwYXNz");
        assert_eq!(c("base64_decode", "aGVsbG8="), "hello");
        assert_eq!(c("base64_decode", &c("base64_encode", "round trip ✓")), "round trip ✓");
        assert_eq!(c("base64_decode", "/w=="), "\u{FFFD}");
        assert_eq!(call_err("crypto", "base64_decode", &[s("aGVsbG8")]), "base64 decode error: Invalid padding");
        assert_eq!(
            call_err("crypto", "base64_decode", &[s("not base64!")]),
            "base64 decode error: Invalid symbol 32, offset 3."
        );
    }

    #[test]
    fn hex() {
        assert_eq!(c("hex_encode", "hi"), "6869");
        assert_eq!(c("hex_encode", "é"), "c3a9");
        assert_eq!(c("hex_encode", ""), "");
        assert_eq!(c("hex_decode", "6869"), "hi");
        assert_eq!(c("hex_decode", "48454C4C4F"), "HELLO");
        assert_eq!(c("hex_decode", "1b"), "\u{1b}");
        assert_eq!(c("hex_decode", "ff41"), "\u{FFFD}A");
        assert_eq!(call_err("crypto", "hex_decode", &[s("abc")]), "hex decode error: Odd number of digits");
        assert_eq!(
            call_err("crypto", "hex_decode", &[s("zz")]),
            "hex decode error: Invalid character 'z' at position 0"
        );
    }

    #[test]
    fn random() {
        let rb = call("crypto", "random_bytes", &[i(8)]);
        let t = rb.as_str().unwrap();
        assert_eq!(t.len(), 16);
        assert!(t.chars().all(|ch| ch.is_ascii_hexdigit() && !ch.is_ascii_uppercase()));
        assert_ne!(say("crypto", "random_bytes", &[i(16)]), say("crypto", "random_bytes", &[i(16)]));
        assert_eq!(say("crypto", "random_bytes", &[i(0)]), "");
        assert_eq!(say("crypto", "random_bytes", &[i(-5)]), "");
        assert_eq!(call_err("crypto", "random_bytes", &[s("8")]), "crypto.random_bytes() requires an integer length");
        assert!(
            call_err("crypto", "random_bytes", &[i(i64::MAX)]).starts_with("crypto.random_bytes() length too large")
        );
    }

    #[test]
    fn errors() {
        for name in ["sha256", "md5", "sha512", "base64_encode", "base64_decode", "hex_encode", "hex_decode"] {
            assert_eq!(call_err("crypto", name, &[i(1)]), format!("crypto.{name}() requires a string"));
            assert_eq!(call_err("crypto", name, &[]), format!("crypto.{name}() requires a string"));
        }
        assert_eq!(
            call_err("crypto", "hmac_sha256", &[s("m")]),
            "crypto.hmac_sha256() requires (message, key) strings"
        );
        assert_eq!(
            call_err("crypto", "hmac_sha256", &[Value::NULL, s("k")]),
            "crypto.hmac_sha256() requires (message, key) strings"
        );
    }
}
