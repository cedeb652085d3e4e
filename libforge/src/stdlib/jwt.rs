//! The `jwt` module (spec 11 §11.18): compact JWS tokens signed and verified with
//! `jsonwebtoken` (HMAC, RSA and ECDSA through `ring`).
//!
//! `sign` assembles the token itself so that the header is written as
//! `{"alg":…,"typ":"JWT"}` and the payload with its keys sorted; the signature comes
//! from `jsonwebtoken::crypto::sign`. `verify` lets `jsonwebtoken` check the format and
//! the signature for the algorithm named in the token's header (`none` cannot even be
//! named there), then checks `exp` and `nbf` itself with zero leeway.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};

use crate::builtins::Registry;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::stdlib::json::{from_json, to_json};
use crate::value::{map_with_capacity, Key, Value};

pub fn register(r: &mut Registry) {
    r.module("jwt", "sign", sign);
    r.module("jwt", "verify", verify);
    r.module("jwt", "decode", decode);
    r.module("jwt", "valid", valid);
}

/// The current Unix time in seconds.
fn now() -> i64 {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// The signing algorithms `sign` accepts, by upper-cased name.
fn sign_algorithm(name: &str) -> Result<Algorithm> {
    Ok(match name {
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "NONE" => return fail("algorithm 'none' is not allowed for security reasons"),
        other => return fail(format!("unsupported JWT algorithm: {other}")),
    })
}

/// A duration such as `"1h"`, `"-10s"` or `"500ms"`, in whole seconds (milliseconds are
/// divided by 1000, rounding toward zero).
pub fn parse_duration(text: &str) -> Result<i64> {
    if text.is_empty() {
        return fail("empty duration string");
    }
    let (number, per_unit, divisor) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1, 1000)
    } else {
        let Some(unit) = text.chars().last() else {
            return fail("empty duration string");
        };
        let seconds = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return fail(format!("invalid duration unit in '{text}'")),
        };
        (&text[..text.len() - unit.len_utf8()], seconds, 1)
    };
    let Some(n) = number.parse::<i64>().ok().and_then(|n| n.checked_mul(per_unit)) else {
        return fail(format!("invalid duration number in '{text}'"));
    };
    Ok(n / divisor)
}

/// `v` with the keys of every object sorted by code point.
fn sorted(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        J::Object(m) => {
            let mut entries: Vec<(String, J)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            J::Object(entries.into_iter().map(|(k, x)| (k, sorted(x))).collect())
        }
        J::Array(items) => J::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn sign(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(claims) = args.first().and_then(Value::as_object) else {
        return fail("jwt.sign() requires an object as first argument (claims)");
    };
    let Some(secret) = args.get(1).and_then(Value::as_str) else {
        return fail("jwt.sign() requires a string as second argument (secret)");
    };
    let opts = args.get(2).and_then(Value::as_object);
    let opt_str = |k: &str| opts.and_then(|o| o.get(k)).and_then(Value::as_str);

    let alg = match opt_str("algorithm") {
        Some(name) => sign_algorithm(&name.to_uppercase())?,
        None => Algorithm::HS256,
    };
    let t = now();
    let mut payload = serde_json::Map::new();
    for (k, v) in claims {
        payload.insert(k.as_str().to_string(), to_json(v));
    }
    if let Some(d) = opt_str("expires") {
        payload.insert("exp".into(), serde_json::Value::from(t.saturating_add(parse_duration(d)?)));
    }
    if let Some(d) = opt_str("not_before") {
        payload.insert("nbf".into(), serde_json::Value::from(t.saturating_add(parse_duration(d)?)));
    }
    for (opt, claim) in [("issuer", "iss"), ("audience", "aud"), ("subject", "sub")] {
        if let Some(s) = opt_str(opt) {
            payload.insert(claim.into(), serde_json::Value::from(s));
        }
    }
    if !claims.contains_key("iat") {
        payload.insert("iat".into(), serde_json::Value::from(t));
    }

    let key = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => EncodingKey::from_secret(secret.as_bytes()),
        Algorithm::ES256 | Algorithm::ES384 => match EncodingKey::from_ec_pem(secret.as_bytes()) {
            Ok(k) => k,
            Err(e) => return fail(format!("invalid EC PEM key: {e}")),
        },
        _ => match EncodingKey::from_rsa_pem(secret.as_bytes()) {
            Ok(k) => k,
            Err(e) => return fail(format!("invalid RSA PEM key: {e}")),
        },
    };
    let header = serde_json::json!({ "alg": format!("{alg:?}"), "typ": "JWT" });
    let payload_text = serde_json::Value::Object(payload);
    let (Ok(h), Ok(p)) = (serde_json::to_string(&header), serde_json::to_string(&sorted(payload_text))) else {
        return fail("jwt.sign error: cannot serialize the claims");
    };
    let message = format!("{}.{}", b64(h.as_bytes()), b64(p.as_bytes()));
    match jsonwebtoken::crypto::sign(message.as_bytes(), &key, alg) {
        Ok(signature) => Ok(Value::string(format!("{message}.{signature}"))),
        Err(e) => fail(format!("jwt.sign error: {e}")),
    }
}

