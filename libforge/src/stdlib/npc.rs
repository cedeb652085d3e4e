//! The `npc` module (spec 11 §11.12): random fake data (names, e-mail addresses,
//! phone numbers, …) for demos and tests. Randomness comes from `fastrand`; only the
//! formats and ranges are specified.

use crate::builtins::Registry;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::value::Value;

pub fn register(r: &mut Registry) {
    r.module("npc", "name", name);
    r.module("npc", "first_name", first_name);
    r.module("npc", "last_name", last_name);
    r.module("npc", "email", email);
    r.module("npc", "username", username);
    r.module("npc", "number", number);
    r.module("npc", "pick", pick);
    r.module("npc", "sentence", sentence);
    r.module("npc", "id", id);
    r.module("npc", "bool", bool_);
    r.module("npc", "phone", phone);
    r.module("npc", "color", color);
    r.module("npc", "ip", ip);
    r.module("npc", "url", url);
    r.module("npc", "company", company);
    r.module("npc", "word", word);
}

const FIRST_NAMES: &[&str] = &[
    "Alex", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Quinn", "Avery", "Parker", "Sage", "River", "Phoenix",
    "Sky", "Luna", "Kai", "Zen", "Nova", "Aria", "Leo", "Maya", "Finn", "Ivy", "Milo", "Ruby", "Oscar", "Zara",
    "Atlas", "Cleo", "Hugo", "Jade", "Remy", "Wren",
];

const LAST_NAMES: &[&str] = &[
    "Smith",
    "Chen",
    "Patel",
    "Kim",
    "Singh",
    "Nakamura",
    "Garcia",
    "Mueller",
    "Costa",
    "Ali",
    "Park",
    "Tanaka",
    "Silva",
    "Johansson",
    "Okafor",
    "Dubois",
    "Ivanov",
    "Santos",
    "Lee",
    "Brown",
    "Williams",
    "Jones",
    "Davis",
    "Wilson",
    "Martinez",
    "Anderson",
    "Thomas",
    "Jackson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
];

const DOMAINS: &[&str] =
    &["gmail.com", "outlook.com", "proton.me", "hey.com", "icloud.com", "yahoo.com", "fastmail.com", "tutanota.com"];

const ADJECTIVES: &[&str] = &[
    "cool", "epic", "turbo", "mega", "ultra", "hyper", "super", "cyber", "neon", "pixel", "quantum", "cosmic",
    "stellar", "blazing", "swift", "crisp",
];

const NOUNS: &[&str] = &[
    "coder", "hacker", "ninja", "wizard", "panda", "phoenix", "dragon", "falcon", "wolf", "tiger", "fox", "hawk",
    "viper", "shark", "raven", "lynx",
];

const WORDS: &[&str] = &[
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "code",
    "runs",
    "fast",
    "data",
    "flows",
    "through",
    "every",
    "node",
    "bits",
    "and",
    "bytes",
    "dance",
    "in",
    "silicon",
    "dreams",
    "while",
    "algorithms",
    "weave",
    "patterns",
    "of",
    "digital",
    "light",
    "across",
    "networks",
];

const COMPANIES: &[&str] = &[
    "TechFlow",
    "NeonByte",
    "PixelForge",
    "CloudNine",
    "DataPulse",
    "CodeCraft",
    "BitWave",
    "CyberCore",
    "QuantumLeap",
    "StarGrid",
    "ByteBloom",
    "NetVault",
    "SyncSphere",
    "HyperNode",
    "CoreStack",
    "MindMesh",
];

const URL_PATHS: &[&str] = &["api", "dashboard", "app", "docs", "status", "blog"];

/// The characters of `npc.id`.
const ID_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A random element of a non-empty list.
fn one<'a>(items: &[&'a str]) -> &'a str {
    items[fastrand::usize(..items.len())]
}

fn first_name(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    Ok(Value::str(one(FIRST_NAMES)))
}

fn last_name(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    Ok(Value::str(one(LAST_NAMES)))
}

