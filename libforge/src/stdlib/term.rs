//! The `term` module (spec 11 §11.10): ANSI colours and small terminal widgets.
//!
//! The colour functions (`red` … `dim`, `gradient`) return Strings that always carry
//! their escape sequences: they are data the program builds on purpose, and the
//! conformance corpus expects them even when stdout is a pipe. Every widget writes to
//! standard error; that output is "chrome", so its colour and style sequences
//! (`ESC[…m`) are removed when stderr is not a terminal or `NO_COLOR` is set
//! (`FORCE_COLOR`/`CLICOLOR_FORCE` keep them). Cursor controls (`clear`, the spinner's
//! line erase) are written as they are. Text arguments use the display rendering, and
//! widths count characters, not bytes.

use std::borrow::Cow;
use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::Duration;

use crate::builtins::Registry;
use crate::display::display;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::value::Value;

pub fn register(r: &mut Registry) {
    r.module("term", "red", red);
    r.module("term", "green", green);
    r.module("term", "yellow", yellow);
    r.module("term", "blue", blue);
    r.module("term", "magenta", magenta);
    r.module("term", "cyan", cyan);
    r.module("term", "bold", bold);
    r.module("term", "dim", dim);
    r.module("term", "table", table);
    r.module("term", "hr", hr);
    r.module("term", "clear", clear);
    r.module("term", "spinner", spinner);
    r.module("term", "confirm", confirm);
    r.module("term", "sparkline", sparkline);
    r.module("term", "bar", bar);
    r.module("term", "banner", banner);
    r.module("term", "countdown", countdown);
    r.module("term", "emojis", emojis);
    r.module("term", "box", box_);
    r.module("term", "typewriter", typewriter);
    r.module("term", "menu", menu);
    r.module("term", "beep", beep);
    r.module("term", "emoji", emoji);
    r.module("term", "gradient", gradient);
    r.module("term", "success", success);
    r.module("term", "error", error);
    r.module("term", "warning", warning);
    r.module("term", "info", info);
}

// ---------------------------------------------------------------------------------
// Output policy
// ---------------------------------------------------------------------------------

/// Whether colours are wanted, given the environment and whether the stream is a
/// terminal: a non-empty `NO_COLOR` disables them, a non-empty `FORCE_COLOR` or
/// `CLICOLOR_FORCE` other than `0` forces them, otherwise only terminals get them.
fn colour_wanted(no_color: Option<&str>, force: Option<&str>, clicolor_force: Option<&str>, tty: bool) -> bool {
    let set = |v: Option<&str>| v.is_some_and(|s| !s.is_empty());
    let forced = |v: Option<&str>| v.is_some_and(|s| !s.is_empty() && s != "0");
    if set(no_color) {
        false
    } else if forced(force) || forced(clicolor_force) {
        true
    } else {
        tty
    }
}

/// Whether widget output on stderr keeps its colours (decided once per process).
fn stderr_colour() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        let var = |n: &str| std::env::var(n).ok();
        colour_wanted(
            var("NO_COLOR").as_deref(),
            var("FORCE_COLOR").as_deref(),
            var("CLICOLOR_FORCE").as_deref(),
            std::io::stderr().is_terminal(),
        )
    })
}