/// Whether `key` holds a PEM public key or certificate (never an HMAC secret).
fn is_public_pem(key: &str) -> bool {
    key.contains("-----BEGIN") && (key.contains("PUBLIC KEY-----") || key.contains("CERTIFICATE-----"))
}

/// The claims of a token whose signature, `exp` and `nbf` check out, or the error.
pub fn verify_token(token: &str, secret: &str) -> Result<serde_json::Value> {
    let header = match jsonwebtoken::decode_header(token) {
        Ok(h) => h,
        Err(e) => return fail(format!("JWT decode error: {e}")),
    };
    let alg = header.alg;
    let key = match alg {
        // A public key offered for an HMAC token is the algorithm-confusion attack (the
        // token was "signed" with the public key text as the HMAC secret): refuse it.
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 if is_public_pem(secret) => {
            return fail("JWT algorithm mismatch")
        }
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => DecodingKey::from_secret(secret.as_bytes()),
        Algorithm::ES256 | Algorithm::ES384 => match DecodingKey::from_ec_pem(secret.as_bytes()) {
            Ok(k) => k,
            Err(e) => return fail(format!("invalid EC PEM key: {e}")),
        },
        Algorithm::EdDSA => match DecodingKey::from_ed_pem(secret.as_bytes()) {
            Ok(k) => k,
            Err(e) => return fail(format!("invalid Ed PEM key: {e}")),
        },
        _ => match DecodingKey::from_rsa_pem(secret.as_bytes()) {
            Ok(k) => k,
            Err(e) => return fail(format!("invalid RSA PEM key: {e}")),
        },
    };
    let mut validation = Validation::new(alg);
    validation.leeway = 0;
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = match jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation) {
        Ok(data) => data.claims,
        Err(e) => {
            return fail(match e.kind() {
                ErrorKind::ExpiredSignature => "JWT expired".to_string(),
                ErrorKind::ImmatureSignature => "JWT not yet valid".to_string(),
                ErrorKind::InvalidSignature => "JWT signature verification failed".to_string(),
                ErrorKind::InvalidToken => "JWT invalid token format".to_string(),
                ErrorKind::InvalidAlgorithm => "JWT algorithm mismatch".to_string(),
                _ => format!("JWT verification error: {e}"),
            })
        }
    };
    let t = now() as f64;
    if claims.get("exp").and_then(serde_json::Value::as_f64).is_some_and(|exp| exp < t) {
        return fail("JWT expired");
    }
    if claims.get("nbf").and_then(serde_json::Value::as_f64).is_some_and(|nbf| nbf > t) {
        return fail("JWT not yet valid");
    }
    Ok(claims)
}

