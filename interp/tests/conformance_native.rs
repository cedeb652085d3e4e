//! The conformance corpus compiled by `forgec` into native executables.
//!
//! Needs the runtime library (`scripts/build-runtime`, which `scripts/test` runs first)
//! and the `forgec` binary built next to `forge` (as `cargo test --workspace` does).

mod common;

#[test]
fn conformance_corpus_compiled_by_forgec() {
    let forge = std::path::Path::new(env!("CARGO_BIN_EXE_forge"));
    let forgec = forge.with_file_name("forgec");
    assert!(
        forgec.is_file(),
        "{} is missing: build it with `cargo build -p forge-compiler --bin forgec` (cargo test --workspace does)",
        forgec.display()
    );
    common::run_corpus(forge, common::Tier::Native { forgec });
}