/// `text` without its SGR sequences (`ESC[` digits and `;` `m`); other escapes stay.
fn strip_sgr(text: &str) -> Cow<'_, str> {
    if !text.contains('\x1b') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\x1b') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let params =
            tail.strip_prefix("\x1b[").map(|p| p.bytes().take_while(|b| b.is_ascii_digit() || *b == b';').count());
        match params {
            Some(n) if tail.as_bytes().get(2 + n) == Some(&b'm') => rest = &tail[3 + n..],
            _ => {
                out.push('\x1b');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Writes widget output to stderr, following the colour policy.
fn emit(text: &str) {
    if stderr_colour() {
        crate::output::eprint(text);
    } else {
        crate::output::eprint(&strip_sgr(text));
    }
}

/// The display rendering of argument `i`, or `default` when it is absent.
fn text_arg(args: &[Value], i: usize, default: &str) -> String {
    args.get(i).map(display).unwrap_or_else(|| default.to_string())
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// `s` followed by spaces up to `w` characters.
fn pad(s: &str, w: usize) -> String {
    let mut out = s.to_string();
    for _ in width(s)..w {
        out.push(' ');
    }
    out
}

/// Reads a line of the answer to a question (after flushing stdout); `None` at end of
/// input or on a read error.
fn read_answer() -> Option<String> {
    crate::output::flush();
    let mut line = String::new();
    match std::io::BufRead::read_line(&mut std::io::stdin().lock(), &mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line),
    }
}

// ---------------------------------------------------------------------------------
// Colours
// ---------------------------------------------------------------------------------

fn wrap(args: &[Value], code: &str) -> Result<Value> {
    Ok(Value::string(format!("\x1b[{code}m{}\x1b[0m", text_arg(args, 0, ""))))
}

fn red(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    wrap(args, "31")
}
fn green(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    wrap(args, "32")
}
fn yellow(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    wrap(args, "33")
}
fn blue(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    wrap(args, "34")
}
fn magenta(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    wrap(args, "35")
}
fn cyan(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    wrap(args, "36")
}
fn bold(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    wrap(args, "1")
}
fn dim(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    wrap(args, "2")
}

/// The 256-colour palette `gradient` cycles through (red to green).
const GRADIENT: [u8; 11] = [196, 202, 208, 214, 220, 226, 190, 154, 118, 82, 46];

fn gradient_text(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        out.push_str(&format!("\x1b[38;5;{}m{c}", GRADIENT[i % GRADIENT.len()]));
    }
    out.push_str("\x1b[0m");
    out
}

fn gradient(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    Ok(Value::string(gradient_text(&text_arg(args, 0, ""))))
}

// ---------------------------------------------------------------------------------
// Widgets
// ---------------------------------------------------------------------------------

/// The text `term.table(rows)` writes, or `None` for an empty table.
fn table_text(args: &[Value]) -> Result<Option<String>> {
    let Some(rows) = args.first().and_then(Value::as_array) else {
        return fail("term.table() requires an array of objects");
    };
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let Some(first) = first.as_object() else {
        return fail("term.table() requires array of objects");
    };
    let headers: Vec<String> = first.keys().map(|k| k.as_str().to_string()).collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .filter_map(Value::as_object)
        .map(|row| headers.iter().map(|h| row.get(h.as_str()).map(display).unwrap_or_default()).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(c));
        }
    }
    let line = |items: &[String]| -> String {
        let parts: Vec<String> = items.iter().zip(&widths).map(|(c, &w)| format!(" {} ", pad(c, w))).collect();
        parts.join("|")
    };
    let mut out = format!("\x1b[1m{}\x1b[0m\n", line(&headers));
    let sep: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
    out.push_str(&sep.join("+"));
    out.push('\n');
    for row in &cells {
        out.push_str(&line(row));
        out.push('\n');
    }
    Ok(Some(out))
}

fn table(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    if let Some(text) = table_text(args)? {
        emit(&text);
    }
    Ok(Value::NULL)
}

fn hr_text(args: &[Value]) -> String {
    let n = args.first().and_then(Value::as_int).map_or(40, |n| n.max(0));
    let ch = args.get(1).and_then(Value::as_str).unwrap_or("─");
    let n = usize::try_from(n).unwrap_or(0);
    // An absurd width would exhaust memory; a rule never needs more than this.
    let n = if ch.is_empty() { 0 } else { n.min((1 << 28) / ch.len()) };
    let mut out = ch.repeat(n);
    out.push('\n');
    out
}

fn hr(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    emit(&hr_text(args));
    Ok(Value::NULL)
}

fn clear(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    emit("\x1b[2J\x1b[1;1H");
    Ok(Value::NULL)
}

fn spinner(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    emit(&format!("\x1b[2K\r{} \u{280b}", text_arg(args, 0, "Loading...")));
    Ok(Value::NULL)
}

/// Whether a `confirm` answer means yes.
fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}

fn confirm(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    emit(&format!("{} [y/N] ", text_arg(args, 0, "Continue?")));
    Ok(Value::bool(read_answer().is_some_and(|a| is_yes(&a))))
}

const SPARKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

fn sparkline_text(nums: &[Value]) -> String {
    let values: Vec<f64> = nums.iter().map(|v| v.as_f64().unwrap_or(0.0)).collect();
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = if (max - min).abs() < 0.001 { 1.0 } else { max - min };
    // `as usize` saturates (NaN becomes 0), and `min(7)` caps the top.
    values.iter().map(|v| SPARKS[(((v - min) / range * 7.0).floor() as usize).min(7)]).collect()
}