fn verify(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(token) = args.first().and_then(Value::as_str) else {
        return fail("jwt.verify() requires a string as first argument (token)");
    };
    let Some(secret) = args.get(1).and_then(Value::as_str) else {
        return fail("jwt.verify() requires a string as second argument (secret)");
    };
    verify_token(token, secret).map(|claims| from_json(&claims))
}

fn valid(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let ok = match (args.first().and_then(Value::as_str), args.get(1).and_then(Value::as_str)) {
        (Some(token), Some(secret)) => verify_token(token, secret).is_ok(),
        _ => false,
    };
    Ok(Value::bool(ok))
}

/// One base64url part of a token, parsed as JSON.
fn decode_part(part: &str, what: &str) -> Result<Value> {
    let bytes = match URL_SAFE_NO_PAD.decode(part) {
        Ok(b) => b,
        Err(e) => return fail(format!("jwt.decode() invalid {what} encoding: {e}")),
    };
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(doc) => Ok(from_json(&doc)),
        Err(e) => fail(format!("jwt.decode() invalid {what} JSON: {e}")),
    }
}

/// `{header, payload}` of a token, without verification.
fn decode(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(token) = args.first().and_then(Value::as_str) else {
        return fail("jwt.decode() requires a string as first argument (token)");
    };
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, _signature] = parts.as_slice() else {
        return fail("jwt.decode() invalid token format (expected 3 parts)");
    };
    let mut m = map_with_capacity(2);
    m.insert(Key::new("header"), decode_part(header, "header")?);
    m.insert(Key::new("payload"), decode_part(payload, "payload")?);
    Ok(Value::object(m))
}

#[cfg(test)]
mod tests {
    use super::{b64, now, parse_duration};
    use crate::stdlib::testing::{call, call_err, field, i, keys_of, obj, s, say, show};
    use crate::value::Value;

