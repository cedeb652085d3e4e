//! A long-running fuzzer for the front end and the `.fgc` loader (stable Rust, no
//! cargo-fuzz needed): feeds random bytes, random token soups and mutated corpus
//! programs to `syntax::parse` → `ir::lower` → `ir::verify`, and mutated `.fgc` files
//! to `ir::fgc::decode`, catching any panic.
//!
//! ```text
//! cargo run --release -p forge-compiler --example fuzz -- --minutes 10 [--seed N]
//! ```
//! Prints the number of inputs tried and exits non-zero (saving the input to
//! `fuzz-crash-N.bin`) on the first panic.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use forgec::ir;

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

const TOKENS: &[&str] = &[
    "let ",
    "mut ",
    "set ",
    " to ",
    "fn ",
    "define ",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    ".",
    "...",
    "..",
    "\n",
    ";",
    "=",
    "==",
    "!=",
    "<",
    ">",
    "<=",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "|>",
    "&&",
    "||",
    "!",
    "?",
    "->",
    "=>",
    "@",
    "if ",
    "else ",
    "otherwise ",
    "nah ",
    "match ",
    "when ",
    "for ",
    "each ",
    " in ",
    "while ",
    "loop ",
    "repeat ",
    " times ",
    "break",
    "continue",
    "return ",
    "struct ",
    "thing ",
    "impl ",
    "give ",
    "interface ",
    "power ",
    "type ",
    "say ",
    "yell ",
    "try ",
    "catch ",
    "safe ",
    "check ",
    "is ",
    "not ",
    "empty",
    "between ",
    "and ",
    "retry ",
    "timeout ",
    "seconds",
    "spawn ",
    "await ",
    "must ",
    "freeze ",
    "import ",
    "from ",
    "unpack ",
    "x",
    "y",
    "Foo",
    "Some",
    "None",
    "Ok",
    "Err",
    "1",
    "2.5",
    "\"s\"",
    "\"{x}\"",
    "\"\"\"raw\"\"\"",
    "true",
    "null",
    "_",
    "it",
    " ",
];

fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance");
    let mut out = Vec::new();
    if let Ok(areas) = std::fs::read_dir(dir) {
        for a in areas.flatten() {
            if let Ok(files) = std::fs::read_dir(a.path()) {
                for f in files.flatten() {
                    if f.path().extension().and_then(|e| e.to_str()) == Some("fg") {
                        if let Ok(b) = std::fs::read(f.path()) {
                            out.push(b);
                        }
                    }
                }
            }
        }
    }
    out
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(8) {
        match rng.below(5) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                let j = (i + rng.below(16)).min(v.len());
                v.drain(i..j);
            }
            2 => {
                let i = rng.below(v.len() + 1);
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                v.splice(i..i, t.iter().copied());
            }
            3 if !v.is_empty() => {
                let i = rng.below(v.len());
                let j = (i + rng.below(64)).min(v.len());
                let chunk = v[i..j].to_vec();
                let k = rng.below(v.len() + 1);
                v.splice(k..k, chunk);
            }
            _ => {}
        }
    }
    v
}

fn front_end(bytes: &[u8]) -> Option<ir::Module> {
    let src = String::from_utf8_lossy(bytes);
    let (program, diags) = forgec::syntax::parse(&src);
    if diags.iter().any(|d| d.is_error()) {
        return None;
    }
    struct NoFiles;
    impl ir::lower::ImportLoader for NoFiles {
        fn load(&mut self, path: &str) -> Result<(String, String), String> {
            Err(format!("cannot import '{path}'"))
        }
    }
    let (m, _) = ir::lower::lower_program("fuzz.fg", &src, &program, &|n| n == "print" || n == "len", &mut NoFiles);
    if let Err(e) = ir::verify::verify(&m) {
        panic!("lowering produced IR that fails verification: {e}");
    }
    Some(m)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut minutes = 1.0f64;
    let mut seed = 0x9E3779B97F4A7C15u64;
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--minutes" => {
                minutes = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(1.0);
                i += 1;
            }
            "--seed" => {
                seed = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(seed) | 1;
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    std::panic::set_hook(Box::new(|_| {}));
    let corpus = corpus();
    let fgcs: Vec<Vec<u8>> = corpus.iter().filter_map(|c| front_end(c)).map(|m| ir::fgc::encode(&m)).collect();
    let mut rng = Rng(seed);
    let end = Instant::now() + Duration::from_secs_f64(minutes * 60.0);
    let (mut n_src, mut n_fgc) = (0u64, 0u64);
    while Instant::now() < end {
        for _ in 0..64 {
            let input: Vec<u8> = match rng.below(4) {
                0 => (0..rng.below(256)).map(|_| rng.next() as u8).collect(),
                1 => (0..rng.below(64)).flat_map(|_| TOKENS[rng.below(TOKENS.len())].bytes()).collect(),
                _ if !corpus.is_empty() => {
                    let k = rng.below(corpus.len());
                    mutate(&mut rng, &corpus[k])
                }
                _ => Vec::new(),
            };
            n_src += 1;
            if catch_unwind(AssertUnwindSafe(|| front_end(&input))).is_err() {
                let f = format!("fuzz-crash-{n_src}.bin");
                let _ = std::fs::write(&f, &input);
                eprintln!("PANIC in the front end after {n_src} inputs; input saved to {f}");
                std::process::exit(1);
            }
            if !fgcs.is_empty() {
                let k = rng.below(fgcs.len());
                let bad = mutate(&mut rng, &fgcs[k]);
                n_fgc += 1;
                if catch_unwind(AssertUnwindSafe(|| ir::fgc::decode(&bad))).is_err() {
                    let f = format!("fuzz-crash-fgc-{n_fgc}.bin");
                    let _ = std::fs::write(&f, &bad);
                    eprintln!("PANIC in the .fgc loader after {n_fgc} inputs; input saved to {f}");
                    std::process::exit(1);
                }
            }
        }
    }
    println!("fuzz: {n_src} source inputs and {n_fgc} .fgc inputs in {minutes} min, no panic");
}
