//! Property test: the text parsers of the standard library (`json.parse`, `csv.parse`,
//! `toml.parse`, `regex.*` patterns, `url.parse`, `time.parse`, `jwt.decode`,
//! `crypto.base64_decode`/`hex_decode`, `int`/`float`) get thousands of random and mutated
//! inputs; each call must return a value or a Forge error — never panic.

use std::panic::{catch_unwind, AssertUnwindSafe};

use libforge::host::Host;
use libforge::{Result, Value};

struct NoCallbacks;

impl Host for NoCallbacks {
    fn call(&mut self, _callee: &Value, _args: &[Value]) -> Result<Value> {
        libforge::error::fail("no callbacks in this test")
    }
    fn env(&self) -> Value {
        Value::NULL
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SEEDS: &[&str] = &[
    r#"{"a": [1, 2.5, -0, 1e400, "x\u00e9", true, null], "b": {"c": {}}}"#,
    "name,age\nAlice,30\n\"B, b\",\"q\"\"x\"\n",
    "title = \"x\"\n[server]\nport = 80\nlist = [1, 2]\n[[items]]\nk = 1.5\n",
    "\\d{3}-(?P<y>\\d+)[a-z]*(?i)abc|x+?",
    "https://user:pw@example.com:8080/a/b?x=1&y=%20#frag",
    "2024-01-15T10:30:00Z",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
    "aGVsbG8=",
    "-9223372036854775808",
];

fn mutate(rng: &mut Rng, s: &str) -> String {
    let mut b = s.as_bytes().to_vec();
    for _ in 0..1 + rng.below(6) {
        match rng.below(4) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
            1 if !b.is_empty() => {
                let i = rng.below(b.len());
                b.truncate(i);
            }
            2 => {
                let i = rng.below(b.len() + 1);
                const PUNCT: &[u8] = b"{}[]\",:\\\n=.%#?()*+|";
                let c = PUNCT[rng.below(PUNCT.len())];
                b.insert(i, c);
            }
            _ => {
                let i = rng.below(b.len() + 1);
                let j = rng.below(b.len() + 1);
                let (lo, hi) = (i.min(j), i.max(j));
                let chunk = b[lo..hi].to_vec();
                b.extend(chunk);
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn parsers_never_panic() {
    libforge::builtins::use_modules(libforge::stdlib::ALL.iter().map(|m| m.1).collect());
    let targets: &[(&str, &str)] = &[
        ("json", "parse"),
        ("csv", "parse"),
        ("toml", "parse"),
        ("url", "parse"),
        ("url", "decode"),
        ("time", "parse"),
        ("jwt", "decode"),
        ("crypto", "base64_decode"),
        ("crypto", "hex_decode"),
    ];
    let member = |m: &str, n: &str| {
        let obj = libforge::builtins::module_object(m);
        obj.as_object().and_then(|o| o.get(n).cloned()).and_then(|v| v.builtin_index()).expect("module member")
    };
    let int = libforge::builtins::lookup("int").and_then(|v| v.builtin_index()).expect("int");
    let float = libforge::builtins::lookup("float").and_then(|v| v.builtin_index()).expect("float");
    let regex_test = member("regex", "test");
    let mut rng = Rng(0x2545F4914F6CDD1D);
    let mut calls = 0u64;
    for round in 0..20_000 {
        let seed = SEEDS[round % SEEDS.len()];
        let input = if round % 5 == 0 {
            (0..rng.below(64)).map(|_| char::from(32 + rng.below(95) as u8)).collect()
        } else {
            mutate(&mut rng, seed)
        };
        for (m, n) in targets {
            let idx = member(m, n);
            let arg = Value::str(&input);
            let r = catch_unwind(AssertUnwindSafe(|| libforge::builtins::call(idx, &mut NoCallbacks, &[arg])));
            assert!(r.is_ok(), "{m}.{n} panicked on {input:?}");
            calls += 1;
        }
        for idx in [int, float] {
            let r = catch_unwind(AssertUnwindSafe(|| {
                libforge::builtins::call(idx, &mut NoCallbacks, &[Value::str(&input)])
            }));
            assert!(r.is_ok(), "conversion panicked on {input:?}");
            calls += 1;
        }
        let r = catch_unwind(AssertUnwindSafe(|| {
            libforge::builtins::call(regex_test, &mut NoCallbacks, &[Value::str("abc 123"), Value::str(&input)])
        }));
        assert!(r.is_ok(), "regex.test panicked on pattern {input:?}");
        calls += 1;
    }
    println!("{calls} parser calls, no panic");
}