fn name(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    Ok(Value::string(format!("{} {}", one(FIRST_NAMES), one(LAST_NAMES))))
}

fn email(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    let first = one(FIRST_NAMES).to_lowercase();
    let last = one(LAST_NAMES).to_lowercase();
    Ok(Value::string(format!("{first}.{last}{:02}@{}", fastrand::u8(1..=99), one(DOMAINS))))
}

fn username(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    Ok(Value::string(format!("{}_{}{}", one(ADJECTIVES), one(NOUNS), fastrand::u16(1..=999))))
}

/// `npc.number(min?, max?)`: uniform in [min, max] (defaults 0 and 100; a non-Int
/// bound takes its default); `min >= max` gives `min`.
fn number(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let min = args.first().and_then(Value::as_int).unwrap_or(0);
    let max = args.get(1).and_then(Value::as_int).unwrap_or(100);
    Ok(Value::int(if min >= max { min } else { fastrand::i64(min..=max) }))
}

fn pick(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match args.first().and_then(Value::as_array) {
        Some(items) if !items.is_empty() => Ok(items[fastrand::usize(..items.len())].clone()),
        _ => fail("npc.pick() requires a non-empty array"),
    }
}

/// A sentence of `n` random words, capitalised, ending with a full stop.
fn sentence_of(n: i64) -> String {
    let mut out = String::new();
    for i in 0..n.max(0) {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(one(WORDS));
    }
    if let Some(c) = out.chars().next() {
        let upper: String = c.to_uppercase().collect();
        out.replace_range(..c.len_utf8(), &upper);
    }
    out.push('.');
    out
}

fn sentence(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let n = args.first().and_then(Value::as_int).unwrap_or_else(|| fastrand::i64(5..=12));
    Ok(Value::string(sentence_of(n)))
}

