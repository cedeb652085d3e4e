//! Compilation targets: one descriptor file per target in `targets/` (format in
//! `targets/README.md`), embedded into forgec when it is built, so an installed forgec
//! needs no source tree. `scripts/build-runtime` reads the same files.

use std::sync::OnceLock;

use target_lexicon::Triple;

// `EMBEDDED`: (file name, text) of every `targets/*.target`, written by build.rs.
include!(concat!(env!("OUT_DIR"), "/targets.rs"));

/// How the executable is linked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkMode {
    /// Against the target's shared C library (the executable needs its dynamic loader).
    Dynamic,
    /// Fully static: no dynamic section, no interpreter, no shared library.
    Static,
}

/// The program that links executables for a target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Linker {
    /// A C compiler driver found on `PATH` (`cc`, `aarch64-linux-gnu-gcc`); the
    /// environment variable `CC_<rust triple>` overrides it (and `CC` for the host).
    Driver(String),
    /// The Rust toolchain's `rust-lld` (`bin/rust-lld` and the `lib/libLLVM….so` it
    /// loads), put with the C library's start files and archives into the target's
    /// runtime directory by `scripts/build-runtime`: no C toolchain is needed when linking.
    RustLld,
}

/// One target descriptor.
#[derive(Clone, Debug)]
pub struct Target {
    /// Short name (`aarch64-linux`), also the runtime directory's name (`runtimes/<name>`).
    pub name: String,
    /// Other names accepted by `--target`.
    pub aliases: Vec<String>,
    /// One line for `forgec --print targets`.
    pub description: String,
    /// The target-lexicon triple: Cranelift's ISA and the object format.
    pub triple: Triple,
    /// The Rust target the runtime library is built for (`rustup target add`).
    pub rust_triple: String,
    pub link: LinkMode,
    pub linker: Linker,
    /// Debian packages that provide the linker (empty: nothing to install).
    pub linker_package: String,
    /// Objects linked before the program (from the runtime directory; `rust-lld` only).
    pub startfiles: Vec<String>,
    /// Objects linked after everything else (from the runtime directory; `rust-lld` only).
    pub endfiles: Vec<String>,
    /// The command that runs the target's executables on this machine (empty: directly).
    pub runner: String,
    /// Debian packages that provide the runner.
    pub runner_package: String,
}

/// Every key a descriptor may have (`runtime-*` are read by `scripts/build-runtime`).
const KEYS: &[&str] = &[
    "name",
    "aliases",
    "description",
    "triple",
    "rust-triple",
    "link",
    "linker",
    "linker-package",
    "startfiles",
    "endfiles",
    "runtime-cc",
    "runtime-ar",
    "runtime-package",
    "runner",
    "runner-package",
];

