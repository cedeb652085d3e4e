//! The text of an error report (spec 06 §6.9.2–6.9.4).
//!
//! ```text
//! Error: [prog.fg] division by zero
//!   hint: check that the divisor is not zero before dividing
//!    ╭─[<source>:2:12]
//!    │
//!  2 │     return x / 0
//!    │            ┬
//!    │            ╰── [prog.fg] division by zero
//! ───╯
//!   at inner (prog.fg:2:12)
//!   at <main> (prog.fg:9:1)
//!
//! ```

use std::fmt::Write;

/// Whether to colour the report with ANSI SGR sequences (as the reference does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colour {
    Never,
    Always,
}

/// One line of a stack trace: `at NAME (FILE:LINE:COL)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceLine {
    pub name: String,
    pub file: String,
    pub line: u32,
    pub col: u32,
}

/// Frames beyond this count are elided in the middle.
pub const MAX_TRACE_LINES: usize = 20;

/// Renders the full report: first line, hint lines, source excerpt, stack trace, and
/// the final empty line. `message` may have several lines (the hints).
pub fn render(
    file: &str,
    message: &str,
    line: u32,
    col: u32,
    source_line: &str,
    trace: &[TraceLine],
    colour: Colour,
) -> String {
    let (red, gutter, dim, text, reset) = match colour {
        Colour::Always => ("\x1b[31m", "\x1b[38;5;246m", "\x1b[38;5;240m", "\x1b[38;5;249m", "\x1b[0m"),
        Colour::Never => ("", "", "", "", ""),
    };
    let first = message.lines().next().unwrap_or("");
    let digits = line.to_string().len();
    let g = " ".repeat(digits + 2);
    let d = "─".repeat(digits + 2);
    let p = " ".repeat(col.saturating_sub(1) as usize);
    let mut out = String::new();
    let _ = writeln!(out, "{red}Error:{reset} [{file}] {message}");
    let _ = writeln!(out, "{gutter}{g}╭─[<source>:{line}:{col}]{reset}");
    let _ = writeln!(out, "{gutter}{g}│{reset}");
    let _ = writeln!(out, "{gutter} {line} │{reset} {text}{source_line}{reset}");
    let _ = writeln!(out, "{gutter}{g}│{reset} {p}{red}┬{reset}  ");
    let _ = writeln!(out, "{gutter}{g}│{reset} {p}{red}╰── [{file}] {first}{reset}");
    let _ = writeln!(out, "{dim}{d}╯{reset}");
    render_trace(&mut out, trace);
    out.push('\n');
    out
}

fn render_trace(out: &mut String, trace: &[TraceLine]) {
    fn line(out: &mut String, t: &TraceLine) {
        let _ = writeln!(out, "  at {} ({}:{}:{})", t.name, t.file, t.line, t.col);
    }
    if trace.len() > MAX_TRACE_LINES {
        let half = MAX_TRACE_LINES / 2;
        trace[..half].iter().for_each(|t| line(out, t));
        let _ = writeln!(out, "  ... {} more frames", trace.len() - MAX_TRACE_LINES);
        trace[trace.len() - half..].iter().for_each(|t| line(out, t));
    } else {
        trace.iter().for_each(|t| line(out, t));
    }
}

/// `error: [FILE] MESSAGE` — the short report used when no position is known.
pub fn render_short(message: &str, colour: Colour) -> String {
    match colour {
        Colour::Always => format!("\x1b[1;31merror\x1b[0m: {message}\n"),
        Colour::Never => format!("error: {message}\n"),
    }
}

/// `warning: MESSAGE` (checker findings).
pub fn render_warning(message: &str, colour: Colour) -> String {
    match colour {
        Colour::Always => format!("\x1b[1;33mwarning\x1b[0m: {message}\n"),
        Colour::Never => format!("warning: {message}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example() {
        let trace = vec![
            TraceLine { name: "inner".into(), file: "prog.fg".into(), line: 2, col: 12 },
            TraceLine { name: "outer".into(), file: "prog.fg".into(), line: 5, col: 13 },
            TraceLine { name: "<main>".into(), file: "prog.fg".into(), line: 9, col: 1 },
        ];
        let msg = "division by zero\n  hint: check that the divisor is not zero before dividing";
        let got = render("prog.fg", msg, 2, 12, "    return x / 0", &trace, Colour::Never);
        let want = "Error: [prog.fg] division by zero
  hint: check that the divisor is not zero before dividing
   ╭─[<source>:2:12]
   │
 2 │     return x / 0
   │            ┬  
   │            ╰── [prog.fg] division by zero
───╯
  at inner (prog.fg:2:12)
  at outer (prog.fg:5:13)
  at <main> (prog.fg:9:1)

";
        assert_eq!(got, want);
    }

    #[test]
    fn long_traces_are_elided() {
        let t = |i: u32| TraceLine { name: "down".into(), file: "f.fg".into(), line: i, col: 1 };
        let trace: Vec<_> = (0..31).map(t).collect();
        let got = render("f.fg", "x", 1, 1, "", &trace, Colour::Never);
        assert!(got.contains("  ... 11 more frames\n"));
        assert_eq!(got.matches("  at down").count(), 20);
    }
}
