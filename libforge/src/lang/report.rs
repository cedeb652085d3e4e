//! The report of an uncaught error: message, source excerpt and stack trace.
//!
//! The layout itself is `forge_abi::report`; this picks the position, the file and the
//! source line the way every tier must, so that an uncaught error prints byte for byte
//! the same whichever tier ran the program.

use forge_abi::lines::LineIndex;
use forge_abi::report::{render, Colour};

use crate::error::Error;

/// Renders `err` for stderr. `sources` lists `(file, source text)` of the program's
/// files, the main file first, then imported files depth first in import order; the
/// excerpt comes from the first entry naming the error's file (the main file's source
/// when none does). An error without a position is shown at 1:1 of the main file.
pub fn report(err: &Error, sources: &[(&str, &str)], colour: Colour) -> String {
    let (main_file, main_source) = sources.first().copied().unwrap_or(("", ""));
    let inner = err.inner();
    let (line, col) = inner.pos.unwrap_or((1, 1));
    let file = inner.file.as_deref().unwrap_or(main_file);
    let src = sources.iter().find(|(f, _)| *f == file).map(|(_, s)| *s).unwrap_or(main_source);
    let idx = LineIndex::new(src);
    let text = idx.line_text(src, line);
    render(main_file, err.message(), line, col, text, &inner.trace, colour)
}