/// Parses one descriptor: `key = value` lines; `#` starts a comment; blank lines are
/// ignored; lists are separated by commas or spaces.
pub fn parse(file: &str, text: &str) -> Result<Target, String> {
    let mut fields: Vec<(&str, &str)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!("{file}:{}: expected `key = value`", n + 1));
        };
        let (k, v) = (k.trim(), v.trim());
        if !KEYS.contains(&k) {
            return Err(format!("{file}:{}: unknown key '{k}' (known: {})", n + 1, KEYS.join(", ")));
        }
        if fields.iter().any(|(f, _)| *f == k) {
            return Err(format!("{file}:{}: '{k}' is given twice", n + 1));
        }
        fields.push((k, v));
    }
    let get = |k: &str| fields.iter().find(|(f, _)| *f == k).map(|(_, v)| *v).unwrap_or("");
    let required = |k: &str| {
        let v = get(k);
        if v.is_empty() {
            Err(format!("{file}: '{k}' is missing"))
        } else {
            Ok(v.to_string())
        }
    };
    let list = |k: &str| -> Vec<String> {
        get(k).split(|c: char| c == ',' || c.is_whitespace()).filter(|s| !s.is_empty()).map(String::from).collect()
    };
    let name = required("name")?;
    let triple_text = required("triple")?;
    let triple: Triple =
        triple_text.parse().map_err(|e| format!("{file}: triple '{triple_text}' is not a target triple: {e}"))?;
    let link = match required("link")?.as_str() {
        "static" => LinkMode::Static,
        "dynamic" => LinkMode::Dynamic,
        other => return Err(format!("{file}: link must be 'static' or 'dynamic', not '{other}'")),
    };
    let linker = match required("linker")?.as_str() {
        "rust-lld" => Linker::RustLld,
        prog => Linker::Driver(prog.to_string()),
    };
    if linker == Linker::RustLld && link == LinkMode::Dynamic {
        return Err(format!("{file}: linker rust-lld links static executables only (link = static)"));
    }
    let startfiles = list("startfiles");
    let endfiles = list("endfiles");
    if linker == Linker::RustLld && startfiles.is_empty() {
        return Err(format!("{file}: linker rust-lld needs the C library's startfiles"));
    }
    Ok(Target {
        name,
        aliases: list("aliases"),
        description: get("description").to_string(),
        triple,
        rust_triple: required("rust-triple")?,
        link,
        linker,
        linker_package: get("linker-package").to_string(),
        startfiles,
        endfiles,
        runner: get("runner").to_string(),
        runner_package: get("runner-package").to_string(),
    })
}

/// Every embedded target, sorted by name.
pub fn all() -> Result<&'static [Target], String> {
    static ALL: OnceLock<Result<Vec<Target>, String>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut out: Vec<Target> = Vec::new();
        for (file, text) in EMBEDDED {
            let t = parse(file, text)?;
            if *file != format!("{}.target", t.name) {
                return Err(format!("{file}: the file of target '{}' must be named {}.target", t.name, t.name));
            }
            for n in t.names() {
                if let Some(other) = out.iter().find(|o| o.names().any(|m| m == n)) {
                    return Err(format!("{file}: the name '{n}' is also a name of target '{}'", other.name));
                }
            }
            out.push(t);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    })
    .as_ref()
    .map(|v| v.as_slice())
    .map_err(|e| format!("forgec was built with an invalid target descriptor: {e}"))
}

impl Target {
    /// The short name and every alias.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str()).chain(self.aliases.iter().map(|s| s.as_str()))
    }

    /// Whether executables for this target run natively on the machine forgec runs on
    /// (same architecture, operating system and C library as forgec itself was built for).
    pub fn is_host(&self) -> bool {
        same_platform(&self.triple, &Triple::host())
    }
}

fn same_platform(a: &Triple, b: &Triple) -> bool {
    a.architecture == b.architecture && a.operating_system == b.operating_system && a.environment == b.environment
}

/// The target named `name` (a short name or an alias, case-insensitive).
pub fn lookup(name: &str) -> Result<&'static Target, String> {
    let all = all()?;
    let wanted = name.trim().to_ascii_lowercase();
    if let Some(t) = all.iter().find(|t| t.names().any(|n| n.eq_ignore_ascii_case(&wanted))) {
        return Ok(t);
    }
    let supported = all.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ");
    let hint = match suggest(&wanted, all) {
        Some(s) => format!("; did you mean '{s}'?"),
        None => String::new(),
    };
    Err(format!("unknown target '{name}'{hint} (supported: {supported}; see forgec --print targets)"))
}

/// The target of the machine forgec runs on (the default of `--target`).
pub fn host() -> Result<&'static Target, String> {
    let all = all()?;
    let host = Triple::host();
    all.iter().find(|t| same_platform(&t.triple, &host)).ok_or_else(|| {
        format!(
            "this machine ({host}) is not one of forgec's targets; choose one with --target (supported: {})",
            all.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
        )
    })
}

