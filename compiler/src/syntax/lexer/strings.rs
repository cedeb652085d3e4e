//! String literals: escape decoding, raw strings, and the splitting of interpolated
//! strings into literal pieces and parsed embedded expressions (01 §1.6.4–1.6.6).

use super::{Lexer, MAX_INTERP_DEPTH};
use crate::diag::Diagnostic;
use crate::syntax::ast::{Expr, InterpPart, Span};
use crate::syntax::token::{InterpTok, Tok};

impl Lexer<'_> {
    /// A `"…"` or `"""…"""` literal starting at `self.pos`.
    pub(super) fn lex_string(&mut self) -> Tok {
        let start = self.pos;
        if self.src[start..].starts_with("\"\"\"") {
            return self.lex_raw_string();
        }
        self.pos += 1;
        let mut text = String::new();
        // For every byte of `text`: the offset of the source character it came from.
        let mut offsets: Vec<u32> = Vec::new();
        // Indices into `text` of braces written as `\{` / `\}`.
        let mut escaped_braces: Vec<usize> = Vec::new();
        let mut has_open = false;
        let mut has_close = false;
        let mut terminated = false;
        loop {
            let here = self.pos;
            let Some(c) = self.src[here..].chars().next() else {
                self.error(start, here, "unterminated string");
                break;
            };
            match c {
                '"' => {
                    self.pos += 1;
                    terminated = true;
                    break;
                }
                '\n' => {
                    self.error(start, here, "unterminated string (newline in string literal)");
                    break;
                }
                '\\' => {
                    let Some(e) = self.src[here + 1..].chars().next() else {
                        self.pos = self.bytes.len();
                        self.error(here, self.pos, "unexpected end of string");
                        break;
                    };
                    if e == '\n' {
                        self.pos += 1;
                        self.error(start, self.pos, "unterminated string (newline in string literal)");
                        break;
                    }
                    self.pos += 1 + e.len_utf8();
                    let decoded = match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        '\\' => '\\',
                        '"' => '"',
                        '{' | '}' => {
                            escaped_braces.push(text.len());
                            e
                        }
                        other => {
                            self.error(here, self.pos, format!("unknown escape: \\{other}"));
                            other
                        }
                    };
                    push_char(&mut text, &mut offsets, decoded, here);
                }
                _ => {
                    self.pos += c.len_utf8();
                    has_open |= c == '{';
                    has_close |= c == '}';
                    push_char(&mut text, &mut offsets, c, here);
                }
            }
        }
        offsets.push(self.pos.saturating_sub(1) as u32);
        if !(terminated && has_open && has_close) {
            return Tok::Str(text);
        }
        // Map through an outer interpolation, if any, so that positions are file offsets.
        let offsets: Vec<u32> = offsets.iter().map(|&o| self.file_pos(o as usize) as u32).collect();
        self.split_interpolation(text, offsets, &escaped_braces)
    }

    /// A `"""…"""` literal: verbatim text up to the next `"""`.
    fn lex_raw_string(&mut self) -> Tok {
        let start = self.pos;
        let mut body = start + 3;
        if self.src[body..].starts_with('\n') {
            body += 1;
        } else if self.src[body..].starts_with("\r\n") {
            body += 2;
        }
        match self.src[body..].find("\"\"\"") {
            Some(i) => {
                self.pos = body + i + 3;
                Tok::RawStr(self.src[body..body + i].to_string())
            }
            None => {
                self.pos = self.bytes.len();
                self.error(start, self.pos, "unterminated triple-quoted string");
                Tok::RawStr(self.src[body.min(self.bytes.len())..].to_string())
            }
        }
    }

    /// Splits a decoded string with unescaped braces into literal pieces and parsed
    /// embedded expressions (01 §1.6.5).
    fn split_interpolation(&mut self, text: String, offsets: Vec<u32>, escaped_braces: &[usize]) -> Tok {
        let bytes = text.as_bytes();
        let is_escaped = |i: usize| escaped_braces.binary_search(&i).is_ok();
        let at = |i: usize| offsets.get(i).copied().unwrap_or(0) as usize;
        let mut parts = Vec::new();
        let mut lit_start = 0;
        let mut i = 0;
        let mut failed = false;
        while i < bytes.len() {
            match bytes[i] {
                b'{' if !is_escaped(i) => {
                    let Some(close) = matching_brace(bytes, i, &is_escaped) else {
                        self.report_at(at(i), at(i) + 1, "unterminated interpolation expression");
                        failed = true;
                        break;
                    };
                    if lit_start < i {
                        parts.push(InterpPart::Lit(text[lit_start..i].to_string()));
                    }
                    let inner = &text[i + 1..close];
                    let lead = inner.len() - inner.trim_start().len();
                    let code = inner.trim();
                    let code_start = i + 1 + lead;
                    if code.is_empty() {
                        self.report_at(at(i), at(close) + 1, "empty interpolation expression");
                        failed = true;
                    } else {
                        let code_offsets = &offsets[code_start..=code_start + code.len()];
                        match self.parse_embedded(code, code_offsets) {
                            Ok(expr) => parts.push(InterpPart::Expr(expr)),
                            Err(diag) => {
                                let message =
                                    format!("invalid interpolation expression '{{{code}}}': {}", diag.message);
                                self.diags.push(Diagnostic::error(diag.span, message));
                                failed = true;
                            }
                        }
                    }
                    i = close + 1;
                    lit_start = i;
                }
                b'}' if !is_escaped(i) => {
                    self.report_at(at(i), at(i) + 1, "unexpected '}' in string literal");
                    failed = true;
                    i += 1;
                }
                _ => i += 1,
            }
        }
        if failed {
            return Tok::Str(text);
        }
        if lit_start < text.len() {
            parts.push(InterpPart::Lit(text[lit_start..].to_string()));
        }
        Tok::Interp(Box::new(InterpTok { raw: text, parts }))
    }

    /// Records an error at file offsets (already mapped).
    fn report_at(&mut self, start: usize, end: usize, message: &str) {
        self.diags.push(Diagnostic::error(Span::new(start, end), message));
    }

    /// Parses one embedded expression, unless interpolations nest too deeply.
    fn parse_embedded(&mut self, code: &str, offsets: &[u32]) -> Result<Expr, Diagnostic> {
        if self.interp_depth >= MAX_INTERP_DEPTH {
            let span = Span::new(offsets[0] as usize, offsets[offsets.len() - 1] as usize);
            return Err(Diagnostic::error(span, "nesting too deep"));
        }
        crate::syntax::parse_embedded(code, offsets, self.interp_depth + 1)
    }
}

/// Appends `c` to `text`, recording `source` as the origin of each of its bytes.
fn push_char(text: &mut String, offsets: &mut Vec<u32>, c: char, source: usize) {
    text.push(c);
    for k in 0..c.len_utf8() {
        offsets.push((source + k) as u32);
    }
}

/// The index of the `}` matching the `{` at `open`, counting nested unescaped braces
/// and skipping over string literals inside the expression.
fn matching_brace(bytes: &[u8], open: usize, is_escaped: &dyn Fn(usize) -> bool) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // A quoted string inside the expression (written `\"…\"` in the source).
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'{' if !is_escaped(i) => depth += 1,
            b'}' if !is_escaped(i) => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}