fn sparkline(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match args.first().and_then(Value::as_array) {
        Some(nums) => Ok(Value::string(sparkline_text(nums))),
        None => fail("term.sparkline() requires an array of numbers"),
    }
}

fn bar_text(args: &[Value]) -> String {
    let label = text_arg(args, 0, "");
    let value = args.get(1).and_then(Value::as_f64).unwrap_or(0.0);
    let max = args.get(2).and_then(Value::as_f64).unwrap_or(100.0);
    let ratio = value / max;
    let filled = ((ratio * 30.0).floor().max(0.0) as usize).min(30);
    format!("  {label} [{}{}] {:.0}%\n", "█".repeat(filled), "░".repeat(30 - filled), ratio * 100.0)
}

fn bar(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    emit(&bar_text(args));
    Ok(Value::NULL)
}

fn banner_text(text: &str) -> String {
    let border = "═".repeat(width(text) + 4);
    format!("╔{border}╗\n║  {text}  ║\n╚{border}╝\n")
}

fn banner(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    emit(&banner_text(&text_arg(args, 0, "")));
    Ok(Value::NULL)
}

fn box_text(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let w = lines.iter().map(|l| width(l)).max().unwrap_or(0);
    let border = "─".repeat(w + 2);
    let mut out = format!("┌{border}┐\n");
    for l in &lines {
        out.push_str(&format!("│ {} │\n", pad(l, w)));
    }
    out.push_str(&format!("└{border}┘\n"));
    out
}

fn box_(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    emit(&box_text(&text_arg(args, 0, "")));
    Ok(Value::NULL)
}

fn countdown(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let secs = args.first().and_then(Value::as_int).unwrap_or(3);
    for i in (1..=secs).rev() {
        emit(&format!("\r  {i} "));
        h.sleep(Duration::from_secs(1))?;
    }
    emit("\r  Go! \u{1f680}\n");
    Ok(Value::NULL)
}

fn typewriter(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let text = text_arg(args, 0, "");
    let delay = args.get(1).and_then(Value::as_int).unwrap_or(30);
    let delay = Duration::from_millis(u64::try_from(delay).unwrap_or(0));
    let mut buf = [0u8; 4];
    for c in text.chars() {
        emit(c.encode_utf8(&mut buf));
        if !delay.is_zero() {
            h.sleep(delay)?;
        }
    }
    emit("\n");
    Ok(Value::NULL)
}

fn menu_text(options: &[Value], prompt: &str) -> String {
    let mut out = format!("\n  {prompt}\n");
    for (i, o) in options.iter().enumerate() {
        out.push_str(&format!("  \x1b[36m{})\x1b[0m {}\n", i + 1, display(o)));
    }
    out.push_str("\n  Your choice: ");
    out
}

/// The option chosen by `answer` (a number from 1), or `null`.
fn menu_choice(options: &[Value], answer: &str) -> Value {
    match answer.trim().parse::<usize>() {
        Ok(n) if n >= 1 && n <= options.len() => options[n - 1].clone(),
        _ => Value::NULL,
    }
}

fn menu(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(options) = args.first().and_then(Value::as_array) else {
        return fail("term.menu() requires an array of options");
    };
    emit(&menu_text(options, &text_arg(args, 1, "Choose an option:")));
    Ok(read_answer().map(|a| menu_choice(options, &a)).unwrap_or(Value::NULL))
}

fn beep(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    emit("\x07");
    Ok(Value::NULL)
}

/// The emoji table: main name, emoji, aliases.
const EMOJIS: &[(&str, &str, &[&str])] = &[
    ("check", "✅", &["ok", "yes"]),
    ("cross", "❌", &["no", "fail"]),
    ("star", "⭐", &["fav"]),
    ("fire", "🔥", &["hot"]),
    ("heart", "❤️", &["love"]),
    ("rocket", "🚀", &["launch"]),
    ("warn", "⚠️", &["warning"]),
    ("info", "ℹ️", &["information"]),
    ("bug", "🐛", &["error"]),
    ("clock", "⏰", &["time"]),
    ("folder", "📁", &["dir"]),
    ("file", "📄", &["doc"]),
    ("lock", "🔒", &["secure"]),
    ("key", "🔑", &[]),
    ("link", "🔗", &["url"]),
    ("mail", "📧", &["email"]),
    ("globe", "🌍", &["web", "world"]),
    ("party", "🎉", &["celebrate"]),
    ("think", "🤔", &["hmm"]),
    ("wave", "👋", &["hi", "hello"]),
    ("thumbsup", "👍", &["good"]),
    ("thumbsdown", "👎", &["bad"]),
    ("100", "💯", &["perfect"]),
    ("zap", "⚡", &["bolt", "fast"]),
    ("gear", "⚙️", &["settings"]),
    ("tools", "🔧", &["wrench"]),
];