/// `--static`: `t` itself when it links statically, else the statically linked target
/// of the same architecture and operating system (`x86_64-linux` → `x86_64-linux-musl`).
pub fn static_variant(t: &'static Target) -> Result<&'static Target, String> {
    if t.link == LinkMode::Static {
        return Ok(t);
    }
    let all = all()?;
    all.iter()
        .find(|s| {
            s.link == LinkMode::Static
                && s.triple.architecture == t.triple.architecture
                && s.triple.operating_system == t.triple.operating_system
        })
        .ok_or_else(|| format!("no statically linked target for {} ({}); see forgec --print targets", t.name, t.triple))
}

/// The target name closest to `wanted` (edit distance at most a quarter of its length,
/// at least 2), else the first target that has a name starting with `wanted`.
fn suggest(wanted: &str, all: &[Target]) -> Option<String> {
    let mut best: Option<(usize, &str)> = None;
    for t in all {
        for n in t.names() {
            let d = distance(wanted, &n.to_ascii_lowercase());
            if best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, t.name.as_str()));
            }
        }
    }
    let (d, name) = best?;
    if d <= (wanted.len() / 4).max(2) {
        return Some(name.to_string());
    }
    // `arm64`, `aarch64`: the beginning of a name (the shortest such name's target).
    all.iter()
        .flat_map(|t| t.names().map(move |n| (n, t)))
        .filter(|(n, _)| !wanted.is_empty() && n.to_ascii_lowercase().starts_with(wanted))
        .min_by_key(|(n, _)| n.len())
        .map(|(_, t)| t.name.clone())
}

/// Levenshtein distance (bytes; target names are ASCII).
fn distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_descriptors_are_valid() {
        let all = all().expect("valid descriptors");
        assert!(all.len() >= 4, "{all:?}");
        for t in all {
            assert!(cranelift_codegen::isa::lookup(t.triple.clone()).is_ok(), "no Cranelift backend for {}", t.name);
        }
    }

    #[test]
    fn lookup_by_name_alias_and_suggestion() {
        assert_eq!(lookup("aarch64-linux").unwrap().name, "aarch64-linux");
        assert_eq!(lookup("aarch64-unknown-linux-musl").unwrap().name, "aarch64-linux-musl");
        assert_eq!(lookup("ARM64-linux").unwrap().name, "aarch64-linux");
        let e = lookup("aarch64-linx").unwrap_err();
        assert!(e.contains("did you mean 'aarch64-linux'?"), "{e}");
        assert!(e.contains("x86_64-linux-musl"), "{e}");
        let e = lookup("riscv64-linux").unwrap_err();
        assert!(e.starts_with("unknown target 'riscv64-linux'"), "{e}");
        assert!(lookup("").is_err());
        assert!(lookup("arm64").unwrap_err().contains("did you mean 'aarch64-linux'?"));
        for (from, to) in [("x86_64-linux", "x86_64-linux-musl"), ("aarch64-linux", "aarch64-linux-musl")] {
            assert_eq!(static_variant(lookup(from).unwrap()).unwrap().name, to);
            assert_eq!(static_variant(lookup(to).unwrap()).unwrap().name, to);
        }
    }

    #[test]
    fn descriptor_errors_are_reported() {
        assert!(parse("x.target", "name = x\nfoo = 1\n").unwrap_err().contains("unknown key 'foo'"));
        assert!(parse("x.target", "name = x\n").unwrap_err().contains("'triple' is missing"));
        let e = parse("x.target", "name=x\ntriple=nonsense-triple-here-x\nrust-triple=x\nlink=static\nlinker=cc\n")
            .unwrap_err();
        assert!(e.contains("not a target triple"), "{e}");
        let e = parse(
            "x.target",
            "name=x\ntriple=x86_64-unknown-linux-gnu\nrust-triple=x\nlink=dynamic\nlinker=rust-lld\n",
        )
        .unwrap_err();
        assert!(e.contains("static executables only"), "{e}");
    }
}
