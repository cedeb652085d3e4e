//! Generates the LR(1) parser from `src/syntax/grammar.lalrpop`, and embeds the target
//! descriptors of `../targets/*.target` (so an installed forgec needs no source tree).
//!
//! lalrpop 0.23 replaced `Processor` with `Configuration`. The cargo conventions
//! (input `src/`, output `$OUT_DIR`) put the generated module at
//! `$OUT_DIR/syntax/grammar.rs`, which `syntax/mod.rs` includes with `lalrpop_mod!`.
use std::path::{Path, PathBuf};

fn main() {
    lalrpop::Configuration::new()
        .use_cargo_dir_conventions()
        .emit_rerun_directives(true)
        .process()
        .expect("lalrpop grammar failed to build");
    embed_targets();
}

/// Writes `$OUT_DIR/targets.rs`: `EMBEDDED`, the (file name, text) of every descriptor in
/// `../targets`, sorted by file name. Adding a target is adding a file.
fn embed_targets() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let dir = manifest.join("../targets");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().and_then(|x| x.to_str()) == Some("target"))
        .collect();
    files.sort();
    let mut out = String::from("pub(crate) const EMBEDDED: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let abs = f.canonicalize().unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let name = f.file_name().and_then(|n| n.to_str()).expect("UTF-8 file name");
        out.push_str(&format!("    ({name:?}, include_str!({:?})),\n", abs.display().to_string()));
    }
    out.push_str("];\n");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(Path::new(&out_dir).join("targets.rs"), out).expect("write targets.rs");
}
