//! Generates the LR(1) parser from `src/syntax/grammar.lalrpop`.
fn main() {
    lalrpop::Processor::new()
        .process_current_dir()
        .expect("lalrpop grammar failed to build");
}