    // Test-only key pairs, generated for these tests with `openssl genpkey`.
    const RSA_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDDTXHfFtNWcmhZ
DAZV9OE2mBhJ0FbtjNk6Z3bXAT2ibA4zTVOKQqERz6tEreFJBae/jEGDpLhAWM2M
U5bniL6L0RHZWq9ZFOOX3JfyGSfK+kFTns6CHDU2MI0VpTqtFbSrWAAiW8ZkGdIY
6RhgkwOA6JrtStQQskKhVsvMpxzut6Ez81nAN4Oh3D7pW9inYlN0Awyv/tc2Mm3R
44IhrbHudsNspl1tzA4psqEFr5SxXm65ZArcOa1DhevV7ogdE5ln8880dsKhHx4y
o6nSUs361XsgjL/noYEP7iuQfqcca6PoEpeQZ89Xvnw08ValMDZF36+yuRQeXtPA
iPomZa5LAgMBAAECggEAGvGox5fdETyYc8yKZTpzBbanByv0ijJX18xlY1U6/Rj+
Poqo/1ag5RWq8b8xaQMcOPtvIGvNtabquLThiVDexOhTl5KAxX/xxEY9OjvJNyIe
eBxdLisZFkBNfpJ8jVuEwOzTm+ngbXf4edJSuCQgJB0zHpCnwCPvuFWCqVnWzoIN
yOw3k4/CnVtYtEiNlVZCZQA8g+aw7QgQI0Uz+prllX/v61tCz4tr9mpxl2pf+gDi
zx8rJgCODjzh6vuir1LEgqIl8bWTyIYxhG5JSE4hQF3L+f5fW3CWhzdml0mlWRtP
Rzq2/eHP3WXoVjZRbnm7hyXneF2T0N+LA+I7lGlewQKBgQD+QGEfg3qoTMZRennc
AgP6T4IqscIvRnmJ7YKeA+G+PoIbrHUADeKk9Q99iTFqZSScAajNCWPV+UquJmst
z17qz+pO2IQaHaRT3byX/mh2w308NkktX1H4LtA/zCwy8rorCXSRJ7UiKV33nXOm
73BxwBOIAk/eOCjXfncf6lXNQQKBgQDEpUiDJtsQDKyKnS7OZfpsBUT/mwTszbtS
Bg/2gv55AZWCPZ5E9Z1m8fJRdTeU7mllUAhN4woM1l9r9EzYARNarKGH1ovhChWj
SIVWleHUrNTxzuOB8iKoeBMKK7B69xeExkR9gjM+K63zI9MI1XEckWwYydJDmsXE
Nnt6fLQ8iwKBgQCttIBmjmZzq5hmvF2bIUlkb4PH9ZBsyiJpSHrPyGknl/8+NvHs
qo/pEYCWzO+U+Cst5rhT9RFfdCVAnADn2GDJ3mj/m0+NpCjMH5ck5OysD111kMUo
GZKgFCO1IqIj4M+ubZRVQ6KuB0Mq1EjaiYXyQT9W0fWNJiNJLx7mECy0wQKBgAh5
Ns6v9fCTGzw92a57JndRItAA1g1+L/ww1q9ApcaBEvgxv4gpLUcqVc68xlBclZ4P
/MueZOh4tFPqiwUjxrm5hpxb2lswHA6VKWm5u6l2aRaiW5tV27h2tBtUFp611wWZ
pYni+mJLb4tyl71htSYN/iJzT+Qp3yu9TUTR6tJRAoGAJheT2YWi1AuaoGOpg3T7
bsKFtam3zq+eoGqaBfNOxBYbhE3YrzZxHFTTKLTAKFUCewBiOL+GDGqK2jDjNvLH
K460RR6Q48NuHNDXhst75ELmduWpC6+ITALxF9jIsD5JhDVoDqDzqSBTL0eEsZZW
DXv5lwmqjGCch0lQyU3MR1I=
-----END PRIVATE KEY-----
";
    const RSA_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAw01x3xbTVnJoWQwGVfTh
NpgYSdBW7YzZOmd21wE9omwOM01TikKhEc+rRK3hSQWnv4xBg6S4QFjNjFOW54i+
i9ER2VqvWRTjl9yX8hknyvpBU57Oghw1NjCNFaU6rRW0q1gAIlvGZBnSGOkYYJMD
gOia7UrUELJCoVbLzKcc7rehM/NZwDeDodw+6VvYp2JTdAMMr/7XNjJt0eOCIa2x
7nbDbKZdbcwOKbKhBa+UsV5uuWQK3DmtQ4Xr1e6IHROZZ/PPNHbCoR8eMqOp0lLN
+tV7IIy/56GBD+4rkH6nHGuj6BKXkGfPV758NPFWpTA2Rd+vsrkUHl7TwIj6JmWu
SwIDAQAB
-----END PUBLIC KEY-----
";
    const EC_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgkrOqH+v6dF4lAVWQ
UbA+R7Px6JcntjLBkY9XRD5KT1+hRANCAASBUYebAOGnttKUGk+yWaJwj9sclDAj
N/t6qCXEqnJjJ3ktvLMuNkT6uw8oFtg0cqoQXo2pon/OmOcObxwqYlKW
-----END PRIVATE KEY-----
";
    const EC_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEgVGHmwDhp7bSlBpPslmicI/bHJQw
Izf7eqglxKpyYyd5LbyzLjZE+rsPKBbYNHKqEF6NqaJ/zpjnDm8cKmJSlg==
-----END PUBLIC KEY-----
";

    fn sign(claims: Value, key: &str, opts: Option<Value>) -> String {
        let mut args = vec![claims, s(key)];
        args.extend(opts);
        say("jwt", "sign", &args)
    }

    fn algo(name: &str) -> Option<Value> {
        Some(obj(vec![("algorithm", s(name))]))
    }