fn emoji_for(name: &str) -> &'static str {
    EMOJIS.iter().find(|(n, _, aliases)| *n == name || aliases.contains(&name)).map(|e| e.1).unwrap_or("❓")
}

fn emoji(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    Ok(Value::str(emoji_for(&text_arg(args, 0, ""))))
}

fn emojis_text() -> String {
    let mut out = String::from("\n  \x1b[1mAvailable Emojis:\x1b[0m  term.emoji(\"name\")\n");
    out.push_str(&format!("  {}\n", "─".repeat(45)));
    for (name, e, aliases) in EMOJIS {
        if aliases.is_empty() {
            out.push_str(&format!("  {e}  {}\n", pad(name, 12)));
        } else {
            out.push_str(&format!("  {e}  {} \x1b[90malso: {}\x1b[0m\n", pad(name, 12), aliases.join(", ")));
        }
    }
    out.push('\n');
    out
}

fn emojis(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    emit(&emojis_text());
    Ok(Value::NULL)
}

fn status_line(colour: &str, sign: &str, args: &[Value]) -> String {
    format!("  \x1b[{colour}m{sign}{}\x1b[0m\n", text_arg(args, 0, ""))
}

fn success(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    emit(&status_line("32", "✅ ", args));
    Ok(Value::NULL)
}

fn error(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    emit(&status_line("31", "❌ ", args));
    Ok(Value::NULL)
}

fn warning(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    emit(&status_line("33", "⚠️  ", args));
    Ok(Value::NULL)
}

