//! The hand-written lexer: source text to `(start, Tok, end)` triples for lalrpop.
//!
//! Besides cutting the text into tokens (01-lexical.md), the lexer does the context
//! work that keeps the grammar LR(1):
//!
//! - **Newlines.** It emits [`Tok::Newline`] only where a statement can end: never
//!   inside `()`/`[]`, object and struct literals, or declaration bodies; never after a
//!   token that needs a continuation (a binary operator, `,`, `=`, `let`, …); never
//!   before a closing bracket, `,`, `.`, `|>`, `&&`, `||`, `|`, `->`, `=>`, `catch`, or
//!   an `else`/`otherwise`/`nah` (except inside a `when` body, where those start arms);
//!   never inside the head of `if`/`while`/`for`/`match`/`when`/`fn`/… (so the `{` of
//!   the body may sit on the next line). Runs of newlines and `;` collapse into one.
//! - **Braces.** Each `{` is classified as a block-like `LBrace`, an object literal
//!   `LBraceObj` (03 §3.3) or a struct literal `LBraceStruct` (03 §3.4, with the
//!   condition-head rule of deviation 7).
//! - **Contextual words.** `is`/`not`/`empty`/`between`/`and`/`contains` after a
//!   `check` expression, `with` in a `grab` statement, `minutes`/`hours` in a
//!   `schedule` head and `has` at the start of a struct field become their own tokens.
//! - **Strings.** Escapes are decoded; interpolated strings are split and their
//!   embedded expressions parsed (with positions mapped back into the file).
//!
//! Lex errors are recorded as diagnostics and lexing goes on with a best-effort token,
//! so that one run reports every problem. The lexer never fails and never recurses
//! except through interpolation, whose depth is capped.

use std::collections::VecDeque;

mod strings;

use super::ast::Span;
use super::token::{keyword, Tok};
use crate::diag::Diagnostic;

/// The error type of the lalrpop token stream. The lexer reports problems as
/// diagnostics instead, so no value of this type ever exists.
#[derive(Clone, Debug)]
pub enum LexError {}

/// One token with its byte range in the file.
pub type Spanned = (usize, Tok, usize);

/// How deeply interpolated strings may nest inside each other's expressions.
const MAX_INTERP_DEPTH: u32 = 16;

/// How deeply brackets may nest, and how many prefix operators may follow each other.
/// Both grow the parser's stack (and, on errors, its recovery time), so absurd inputs
/// stop here with `nesting too deep`; ten thousand nested parentheses still parse.
pub const MAX_NESTING: usize = 100_000;

/// What kind of bracket a frame of the nesting stack stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FrameKind {
    /// The whole file (statements; newlines significant).
    Root,
    Paren,
    Bracket,
    /// A statement block or function body (newlines significant).
    Block,
    /// The arms of a `match` (newlines separate arms).
    MatchBody,
    /// The arms of a `when` (newlines separate arms; `else` starts an arm).
    WhenBody,
    /// An object or struct literal.
    Object,
    /// The body of a `struct`/`thing` (fields; `has` is a keyword here).
    StructBody,
    /// Other declaration bodies and destructuring braces (newlines insignificant).
    Quiet,
}

impl FrameKind {
    /// True where newlines never matter.
    fn is_quiet(self) -> bool {
        matches!(
            self,
            FrameKind::Paren | FrameKind::Bracket | FrameKind::Object | FrameKind::StructBody | FrameKind::Quiet
        )
    }
}

/// The head of a construct whose body `{` is still to come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Head {
    /// `if`, `while`, `for`, `repeat`, `retry`, `timeout`, `watch`: a condition head
    /// (no struct literals at its level); the body is a block.
    Cond,
    /// `schedule`: a condition head in which `minutes`/`hours` are unit words.
    Schedule,
    Match,
    When,
    /// `fn`/`define`/`async`/`forge`: the first `{` at this level is the body.
    Fn,
    /// `catch name`.
    Catch,
    /// `struct`/`thing`.
    Struct,
    /// `interface`/`power`, `impl`/`give` and `prompt`.
    Decl,
}

/// A statement whose contextual words are active until the end of its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineMode {
    Check { seen_between: bool },
    Grab,
}

#[derive(Clone, Copy, Debug)]
struct Frame {
    kind: FrameKind,
    head: Option<Head>,
    line: Option<LineMode>,
}