    #[test]
    fn members() {
        assert_eq!(keys_of(&crate::builtins::module_object("jwt")), ["sign", "verify", "decode", "valid"]);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h").unwrap(), 3600);
        assert_eq!(parse_duration("-10s").unwrap(), -10);
        assert_eq!(parse_duration("2d").unwrap(), 172_800);
        assert_eq!(parse_duration("1w").unwrap(), 604_800);
        assert_eq!(parse_duration("5m").unwrap(), 300);
        assert_eq!(parse_duration("1999ms").unwrap(), 1);
        assert_eq!(parse_duration("-1999ms").unwrap(), -1);
        assert_eq!(parse_duration("").unwrap_err().message(), "empty duration string");
        assert_eq!(parse_duration("10x").unwrap_err().message(), "invalid duration unit in '10x'");
        assert_eq!(parse_duration("10").unwrap_err().message(), "invalid duration unit in '10'");
        assert_eq!(parse_duration("10é").unwrap_err().message(), "invalid duration unit in '10é'");
        assert_eq!(parse_duration("xs").unwrap_err().message(), "invalid duration number in 'xs'");
        assert_eq!(parse_duration("s").unwrap_err().message(), "invalid duration number in 's'");
        assert_eq!(
            parse_duration("99999999999999999w").unwrap_err().message(),
            "invalid duration number in '99999999999999999w'"
        );
    }

    #[test]
    fn sign_verify_round_trip() {
        let token = sign(obj(vec![("user_id", i(123)), ("role", s("admin"))]), "s3cret", None);
        assert_eq!(token.split('.').count(), 3);
        let claims = call("jwt", "verify", &[s(&token), s("s3cret")]);
        assert_eq!(show(&field(&claims, "user_id")), "123");
        assert_eq!(show(&field(&claims, "role")), "admin");
        assert_eq!(crate::ops::type_name(&field(&claims, "iat")), "Int");
        assert_eq!(keys_of(&claims), ["iat", "role", "user_id"]);
        assert_eq!(say("jwt", "valid", &[s(&token), s("s3cret")]), "true");
        assert_eq!(say("jwt", "valid", &[s(&token), s("wrong")]), "false");
        assert_eq!(call_err("jwt", "verify", &[s(&token), s("other-key")]), "JWT signature verification failed");
    }