fn word(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    Ok(Value::str(one(WORDS)))
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` of random lower-case letters and digits.
fn id(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    let mut out = String::with_capacity(36);
    for (i, len) in [8, 4, 4, 4, 12].into_iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        for _ in 0..len {
            out.push(char::from(ID_CHARS[fastrand::usize(..ID_CHARS.len())]));
        }
    }
    Ok(Value::string(out))
}

fn bool_(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    Ok(Value::bool(fastrand::bool()))
}

fn phone(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    let area = fastrand::u16(200..=999);
    let mid = fastrand::u16(100..=999);
    let end = fastrand::u16(1000..=9999);
    Ok(Value::string(format!("({area}) {mid}-{end}")))
}

fn color(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    Ok(Value::string(format!("#{:02x}{:02x}{:02x}", fastrand::u8(..), fastrand::u8(..), fastrand::u8(..))))
}

fn ip(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    let (a, b, c, d) = (fastrand::u8(1..=254), fastrand::u8(..), fastrand::u8(..), fastrand::u8(1..=254));
    Ok(Value::string(format!("{a}.{b}.{c}.{d}")))
}

fn url(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    Ok(Value::string(format!("https://{}.io/{}", one(COMPANIES).to_lowercase(), one(URL_PATHS))))
}

fn company(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    Ok(Value::str(one(COMPANIES)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtins::arrays::testing::{host, i, j, s, show};
    use crate::builtins::BuiltinFn;

    fn ok(f: BuiltinFn, args: &[Value]) -> String {
        show(f(&mut host(), args).unwrap_or_else(|e| panic!("failed: {}", e.message())))
    }

    fn all_match(f: BuiltinFn, args: &[Value], pattern: &str) {
        let re = regex::Regex::new(pattern).unwrap();
        for _ in 0..300 {
            let v = ok(f, args);
            assert!(re.is_match(&v), "{v:?} does not match {pattern}");
        }
    }

    #[test]
    fn conformance_formats() {
        all_match(email, &[], r"^[a-z]+\.[a-z]+\d\d@[a-z]+\.[a-z]+$");
        all_match(phone, &[], r"^\([2-9]\d\d\) [1-9]\d\d-[1-9]\d{3}$");
        all_match(color, &[], r"^#[0-9a-f]{6}$");
        all_match(id, &[], r"^[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{12}$");
        all_match(name, &[], r"^[A-Z][a-z]+ [A-Z][a-z]+$");
        all_match(username, &[], r"^[a-z]+_[a-z]+[1-9]\d{0,2}$");
        all_match(url, &[], r"^https://[a-z]+\.io/(api|dashboard|app|docs|status|blog)$");
        all_match(number, &[i(5), i(9)], r"^[5-9]$");
        all_match(sentence, &[], r"^[A-Z][a-z]*( [a-z]+){4,11}\.$");
        for _ in 0..300 {
            let v = ok(ip, &[]);
            let parts: Vec<i64> = v.split('.').map(|p| p.parse().unwrap()).collect();
            assert_eq!(parts.len(), 4);
            assert!((1..=254).contains(&parts[0]) && (1..=254).contains(&parts[3]), "{v}");
            assert!(parts.iter().all(|p| (0..=255).contains(p)));
        }
        assert!(FIRST_NAMES.contains(&ok(first_name, &[]).as_str()));
        assert!(LAST_NAMES.contains(&ok(last_name, &[]).as_str()));
        assert!(COMPANIES.contains(&ok(company, &[]).as_str()));
        assert!(WORDS.contains(&ok(word, &[]).as_str()));
        assert_eq!((FIRST_NAMES.len(), LAST_NAMES.len(), COMPANIES.len(), WORDS.len()), (32, 32, 16, 32));
    }

    #[test]
    fn numbers_and_picks() {
        assert_eq!(ok(number, &[i(7), i(7)]), "7");
        assert_eq!(ok(number, &[i(9), i(2)]), "9");
        assert!(ok(number, &[i(i64::MIN), i(i64::MIN + 1)]).parse::<i64>().unwrap() <= i64::MIN + 1);
        for _ in 0..200 {
            let n: i64 = ok(number, &[]).parse().unwrap();
            assert!((0..=100).contains(&n));
            let n: i64 = ok(number, &[s("x"), i(3)]).parse().unwrap();
            assert!((0..=3).contains(&n));
        }
        let _ = ok(number, &[i(i64::MIN), i(i64::MAX)]);
        assert_eq!(ok(pick, &[j("[7]")]), "7");
        assert_eq!(npc_err(pick, &[j("[]")]), "npc.pick() requires a non-empty array");
        assert_eq!(npc_err(pick, &[s("abc")]), "npc.pick() requires a non-empty array");
        assert_eq!(npc_err(pick, &[]), "npc.pick() requires a non-empty array");
        let b = bool_(&mut host(), &[]).unwrap();
        assert_eq!(crate::ops::type_name(&b), "Bool");
    }

    fn npc_err(f: BuiltinFn, args: &[Value]) -> String {
        f(&mut host(), args).unwrap_err().message().to_string()
    }

    #[test]
    fn sentences() {
        let s3 = ok(sentence, &[i(3)]);
        assert!(s3.ends_with('.'));
        assert_eq!(s3.trim_end_matches('.').split(' ').count(), 3);
        assert_eq!(ok(sentence, &[i(4)]).split(' ').count(), 4);
        assert_eq!(ok(sentence, &[i(0)]), ".");
        assert_eq!(ok(sentence, &[i(-3)]), ".");
        let one_word = ok(sentence, &[i(1)]);
        assert!(one_word.chars().next().unwrap().is_uppercase());
        for _ in 0..100 {
            let n = ok(sentence, &[]).split(' ').count();
            assert!((5..=12).contains(&n), "{n} words");
        }
    }

    #[test]
    fn members_in_catalogue_order() {
        let module = crate::builtins::module_object("npc");
        let names: Vec<&str> = module.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "name",
                "first_name",
                "last_name",
                "email",
                "username",
                "number",
                "pick",
                "sentence",
                "id",
                "bool",
                "phone",
                "color",
                "ip",
                "url",
                "company",
                "word"
            ]
        );
    }
}