impl Frame {
    fn new(kind: FrameKind) -> Frame {
        Frame { kind, head: None, line: None }
    }
}

/// What the lexer remembers about an emitted token to classify the next ones.
#[derive(Clone, Copy, Debug, Default)]
struct Info {
    exists: bool,
    newline: bool,
    /// `(`, `[` or any `{`.
    open: bool,
    dot: bool,
    /// The token can end an operand (a name, a literal, a closing bracket, `?`, …).
    ends_operand: bool,
    /// A newline right after this token is never significant.
    continues: bool,
    /// A name is expected next (`let`, `fn`, `for`, `struct`, …).
    name_intro: bool,
    /// `let`, `unpack`, `import`: a `{` right after is a destructuring list.
    destructure: bool,
    /// `else`, `otherwise`, `nah`, `try`, `loop`, `spawn`, `safe`: a `{` is a block.
    block_kw: bool,
    craft: bool,
    fat_arrow: bool,
    check_kw: bool,
    check_is: bool,
    check_not: bool,
    upper_ident: bool,
}

/// The lexer. Iterate it (by `&mut`) to get the tokens, then read
/// [`Lexer::take_diagnostics`].
pub struct Lexer<'s> {
    src: &'s str,
    bytes: &'s [u8],
    pos: usize,
    /// For an embedded interpolation expression: the file offset of every byte of
    /// `src` (and one past the end). `None` for a whole file.
    offsets: Option<&'s [u32]>,
    interp_depth: u32,
    frames: Vec<Frame>,
    /// Position of the first newline (or `;`) since the last emitted token.
    pending_newline: Option<usize>,
    /// A `;` was seen since the last emitted token.
    forced_newline: bool,
    prev: Info,
    prev2: Info,
    queue: VecDeque<Spanned>,
    diags: Vec<Diagnostic>,
    /// How many prefix operators came in a row just now.
    prefix_run: usize,
    /// Set after `nesting too deep`: the token stream ends there.
    stopped: bool,
}

impl<'s> Lexer<'s> {
    /// A lexer for a whole source file.
    pub fn new(src: &'s str) -> Lexer<'s> {
        Lexer {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            offsets: None,
            interp_depth: 0,
            frames: vec![Frame::new(FrameKind::Root)],
            pending_newline: None,
            forced_newline: false,
            prev: Info::default(),
            prev2: Info::default(),
            queue: VecDeque::new(),
            diags: Vec::new(),
            prefix_run: 0,
            stopped: false,
        }
    }

    /// A lexer for the text of an embedded `{expression}`: newlines are insignificant
    /// (as inside parentheses) and every position is mapped through `offsets`.
    pub fn embedded(src: &'s str, offsets: &'s [u32], interp_depth: u32) -> Lexer<'s> {
        let mut lexer = Lexer::new(src);
        lexer.offsets = Some(offsets);
        lexer.interp_depth = interp_depth;
        lexer.frames.push(Frame::new(FrameKind::Paren));
        lexer
    }