    #[test]
    fn spec_example_and_options() {
        let opts = obj(vec![("expires", s("1h")), ("issuer", s("me")), ("subject", i(5)), ("audience", s("you"))]);
        let tok = sign(obj(vec![("user_id", i(123)), ("role", s("admin")), ("iss", s("x"))]), "secret", Some(opts));
        let parts = call("jwt", "decode", &[s(&tok)]);
        assert_eq!(keys_of(&parts), ["header", "payload"]);
        assert_eq!(show(&field(&parts, "header")), r#"{ "alg": "HS256", "typ": "JWT" }"#);
        let payload = field(&parts, "payload");
        assert_eq!(keys_of(&payload), ["aud", "exp", "iat", "iss", "role", "user_id"]);
        assert_eq!(show(&field(&payload, "iss")), "me");
        let exp = field(&payload, "exp").as_int().unwrap();
        let iat = field(&payload, "iat").as_int().unwrap();
        assert_eq!(exp - iat, 3600);
        assert!((iat - now()).abs() <= 2);
        assert_eq!(show(&field(&call("jwt", "verify", &[s(&tok), s("secret")]), "role")), "admin");
        assert_eq!(say("jwt", "valid", &[s(&tok), s("wrong")]), "false");
        let own_iat = sign(obj(vec![("iat", i(7)), ("z", obj(vec![("b", i(1)), ("a", i(2))]))]), "k", None);
        let p = field(&call("jwt", "decode", &[s(&own_iat)]), "payload");
        assert_eq!(show(&p), r#"{ "iat": 7, "z": { "a": 2, "b": 1 } }"#);
        let odd = obj(vec![
            ("f", crate::stdlib::testing::f(f64::NAN)),
            ("o", Value::some(i(1))),
            ("x", crate::stdlib::testing::f(1.5)),
        ]);
        let p = field(&call("jwt", "decode", &[s(&sign(odd, "k", None))]), "payload");
        assert_eq!(
            show(&p),
            r#"{ "f": null, "iat": "#.to_string() + &show(&field(&p, "iat")) + r#", "o": null, "x": 1.5 }"#
        );
    }

    #[test]
    fn algorithms() {
        let t384 = sign(obj(vec![("x", Value::TRUE)]), "k", algo("HS384"));
        assert_eq!(show(&field(&field(&call("jwt", "decode", &[s(&t384)]), "header"), "alg")), "HS384");
        assert_eq!(show(&field(&call("jwt", "verify", &[s(&t384), s("k")]), "x")), "true");
        let t512 = sign(obj(vec![("x", i(2))]), "k", algo("hs512"));
        assert_eq!(show(&field(&call("jwt", "decode", &[s(&t512)]), "header")), r#"{ "alg": "HS512", "typ": "JWT" }"#);
        for name in ["RS256", "RS384", "rs512"] {
            let t = sign(obj(vec![("n", i(1))]), RSA_PRIVATE, algo(name));
            assert_eq!(show(&field(&call("jwt", "verify", &[s(&t), s(RSA_PUBLIC)]), "n")), "1");
            assert_eq!(call_err("jwt", "verify", &[s(&t), s("secret")]), "invalid RSA PEM key: InvalidKeyFormat");
            assert_eq!(say("jwt", "valid", &[s(&t), s(EC_PUBLIC)]), "false");
        }
        let t = sign(obj(vec![("n", i(1))]), EC_PRIVATE, algo("ES256"));
        assert_eq!(show(&field(&call("jwt", "verify", &[s(&t), s(EC_PUBLIC)]), "n")), "1");
        assert_eq!(call_err("jwt", "verify", &[s(&t), s("secret")]), "invalid EC PEM key: InvalidKeyFormat");
        let e = |opts: Option<Value>, key: &str| {
            let mut args = vec![obj(vec![]), s(key)];
            args.extend(opts);
            call_err("jwt", "sign", &args)
        };
        assert_eq!(e(algo("none"), "k"), "algorithm 'none' is not allowed for security reasons");
        assert_eq!(e(algo("ps256"), "k"), "unsupported JWT algorithm: PS256");
        assert_eq!(e(algo("RS256"), "not a pem"), "invalid RSA PEM key: InvalidKeyFormat");
        assert_eq!(e(algo("ES256"), "not a pem"), "invalid EC PEM key: InvalidKeyFormat");
        assert!(e(algo("ES384"), EC_PRIVATE).starts_with("jwt.sign error: "));
        assert_eq!(e(Some(obj(vec![("expires", s("1y"))])), "k"), "invalid duration unit in '1y'");
        assert_eq!(e(Some(obj(vec![("not_before", s(""))])), "k"), "empty duration string");
    }

    #[test]
    fn none_and_tampering_rejected() {
        let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = b64(br#"{"a":1}"#);
        let unsigned = format!("{header}.{payload}.");
        assert!(call_err("jwt", "verify", &[s(&unsigned), s("k")]).starts_with("JWT decode error: "));
        assert_eq!(say("jwt", "valid", &[s(&unsigned), s("k")]), "false");
        let good = sign(obj(vec![("a", i(1))]), "key", None);
        let mut parts: Vec<&str> = good.split('.').collect();
        let forged = b64(br#"{"a":2}"#);
        parts[1] = &forged;
        assert_eq!(call_err("jwt", "verify", &[s(&parts.join(".")), s("key")]), "JWT signature verification failed");
        // An HMAC token "signed" with the public key text is refused (algorithm confusion).
        let confused = sign(obj(vec![("admin", Value::TRUE)]), RSA_PUBLIC, None);
        assert_eq!(call_err("jwt", "verify", &[s(&confused), s(RSA_PUBLIC)]), "JWT algorithm mismatch");
        assert_eq!(say("jwt", "valid", &[s(&confused), s(EC_PUBLIC)]), "false");
    }

    #[test]
    fn time_claims() {
        let expired = sign(obj(vec![("a", i(1))]), "key", Some(obj(vec![("expires", s("-10s"))])));
        assert_eq!(call_err("jwt", "verify", &[s(&expired), s("key")]), "JWT expired");
        assert_eq!(say("jwt", "valid", &[s(&expired), s("key")]), "false");
        let later = sign(obj(vec![("a", i(1))]), "key", Some(obj(vec![("not_before", s("1h"))])));
        assert_eq!(call_err("jwt", "verify", &[s(&later), s("key")]), "JWT not yet valid");
        let started =
            sign(obj(vec![("a", i(1))]), "key", Some(obj(vec![("not_before", s("-1h")), ("expires", s("1h"))])));
        assert_eq!(say("jwt", "valid", &[s(&started), s("key")]), "true");
        let neg = sign(obj(vec![("exp", i(-5))]), "key", None);
        assert_eq!(call_err("jwt", "verify", &[s(&neg), s("key")]), "JWT expired");
        let float_exp = sign(obj(vec![("exp", crate::stdlib::testing::f(1.5))]), "key", None);
        assert_eq!(call_err("jwt", "verify", &[s(&float_exp), s("key")]), "JWT expired");
    }

    #[test]
    fn malformed_tokens() {
        assert_eq!(say("jwt", "valid", &[s("not.a.token"), s("key")]), "false");
        assert_eq!(say("jwt", "valid", &[s("garbage"), s("key")]), "false");
        assert_eq!(call_err("jwt", "verify", &[s("garbage"), s("key")]), "JWT decode error: InvalidToken");
        assert!(call_err("jwt", "verify", &[s("a.b.c"), s("key")]).starts_with("JWT decode error: "));
        assert_eq!(say("jwt", "valid", &[i(1), s("key")]), "false");
        assert_eq!(say("jwt", "valid", &[]), "false");
        assert_eq!(
            call_err("jwt", "decode", &[s("only-one-part")]),
            "jwt.decode() invalid token format (expected 3 parts)"
        );
        assert_eq!(call_err("jwt", "decode", &[s("a.b.c.d")]), "jwt.decode() invalid token format (expected 3 parts)");
        assert!(call_err("jwt", "decode", &[s("a=.b.c")]).starts_with("jwt.decode() invalid header encoding: "));
        let bad_json = format!("{}.{}.x", b64(b"{x"), b64(b"{}"));
        assert!(call_err("jwt", "decode", &[s(&bad_json)]).starts_with("jwt.decode() invalid header JSON: "));
        let bad_payload = format!("{}.{}.x", b64(b"{}"), "*");
        assert!(call_err("jwt", "decode", &[s(&bad_payload)]).starts_with("jwt.decode() invalid payload encoding: "));
        let bad_payload_json = format!("{}.{}.x", b64(b"{}"), b64(b"[1,"));
        assert!(call_err("jwt", "decode", &[s(&bad_payload_json)]).starts_with("jwt.decode() invalid payload JSON: "));
    }

    #[test]
    fn argument_errors() {
        assert_eq!(
            call_err("jwt", "sign", &[s("x"), s("k")]),
            "jwt.sign() requires an object as first argument (claims)"
        );
        assert_eq!(call_err("jwt", "sign", &[obj(vec![])]), "jwt.sign() requires a string as second argument (secret)");
        assert_eq!(
            call_err("jwt", "verify", &[i(1), s("k")]),
            "jwt.verify() requires a string as first argument (token)"
        );
        assert_eq!(call_err("jwt", "verify", &[s("t")]), "jwt.verify() requires a string as second argument (secret)");
        assert_eq!(call_err("jwt", "decode", &[]), "jwt.decode() requires a string as first argument (token)");
        // A non-object options argument is ignored.
        let t = sign(obj(vec![]), "k", Some(i(3)));
        assert_eq!(say("jwt", "valid", &[s(&t), s("k")]), "true");
    }
}
