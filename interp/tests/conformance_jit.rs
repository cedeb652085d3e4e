//! The conformance corpus under `forge run --jit`: every program compiled in memory by
//! the native code generator (the lowering `forgec` uses), no fallback to the VM.

mod common;

#[test]
fn conformance_corpus_under_forge_run_jit() {
    common::run_corpus(std::path::Path::new(env!("CARGO_BIN_EXE_forge")), common::Tier::Jit);
}
