//! The conformance corpus under `forge run --vm` (the VM tier).

mod common;

#[test]
fn conformance_corpus_under_forge_run_vm() {
    common::run_corpus(std::path::Path::new(env!("CARGO_BIN_EXE_forge")), common::Tier::Vm);
}
