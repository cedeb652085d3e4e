//! Generates the LR(1) parser from `src/syntax/grammar.lalrpop`.
//!
//! lalrpop 0.23 replaced `Processor` with `Configuration`. The cargo conventions
//! (input `src/`, output `$OUT_DIR`) put the generated module at
//! `$OUT_DIR/syntax/grammar.rs`, which `syntax/mod.rs` includes with `lalrpop_mod!`.
fn main() {
    lalrpop::Configuration::new()
        .use_cargo_dir_conventions()
        .emit_rerun_directives(true)
        .process()
        .expect("lalrpop grammar failed to build");
}