fn info(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    emit(&status_line("36", "ℹ️  ", args));
    Ok(Value::NULL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtins::arrays::testing::{host, i, j, s, show};
    use crate::builtins::BuiltinFn;

    fn ok(f: BuiltinFn, args: &[Value]) -> String {
        show(f(&mut host(), args).unwrap_or_else(|e| panic!("failed: {}", e.message())))
    }

    fn err(f: BuiltinFn, args: &[Value]) -> String {
        match f(&mut host(), args) {
            Ok(v) => panic!("succeeded with {}", show(v)),
            Err(e) => e.message().to_string(),
        }
    }

    #[test]
    fn conformance_term_colors() {
        let r = ok(red, &[s("alert")]);
        assert_eq!(r.len(), 14);
        assert_eq!(r, "\x1b[31malert\x1b[0m");
        assert_eq!(hex::encode(ok(green, &[s("g")])), "1b5b33326d671b5b306d");
        assert_eq!(hex::encode(ok(bold, &[s("b")])), "1b5b316d621b5b306d");
        assert_eq!(ok(sparkline, &[j("[1, 5, 3, 8, 2, 7, 4, 6]")]), "▁▅▃█▂▇▄▆");
        assert_eq!(ok(emoji, &[s("rocket")]), "🚀");
        assert_eq!(ok(emoji, &[s("unknown-name")]), "❓");
        assert_ne!(ok(blue, &[s("x")]), ok(cyan, &[s("x")]));
        assert!(ok(red, &[i(42)]).contains("42"));
        assert_eq!(ok(yellow, &[]), "\x1b[33m\x1b[0m");
        assert_eq!(ok(magenta, &[j("[1, 2]")]), "\x1b[35m[1, 2]\x1b[0m");
        assert_eq!(ok(dim, &[s("d")]), "\x1b[2md\x1b[0m");
    }

    #[test]
    fn emoji_names() {
        assert_eq!(ok(emoji, &[i(100)]), "💯");
        assert_eq!(ok(emoji, &[s("hello")]), "👋");
        assert_eq!(ok(emoji, &[s("key")]), "🔑");
        assert_eq!(ok(emoji, &[s("settings")]), "⚙️");
        assert_eq!(ok(emoji, &[]), "❓");
        let listing = emojis_text();
        assert!(listing.starts_with("\n  \x1b[1mAvailable Emojis:\x1b[0m  term.emoji(\"name\")\n  ─────"));
        assert!(listing.contains("  🔑  key         \n"));
        assert!(listing.contains("  🌍  globe        \x1b[90malso: web, world\x1b[0m\n"));
    }

    #[test]
    fn spec_table() {
        let rows = j(
            r#"[{"name": "Alice", "role": "Admin", "active": true}, {"name": "Bob", "role": "User", "active": false}]"#,
        );
        let text = table_text(&[rows]).unwrap().unwrap();
        assert_eq!(
            strip_sgr(&text),
            " name  | role  | active \n-------+-------+--------\n Alice | Admin | true   \n Bob   | User  | false  \n"
        );
        assert!(text.starts_with("\x1b[1m name  | role  | active \x1b[0m\n"));
        // Missing keys give empty cells; non-object rows are skipped; values use the
        // display rendering and widths count characters.
        let rows = j(r#"[{"a": 1, "b": "x"}, 5, {"b": "héllo"}, {"a": [1, 2]}]"#);
        assert_eq!(
            strip_sgr(&table_text(&[rows]).unwrap().unwrap()),
            " a      | b     \n--------+-------\n 1      | x     \n        | héllo \n [1, 2] |       \n"
        );
        assert_eq!(table_text(&[j("[]")]).unwrap(), None);
        assert_eq!(err(table, &[i(1)]), "term.table() requires an array of objects");
        assert_eq!(err(table, &[]), "term.table() requires an array of objects");
        assert_eq!(err(table, &[j("[1, {}]")]), "term.table() requires array of objects");
    }

    #[test]
    fn rules_bars_boxes() {
        assert_eq!(hr_text(&[]), format!("{}\n", "─".repeat(40)));
        assert_eq!(hr_text(&[i(10)]), format!("{}\n", "─".repeat(10)));
        assert_eq!(hr_text(&[i(3), s("=")]), "===\n");
        assert_eq!(hr_text(&[i(-5)]), "\n");
        assert_eq!(hr_text(&[s("x"), i(1)]), format!("{}\n", "─".repeat(40)));
        assert_eq!(bar_text(&[s("cpu"), i(50)]), format!("  cpu [{}{}] 50%\n", "█".repeat(15), "░".repeat(15)));
        assert_eq!(bar_text(&[s("x"), i(1), i(8)]), format!("  x [{}{}] 12%\n", "█".repeat(3), "░".repeat(27)));
        // Halves round to even.
        assert_eq!(bar_text(&[s("h"), Value::float(2.5)]), format!("  h [{}] 2%\n", "░".repeat(30)));
        assert_eq!(bar_text(&[s("o"), i(150)]), format!("  o [{}] 150%\n", "█".repeat(30)));
        assert_eq!(bar_text(&[s("n"), i(-10)]), format!("  n [{}] -10%\n", "░".repeat(30)));
        assert_eq!(bar_text(&[s("z"), i(5), i(0)]), format!("  z [{}] inf%\n", "█".repeat(30)));
        assert_eq!(bar_text(&[s("q"), i(0), i(0)]), format!("  q [{}] NaN%\n", "░".repeat(30)));
        assert_eq!(bar_text(&[]), format!("   [{}] 0%\n", "░".repeat(30)));
        assert_eq!(banner_text("Banner"), "╔══════════╗\n║  Banner  ║\n╚══════════╝\n");
        assert_eq!(banner_text("né"), "╔══════╗\n║  né  ║\n╚══════╝\n");
        assert_eq!(box_text("hi\nthere"), "┌───────┐\n│ hi    │\n│ there │\n└───────┘\n");
        assert_eq!(box_text(""), "┌──┐\n└──┘\n");
        assert_eq!(box_text("ü"), "┌───┐\n│ ü │\n└───┘\n");
    }

    #[test]
    fn sparkline_edges() {
        assert_eq!(ok(sparkline, &[j("[]")]), "");
        assert_eq!(ok(sparkline, &[j("[3, 3, 3]")]), "▁▁▁");
        assert_eq!(ok(sparkline, &[j(r#"[0, "x", 7]"#)]), "▁▁█");
        assert_eq!(ok(sparkline, &[j("[0.5, 1.5]")]), "▁█");
        assert_eq!(sparkline_text(&[Value::float(f64::NAN), i(1)]).chars().count(), 2);
        assert_eq!(sparkline_text(&[Value::float(f64::INFINITY), i(1)]).chars().count(), 2);
        assert_eq!(err(sparkline, &[s("1 2")]), "term.sparkline() requires an array of numbers");
    }

    #[test]
    fn gradient_and_status_lines() {
        assert_eq!(ok(gradient, &[s("ab")]), "\x1b[38;5;196ma\x1b[38;5;202mb\x1b[0m");
        assert_eq!(ok(gradient, &[s("")]), "\x1b[0m");
        let long = gradient_text("abcdefghijkl");
        assert!(long.contains("\x1b[38;5;46mk\x1b[38;5;196ml"));
        assert_eq!(status_line("32", "✅ ", &[s("done")]), "  \x1b[32m✅ done\x1b[0m\n");
        assert_eq!(status_line("33", "⚠️  ", &[i(1)]), "  \x1b[33m⚠️  1\x1b[0m\n");
        for f in [success as BuiltinFn, error, warning, info, clear, beep, spinner] {
            assert_eq!(ok(f, &[s("m")]), "null");
        }
        assert_eq!(ok(table, &[j(r#"[{"a": 1}]"#)]), "null");
        assert_eq!(ok(hr, &[i(2)]), "null");
        assert_eq!(ok(banner, &[s("x")]), "null");
        assert_eq!(ok(box_, &[s("x")]), "null");
        assert_eq!(ok(bar, &[s("x"), i(3)]), "null");
        assert_eq!(ok(typewriter, &[s("ab"), i(0)]), "null");
        assert_eq!(ok(countdown, &[i(0)]), "null");
        assert_eq!(ok(countdown, &[i(-4)]), "null");
    }

    #[test]
    fn menus_and_answers() {
        let opts = j(r#"["tea", "coffee"]"#);
        let o = opts.as_array().unwrap();
        assert_eq!(strip_sgr(&menu_text(o, "Pick:")), "\n  Pick:\n  1) tea\n  2) coffee\n\n  Your choice: ");
        assert!(menu_text(o, "P").contains("  \x1b[36m1)\x1b[0m tea\n"));
        assert_eq!(show(menu_choice(o, "2\n")), "coffee");
        assert_eq!(show(menu_choice(o, " 1 ")), "tea");
        assert_eq!(show(menu_choice(o, "3")), "null");
        assert_eq!(show(menu_choice(o, "0")), "null");
        assert_eq!(show(menu_choice(o, "x")), "null");
        assert_eq!(err(menu, &[s("a")]), "term.menu() requires an array of options");
        assert!(is_yes(" Y\n"));
        assert!(is_yes("yes"));
        assert!(!is_yes("yess"));
        assert!(!is_yes(""));
    }

    #[test]
    fn colour_policy() {
        assert!(!colour_wanted(Some("1"), Some("1"), None, true));
        assert!(colour_wanted(Some(""), None, None, true));
        assert!(colour_wanted(None, Some("1"), None, false));
        assert!(colour_wanted(None, None, Some("1"), false));
        assert!(!colour_wanted(None, Some("0"), None, false));
        assert!(!colour_wanted(None, None, None, false));
        assert_eq!(strip_sgr("\x1b[1;31mX\x1b[0m y"), "X y");
        assert_eq!(strip_sgr("\x1b[38;5;196mr\x1b[0m"), "r");
        assert_eq!(strip_sgr("\x1b[2J\x1b[1;1H"), "\x1b[2J\x1b[1;1H");
        assert_eq!(strip_sgr("a\x1bb ✓"), "a\x1bb ✓");
        assert_eq!(strip_sgr("\x1b[2K\rLoading... ⠋"), "\x1b[2K\rLoading... ⠋");
    }

    #[test]
    fn members_in_catalogue_order() {
        let module = crate::builtins::module_object("term");
        let names: Vec<&str> = module.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "red",
                "green",
                "yellow",
                "blue",
                "magenta",
                "cyan",
                "bold",
                "dim",
                "table",
                "hr",
                "clear",
                "spinner",
                "confirm",
                "sparkline",
                "bar",
                "banner",
                "countdown",
                "emojis",
                "box",
                "typewriter",
                "menu",
                "beep",
                "emoji",
                "gradient",
                "success",
                "error",
                "warning",
                "info"
            ]
        );
    }
}