    /// The lex errors found so far, in source order.
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diags)
    }

    /// The file offset of local position `pos`.
    fn file_pos(&self, pos: usize) -> usize {
        match self.offsets {
            Some(offsets) => offsets.get(pos).or(offsets.last()).map_or(pos, |&o| o as usize),
            None => pos,
        }
    }

    fn error(&mut self, start: usize, end: usize, message: impl Into<String>) {
        let span = Span::new(self.file_pos(start), self.file_pos(end));
        self.diags.push(Diagnostic::error(span, message));
    }

    fn byte(&self, pos: usize) -> u8 {
        self.bytes.get(pos).copied().unwrap_or(0)
    }

    fn top(&self) -> Frame {
        self.frames.last().copied().unwrap_or(Frame::new(FrameKind::Root))
    }

    fn top_mut(&mut self) -> &mut Frame {
        if self.frames.is_empty() {
            self.frames.push(Frame::new(FrameKind::Root));
        }
        let last = self.frames.len() - 1;
        &mut self.frames[last]
    }

    /// Skips spaces, tabs, carriage returns, line feeds (remembering the first) and
    /// `//` comments.
    fn skip_trivia(&mut self) {
        loop {
            match self.byte(self.pos) {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'\n' => {
                    self.pending_newline.get_or_insert(self.pos);
                    self.pos += 1;
                }
                b'/' if self.byte(self.pos + 1) == b'/' => {
                    while self.pos < self.bytes.len() && self.bytes[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                _ => return,
            }
        }
    }

    /// The position of the next character that is not a space or a tab.
    fn peek_inline(&self, mut pos: usize) -> usize {
        while matches!(self.byte(pos), b' ' | b'\t' | b'\r') {
            pos += 1;
        }
        pos
    }

    /// The position of the next significant character, skipping whitespace, newlines
    /// and comments.
    fn peek_significant(&self, mut pos: usize) -> usize {
        loop {
            match self.byte(pos) {
                b' ' | b'\t' | b'\r' | b'\n' => pos += 1,
                b'/' if self.byte(pos + 1) == b'/' => {
                    while pos < self.bytes.len() && self.bytes[pos] != b'\n' {
                        pos += 1;
                    }
                }
                _ => return pos,
            }
        }
    }

    /// Produces the next token (after any queued ones), or `None` at the end.
    fn next_token(&mut self) -> Option<Spanned> {
        loop {
            if let Some(tok) = self.queue.pop_front() {
                return Some(tok);
            }
            self.skip_trivia();
            if self.pos >= self.bytes.len() || self.stopped {
                return None;
            }
            let start = self.pos;
            if self.bytes[start] == b';' {
                self.pos += 1;
                if self.top().kind.is_quiet() {
                    self.push_token(start, Tok::Semicolon, self.pos);
                } else {
                    self.pending_newline.get_or_insert(start);
                    self.forced_newline = true;
                }
                continue;
            }
            if let Some(tok) = self.lex_raw() {
                let end = self.pos;
                self.push_token(start, tok, end);
            }
        }
    }

    /// Runs the context logic for one raw token and queues it (after a `Newline` when
    /// one is due).
    fn push_token(&mut self, start: usize, tok: Tok, end: usize) {
        let had_newline = self.pending_newline.is_some();
        if let Some(nl) = self.pending_newline {
            if self.newline_due(&tok) {
                let (s, e) = (self.file_pos(nl), self.file_pos(nl + 1));
                self.queue.push_back((s, Tok::Newline, e));
                self.prev2 = self.prev;
                self.prev = Info { exists: true, newline: true, ..Info::default() };
                self.top_mut().line = None;
            }
        }
        self.pending_newline = None;
        self.forced_newline = false;

        let tok = self.contextual(tok, end);
        let tok = self.track_nesting(tok, end, had_newline);
        let is_prefix = match tok {
            Tok::Minus => !self.prev.ends_operand,
            Tok::Not | Tok::DotDotDot | Tok::Await | Tok::Hold | Tok::Must | Tok::Freeze | Tok::Ask => true,
            _ => false,
        };
        self.prefix_run = if is_prefix { self.prefix_run + 1 } else { 0 };
        if self.frames.len() > MAX_NESTING || self.prefix_run > MAX_NESTING {
            self.error(start, end, "nesting too deep");
            self.stopped = true;
            return;
        }
        let info = self.info(&tok);
        self.prev2 = self.prev;
        self.prev = info;
        let (s, e) = (self.file_pos(start), self.file_pos(end));
        self.queue.push_back((s, tok, e));
    }

    /// Whether a pending newline before `tok` is a significant `Newline` token.
    fn newline_due(&self, tok: &Tok) -> bool {
        let frame = self.top();
        if frame.kind.is_quiet() || !self.prev.exists || self.prev.newline || self.prev.open {
            return false;
        }
        if matches!(tok, Tok::RBrace | Tok::RParen | Tok::RBracket) {
            return false;
        }
        if self.forced_newline {
            return true;
        }
        if frame.head.is_some() || self.prev.continues {
            return false;
        }
        match tok {
            Tok::Comma
            | Tok::Dot
            | Tok::Pipe
            | Tok::AndAnd
            | Tok::OrOr
            | Tok::Bar
            | Tok::Arrow
            | Tok::FatArrow
            | Tok::Catch => false,
            Tok::Else | Tok::Otherwise | Tok::Nah => frame.kind == FrameKind::WhenBody,
            _ => true,
        }
    }

    /// Turns contextual words into their tokens where their context is active.
    fn contextual(&mut self, tok: Tok, end: usize) -> Tok {
        let frame = self.top();
        let after_dot = self.prev.dot;
        match tok {
            Tok::Ident(word) => {
                let replaced = match (word.as_str(), frame.line) {
                    ("is", Some(LineMode::Check { .. })) if !after_dot && !self.prev.check_kw => Some(Tok::CheckIs),
                    ("not", _) if self.prev.check_is => Some(Tok::CheckNot),
                    ("empty", _) if self.prev.check_is || self.prev.check_not => Some(Tok::CheckEmpty),
                    ("between", Some(LineMode::Check { .. })) if !after_dot && !self.prev.check_kw => {
                        self.top_mut().line = Some(LineMode::Check { seen_between: true });
                        Some(Tok::CheckBetween)
                    }
                    ("and", Some(LineMode::Check { seen_between: true })) if !after_dot => Some(Tok::CheckAnd),
                    ("contains", Some(LineMode::Check { .. }))
                        if !after_dot && !self.prev.check_kw && self.byte(self.peek_inline(end)) != b'(' =>
                    {
                        Some(Tok::CheckContains)
                    }
                    ("with", Some(LineMode::Grab)) if !after_dot => Some(Tok::With),
                    ("minutes", _) if frame.head == Some(Head::Schedule) && !after_dot => Some(Tok::Minutes),
                    ("hours", _) if frame.head == Some(Head::Schedule) && !after_dot => Some(Tok::Hours),
                    ("has", _)
                        if frame.kind == FrameKind::StructBody
                            && frame.head.is_none()
                            && !after_dot
                            && is_ident_start(self.byte(self.peek_inline(end))) =>
                    {
                        Some(Tok::Has)
                    }
                    _ => None,
                };
                replaced.unwrap_or(Tok::Ident(word))
            }
            Tok::Not if self.prev.check_is => Tok::CheckNot,
            other => other,
        }
    }

    /// Whether a soft keyword at the current position starts its construct rather than
    /// standing for a name (`x.match`, `let retry = 3`, `{timeout: 5}`, `f(safe)`).
    fn soft_keyword_starts_construct(&self, end: usize) -> bool {
        if self.prev.dot || self.prev.name_intro {
            return false;
        }
        let next = self.peek_inline(end);
        match self.byte(next) {
            b':' | b',' | b')' | b']' | b'}' | b'.' => false,
            b'=' => matches!(self.byte(next + 1), b'=' | b'>'),
            _ => true,
        }
    }

    /// Whether the word after a declaration keyword is a name (`thing P`, `give T`).
    fn followed_by_name(&self, end: usize) -> bool {
        is_ident_start(self.byte(self.peek_inline(end)))
    }

    /// Maintains the frame stack, heads and line modes; classifies `{`.
    fn track_nesting(&mut self, tok: Tok, end: usize, had_newline: bool) -> Tok {
        if self.prev.dot && tok.keyword_text().is_some() {
            // A keyword after `.` is a field name and starts nothing.
            return tok;
        }
        let head = self.top().head;
        let in_decl_head = matches!(head, Some(Head::Decl) | Some(Head::Struct));
        let set_head = |lexer: &mut Lexer, h: Head| lexer.top_mut().head = Some(h);
        match tok {
            Tok::LParen => self.frames.push(Frame::new(FrameKind::Paren)),
            Tok::LBracket => self.frames.push(Frame::new(FrameKind::Bracket)),
            Tok::RParen | Tok::RBracket | Tok::RBrace if self.frames.len() > 1 => {
                self.frames.pop();
            }
            Tok::LBrace => return self.open_brace(end, had_newline),
            Tok::If | Tok::While | Tok::Repeat => set_head(self, Head::Cond),
            Tok::For if !in_decl_head => set_head(self, Head::Cond),
            Tok::When => set_head(self, Head::When),
            Tok::Match if self.soft_keyword_starts_construct(end) => set_head(self, Head::Match),
            Tok::Retry | Tok::Timeout | Tok::Watch if self.soft_keyword_starts_construct(end) => {
                set_head(self, Head::Cond)
            }
            Tok::Schedule if self.soft_keyword_starts_construct(end) => set_head(self, Head::Schedule),
            Tok::Fn | Tok::Define | Tok::Async | Tok::Forge => set_head(self, Head::Fn),
            Tok::Catch => set_head(self, Head::Catch),
            Tok::Struct => set_head(self, Head::Struct),
            Tok::Interface | Tok::Impl => set_head(self, Head::Decl),
            Tok::Thing if self.soft_keyword_starts_construct(end) && self.followed_by_name(end) => {
                set_head(self, Head::Struct)
            }
            Tok::Power | Tok::Give | Tok::Prompt
                if !in_decl_head && self.soft_keyword_starts_construct(end) && self.followed_by_name(end) =>
            {
                set_head(self, Head::Decl)
            }
            Tok::Check if self.soft_keyword_starts_construct(end) => {
                self.top_mut().line = Some(LineMode::Check { seen_between: false })
            }
            Tok::Grab => self.top_mut().line = Some(LineMode::Grab),
            _ => {}
        }
        tok
    }

    /// Classifies a `{` and pushes its frame.
    fn open_brace(&mut self, end: usize, had_newline: bool) -> Tok {
        let frame = self.top();
        let (tok, kind) = self.classify_brace(frame, end, had_newline);
        if tok == BraceTok::Body {
            // The `{` that ends a head opens the construct's body; the head is done.
            self.top_mut().head = None;
        }
        self.frames.push(Frame::new(kind));
        match tok {
            BraceTok::Body | BraceTok::Block => Tok::LBrace,
            BraceTok::Object => Tok::LBraceObj,
            BraceTok::Struct => Tok::LBraceStruct,
        }
    }

    fn classify_brace(&self, frame: Frame, end: usize, had_newline: bool) -> (BraceTok, FrameKind) {
        let body = |kind| (BraceTok::Body, kind);
        match frame.head {
            Some(Head::Struct) => return body(FrameKind::StructBody),
            Some(Head::Decl) => return body(FrameKind::Quiet),
            Some(Head::Fn) => return body(FrameKind::Block),
            _ => {}
        }
        if self.prev2.craft && !self.prev.open {
            return (BraceTok::Struct, FrameKind::Object);
        }
        if let Some(head) = frame.head {
            if self.prev.ends_operand {
                return match head {
                    Head::Match => body(FrameKind::MatchBody),
                    Head::When => body(FrameKind::WhenBody),
                    _ => body(FrameKind::Block),
                };
            }
        } else if self.prev.upper_ident && !had_newline && !self.prev2.dot {
            return (BraceTok::Struct, FrameKind::Object);
        }
        if self.prev.block_kw || (self.prev.fat_arrow && frame.kind == FrameKind::MatchBody) {
            return (BraceTok::Block, FrameKind::Block);
        }
        if self.prev.destructure {
            return (BraceTok::Block, FrameKind::Quiet);
        }
        if self.brace_starts_object(end) {
            (BraceTok::Object, FrameKind::Object)
        } else {
            (BraceTok::Block, FrameKind::Block)
        }
    }

    /// Rule 3.3: `{}` and `{ key:` (key an identifier, soft keyword or string,
    /// newlines skipped) open an object literal.
    fn brace_starts_object(&self, after: usize) -> bool {
        let p = self.peek_significant(after);
        let key_end = match self.byte(p) {
            b'}' => return true,
            b'"' => match self.scan_string_end(p) {
                Some(e) => e,
                None => return false,
            },
            b if is_ident_start(b) => {
                let e = self.scan_ident_end(p);
                let word = &self.src[p..e];
                if let Some(kw) = keyword(word) {
                    if !kw.is_soft_keyword() {
                        return false;
                    }
                }
                e
            }
            _ => return false,
        };
        let q = self.peek_significant(key_end);
        self.byte(q) == b':'
    }

    /// The end of the identifier starting at `pos`.
    fn scan_ident_end(&self, pos: usize) -> usize {
        let mut end = pos;
        for (i, c) in self.src[pos..].char_indices() {
            if c == '_' || c.is_alphanumeric() {
                end = pos + i + c.len_utf8();
            } else {
                break;
            }
        }
        end
    }

    /// The end (after the closing quote) of the string literal starting at `pos`, if
    /// it closes on its line.
    fn scan_string_end(&self, pos: usize) -> Option<usize> {
        if self.src[pos..].starts_with("\"\"\"") {
            return self.src[pos + 3..].find("\"\"\"").map(|i| pos + 3 + i + 3);
        }
        let mut p = pos + 1;
        loop {
            match self.bytes.get(p)? {
                b'"' => return Some(p + 1),
                b'\\' => p += 2,
                b'\n' => return None,
                _ => p += 1,
            }
        }
    }

    /// What the lexer needs to remember about `tok`.
    fn info(&self, tok: &Tok) -> Info {
        let mut info = Info { exists: true, ..Info::default() };
        if self.prev.dot && tok.keyword_text().is_some() {
            // A keyword after `.` is a field name.
            info.ends_operand = true;
            return info;
        }
        match tok {
            Tok::Ident(name) => {
                info.ends_operand = true;
                info.upper_ident = name.starts_with(|c: char| c.is_ascii_uppercase());
            }
            Tok::Int(_)
            | Tok::Float(_)
            | Tok::Str(_)
            | Tok::RawStr(_)
            | Tok::Interp(_)
            | Tok::True
            | Tok::False
            | Tok::Null
            | Tok::RParen
            | Tok::RBracket
            | Tok::RBrace
            | Tok::Question
            | Tok::Type
            | Tok::Any
            | Tok::Times
            | Tok::Seconds
            | Tok::Minutes
            | Tok::Hours
            | Tok::CheckEmpty
            | Tok::IntType
            | Tok::FloatType
            | Tok::StringType
            | Tok::BoolType
            | Tok::JsonType => info.ends_operand = true,
            Tok::LParen | Tok::LBracket | Tok::LBrace | Tok::LBraceObj | Tok::LBraceStruct => {
                info.open = true;
                info.continues = true;
            }
            Tok::Dot => {
                info.dot = true;
                info.continues = true;
            }
            Tok::FatArrow => {
                info.fat_arrow = true;
                info.continues = true;
            }
            Tok::Craft => {
                info.craft = true;
                info.continues = true;
            }
            Tok::Check => {
                info.check_kw = true;
                info.continues = true;
            }
            Tok::CheckIs => {
                info.check_is = true;
                info.continues = true;
            }
            Tok::CheckNot => {
                info.check_not = true;
                info.continues = true;
            }
            Tok::Let | Tok::Unpack | Tok::Import => {
                info.name_intro = true;
                info.destructure = true;
                info.continues = true;
            }
            Tok::Set
            | Tok::Mut
            | Tok::Fn
            | Tok::Define
            | Tok::Async
            | Tok::Forge
            | Tok::For
            | Tok::Each
            | Tok::Catch
            | Tok::Struct
            | Tok::Thing
            | Tok::Interface
            | Tok::Power
            | Tok::Impl
            | Tok::Give
            | Tok::The
            | Tok::Prompt
            | Tok::Grab
            | Tok::Has
            | Tok::At => {
                info.name_intro = true;
                info.continues = true;
            }
            Tok::Else | Tok::Otherwise | Tok::Nah | Tok::Try | Tok::Loop | Tok::Spawn | Tok::Safe => {
                info.block_kw = true;
                info.continues = true;
            }
            Tok::Plus
            | Tok::Minus
            | Tok::Star
            | Tok::Slash
            | Tok::Percent
            | Tok::Eq
            | Tok::EqEq
            | Tok::NotEq
            | Tok::Lt
            | Tok::Gt
            | Tok::LtEq
            | Tok::GtEq
            | Tok::AndAnd
            | Tok::OrOr
            | Tok::Not
            | Tok::Pipe
            | Tok::Bar
            | Tok::PipeRight
            | Tok::Arrow
            | Tok::Comma
            | Tok::Colon
            | Tok::DotDot
            | Tok::DotDotDot
            | Tok::Ampersand
            | Tok::PlusEq
            | Tok::MinusEq
            | Tok::StarEq
            | Tok::SlashEq
            | Tok::PercentEq
            | Tok::If
            | Tok::Match
            | Tok::In
            | Tok::While
            | Tok::Await
            | Tok::Yield
            | Tok::To
            | Tok::Change
            | Tok::Repeat
            | Tok::From
            | Tok::Wait
            | Tok::Say
            | Tok::Yell
            | Tok::Whisper
            | Tok::Hold
            | Tok::Emit
            | Tok::When
            | Tok::Must
            | Tok::Timeout
            | Tok::Retry
            | Tok::Schedule
            | Tok::Every
            | Tok::Watch
            | Tok::Freeze
            | Tok::Ask
            | Tok::Download
            | Tok::Crawl
            | Tok::CheckBetween
            | Tok::CheckAnd
            | Tok::CheckContains
            | Tok::With => info.continues = true,
            _ => {}
        }
        info
    }

    /// Lexes one token at `self.pos` (which is not trivia). Returns `None` after
    /// reporting an unexpected character.
    fn lex_raw(&mut self) -> Option<Tok> {
        let start = self.pos;
        let b = self.bytes[start];
        if is_ident_start(b) {
            let end = self.scan_ident_end(start);
            self.pos = end;
            let word = &self.src[start..end];
            return Some(keyword(word).unwrap_or_else(|| Tok::Ident(word.to_string())));
        }
        if b.is_ascii_digit() {
            return Some(self.lex_number());
        }
        if b == b'"' {
            return Some(self.lex_string());
        }
        let next = self.byte(start + 1);
        let (tok, len) = match b {
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b'{' => (Tok::LBrace, 1),
            b'}' => (Tok::RBrace, 1),
            b'[' => (Tok::LBracket, 1),
            b']' => (Tok::RBracket, 1),
            b',' => (Tok::Comma, 1),
            b':' => (Tok::Colon, 1),
            b'?' => (Tok::Question, 1),
            b'@' => (Tok::At, 1),
            b'.' if next == b'.' && self.byte(start + 2) == b'.' => (Tok::DotDotDot, 3),
            b'.' if next == b'.' => (Tok::DotDot, 2),
            b'.' => (Tok::Dot, 1),
            b'+' if next == b'=' => (Tok::PlusEq, 2),
            b'+' => (Tok::Plus, 1),
            b'-' if next == b'=' => (Tok::MinusEq, 2),
            b'-' if next == b'>' => (Tok::Arrow, 2),
            b'-' => (Tok::Minus, 1),
            b'*' if next == b'=' => (Tok::StarEq, 2),
            b'*' => (Tok::Star, 1),
            b'/' if next == b'=' => (Tok::SlashEq, 2),
            b'/' => (Tok::Slash, 1),
            b'%' if next == b'=' => (Tok::PercentEq, 2),
            b'%' => (Tok::Percent, 1),
            b'=' if next == b'=' => (Tok::EqEq, 2),
            b'=' if next == b'>' => (Tok::FatArrow, 2),
            b'=' => (Tok::Eq, 1),
            b'!' if next == b'=' => (Tok::NotEq, 2),
            b'!' => (Tok::Not, 1),
            b'<' if next == b'=' => (Tok::LtEq, 2),
            b'<' => (Tok::Lt, 1),
            b'>' if next == b'>' => (Tok::PipeRight, 2),
            b'>' if next == b'=' => (Tok::GtEq, 2),
            b'>' => (Tok::Gt, 1),
            b'&' if next == b'&' => (Tok::AndAnd, 2),
            b'&' => (Tok::Ampersand, 1),
            b'|' if next == b'|' => (Tok::OrOr, 2),
            b'|' if next == b'>' => (Tok::Pipe, 2),
            b'|' => (Tok::Bar, 1),
            _ => {
                let c = self.src[start..].chars().next().unwrap_or('\u{fffd}');
                self.pos += c.len_utf8().max(1);
                self.error(start, self.pos, format!("unexpected character: '{c}'"));
                return None;
            }
        };
        self.pos += len;
        Some(tok)
    }

    /// `digit (digit|_)* ('.' digit (digit|_)*)?`
    fn lex_number(&mut self) -> Tok {
        let start = self.pos;
        let digits = |lexer: &mut Lexer| {
            while lexer.byte(lexer.pos).is_ascii_digit() || lexer.byte(lexer.pos) == b'_' {
                lexer.pos += 1;
            }
        };
        digits(self);
        let is_float = self.byte(self.pos) == b'.' && self.byte(self.pos + 1).is_ascii_digit();
        if is_float {
            self.pos += 1;
            digits(self);
        }
        let text: String = self.src[start..self.pos].chars().filter(|&c| c != '_').collect();
        if is_float {
            Tok::Float(text.parse().unwrap_or(0.0))
        } else {
            match text.parse::<i64>() {
                Ok(n) => Tok::Int(n),
                Err(_) => {
                    self.error(start, self.pos, "invalid integer literal");
                    Tok::Int(0)
                }
            }
        }
    }
}

/// The three results of classifying a `{`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BraceTok {
    /// The body that ends a construct's head.
    Body,
    /// A block expression or a block after `else`, `try`, … .
    Block,
    Object,
    Struct,
}

impl Iterator for Lexer<'_> {
    type Item = Result<Spanned, LexError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_token().map(Ok)
    }
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}
