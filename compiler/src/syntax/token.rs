//! The tokens the lexer hands to the lalrpop parser, and their reference names.
//!
//! Besides the plain tokens of 01-lexical.md, the lexer emits a few *context tokens*
//! that keep the grammar LR(1): the three kinds of `{` (block-like, object literal,
//! struct literal) and the contextual words of `check`, `grab`, `schedule` and `struct`
//! bodies (`is`, `not`, `empty`, `between`, `and`, `contains`, `with`, `minutes`,
//! `hours`, `has`). Their `Display` is the reference name of the token they are
//! spelled as (`LBrace`, `Ident("is")`, …), so messages read as in 06-errors.md §6.10.

use std::fmt;

use super::ast::InterpPart;

/// One token. Literal tokens carry their decoded value.
#[derive(Clone, Debug)]
pub enum Tok {
    // Literals and names.
    Ident(String),
    Int(i64),
    Float(f64),
    /// A `"…"` literal without interpolation (escapes decoded).
    Str(String),
    /// A `"""…"""` literal (verbatim).
    RawStr(String),
    /// An interpolated `"…"` literal: its pieces, with the embedded expressions already
    /// parsed, plus the decoded text (used where a string must be taken verbatim:
    /// object keys and `prompt` values).
    Interp(Box<InterpTok>),

    // Keywords with syntax (01 §1.5.1).
    Let,
    Mut,
    Fn,
    Return,
    If,
    Else,
    Match,
    For,
    In,
    While,
    Loop,
    Break,
    Continue,
    Struct,
    Type,
    Interface,
    Impl,
    Import,
    Spawn,
    True,
    False,
    Null,
    Async,
    Await,
    Yield,
    Try,
    Catch,
    Set,
    To,
    Change,
    Define,
    Otherwise,
    Nah,
    Each,
    Repeat,
    Times,
    Grab,
    From,
    Wait,
    Seconds,
    Say,
    Yell,
    Whisper,
    Thing,
    Power,
    Give,
    Craft,
    The,
    Forge,
    Hold,
    Emit,
    Unpack,
    When,
    Must,
    Safe,
    Check,
    Timeout,
    Retry,
    Schedule,
    Every,
    Watch,
    Freeze,
    Ask,
    Prompt,
    Download,
    Crawl,
    Any,
    IntType,
    FloatType,
    StringType,
    BoolType,
    JsonType,

    // Reserved keywords without syntax (01 §1.5.2).
    Pub,
    Unless,
    Until,
    Where,
    Transform,
    Table,
    Select,
    Order,
    By,
    Limit,
    Keep,
    Take,

    // Contextual words, emitted only in their context (01 §1.5.4).
    Has,
    CheckIs,
    CheckNot,
    CheckEmpty,
    CheckBetween,
    CheckAnd,
    CheckContains,
    With,
    Minutes,
    Hours,

    // Punctuation and operators (01 §1.7).
    Newline,
    Semicolon,
    Comma,
    Colon,
    Dot,
    DotDot,
    DotDotDot,
    LParen,
    RParen,
    /// A `{` that opens a statement block or the body of a construct.
    LBrace,
    /// A `{` that opens an object literal (03 §3.3).
    LBraceObj,
    /// A `{` that opens the fields of a struct literal (03 §3.4).
    LBraceStruct,
    RBrace,
    LBracket,
    RBracket,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Eq,
    EqEq,
    NotEq,
    Lt,
    Gt,
    LtEq,
    GtEq,
    AndAnd,
    OrOr,
    Not,
    /// `|>`
    Pipe,
    /// `|`
    Bar,
    /// `>>`
    PipeRight,
    Question,
    Arrow,
    FatArrow,
    Ampersand,
    At,
    PlusEq,
    MinusEq,
    StarEq,
    SlashEq,
    PercentEq,
}

/// The payload of [`Tok::Interp`].
#[derive(Clone, Debug)]
pub struct InterpTok {
    /// The decoded string text, braces included.
    pub raw: String,
    /// Literal pieces and embedded expressions in source order.
    pub parts: Vec<InterpPart>,
}

/// The keyword token spelled `word`, if it is one.
pub fn keyword(word: &str) -> Option<Tok> {
    // A match on the string compiles to a length-then-bytes comparison, which is faster
    // than a linear scan of `KEYWORDS` for the common case of a plain identifier.
    let tok = match word {
        "let" => Tok::Let,
        "mut" => Tok::Mut,
        "fn" => Tok::Fn,
        "return" => Tok::Return,
        "if" => Tok::If,
        "else" => Tok::Else,
        "match" => Tok::Match,
        "for" => Tok::For,
        "in" => Tok::In,
        "while" => Tok::While,
        "loop" => Tok::Loop,
        "break" => Tok::Break,
        "continue" => Tok::Continue,
        "struct" => Tok::Struct,
        "type" => Tok::Type,
        "interface" => Tok::Interface,
        "impl" => Tok::Impl,
        "import" => Tok::Import,
        "spawn" => Tok::Spawn,
        "true" => Tok::True,
        "false" => Tok::False,
        "null" => Tok::Null,
        "async" => Tok::Async,
        "await" => Tok::Await,
        "yield" => Tok::Yield,
        "try" => Tok::Try,
        "catch" => Tok::Catch,
        "set" => Tok::Set,
        "to" => Tok::To,
        "change" => Tok::Change,
        "define" => Tok::Define,
        "otherwise" => Tok::Otherwise,
        "nah" => Tok::Nah,
        "each" => Tok::Each,
        "repeat" => Tok::Repeat,
        "times" => Tok::Times,
        "grab" => Tok::Grab,
        "from" => Tok::From,
        "wait" => Tok::Wait,
        "seconds" => Tok::Seconds,
        "say" => Tok::Say,
        "yell" => Tok::Yell,
        "whisper" => Tok::Whisper,
        "thing" => Tok::Thing,
        "power" => Tok::Power,
        "give" => Tok::Give,
        "craft" => Tok::Craft,
        "the" => Tok::The,
        "forge" => Tok::Forge,
        "hold" => Tok::Hold,
        "emit" => Tok::Emit,
        "unpack" => Tok::Unpack,
        "when" => Tok::When,
        "must" => Tok::Must,
        "safe" => Tok::Safe,
        "check" => Tok::Check,
        "timeout" => Tok::Timeout,
        "retry" => Tok::Retry,
        "schedule" => Tok::Schedule,
        "every" => Tok::Every,
        "watch" => Tok::Watch,
        "freeze" => Tok::Freeze,
        "ask" => Tok::Ask,
        "prompt" => Tok::Prompt,
        "download" => Tok::Download,
        "crawl" => Tok::Crawl,
        "any" => Tok::Any,
        "Int" => Tok::IntType,
        "Float" => Tok::FloatType,
        "String" => Tok::StringType,
        "Bool" => Tok::BoolType,
        "Json" => Tok::JsonType,
        "pub" => Tok::Pub,
        "unless" => Tok::Unless,
        "until" => Tok::Until,
        "where" => Tok::Where,
        "transform" => Tok::Transform,
        "table" => Tok::Table,
        "select" => Tok::Select,
        "order" => Tok::Order,
        "by" => Tok::By,
        "limit" => Tok::Limit,
        "keep" => Tok::Keep,
        "take" => Tok::Take,
        _ => return None,
    };
    Some(tok)
}

impl Tok {
    /// The source spelling of a keyword or contextual-word token, if it is one.
    pub fn keyword_text(&self) -> Option<&'static str> {
        let text = match self {
            Tok::Has => "has",
            Tok::CheckIs => "is",
            Tok::CheckNot => "not",
            Tok::CheckEmpty => "empty",
            Tok::CheckBetween => "between",
            Tok::CheckAnd => "and",
            Tok::CheckContains => "contains",
            Tok::With => "with",
            Tok::Minutes => "minutes",
            Tok::Hours => "hours",
            Tok::Let => "let",
            Tok::Mut => "mut",
            Tok::Fn => "fn",
            Tok::Return => "return",
            Tok::If => "if",
            Tok::Else => "else",
            Tok::Match => "match",
            Tok::For => "for",
            Tok::In => "in",
            Tok::While => "while",
            Tok::Loop => "loop",
            Tok::Break => "break",
            Tok::Continue => "continue",
            Tok::Struct => "struct",
            Tok::Type => "type",
            Tok::Interface => "interface",
            Tok::Impl => "impl",
            Tok::Import => "import",
            Tok::Spawn => "spawn",
            Tok::True => "true",
            Tok::False => "false",
            Tok::Null => "null",
            Tok::Async => "async",
            Tok::Await => "await",
            Tok::Yield => "yield",
            Tok::Try => "try",
            Tok::Catch => "catch",
            Tok::Set => "set",
            Tok::To => "to",
            Tok::Change => "change",
            Tok::Define => "define",
            Tok::Otherwise => "otherwise",
            Tok::Nah => "nah",
            Tok::Each => "each",
            Tok::Repeat => "repeat",
            Tok::Times => "times",
            Tok::Grab => "grab",
            Tok::From => "from",
            Tok::Wait => "wait",
            Tok::Seconds => "seconds",
            Tok::Say => "say",
            Tok::Yell => "yell",
            Tok::Whisper => "whisper",
            Tok::Thing => "thing",
            Tok::Power => "power",
            Tok::Give => "give",
            Tok::Craft => "craft",
            Tok::The => "the",
            Tok::Forge => "forge",
            Tok::Hold => "hold",
            Tok::Emit => "emit",
            Tok::Unpack => "unpack",
            Tok::When => "when",
            Tok::Must => "must",
            Tok::Safe => "safe",
            Tok::Check => "check",
            Tok::Timeout => "timeout",
            Tok::Retry => "retry",
            Tok::Schedule => "schedule",
            Tok::Every => "every",
            Tok::Watch => "watch",
            Tok::Freeze => "freeze",
            Tok::Ask => "ask",
            Tok::Prompt => "prompt",
            Tok::Download => "download",
            Tok::Crawl => "crawl",
            Tok::Any => "any",
            Tok::IntType => "Int",
            Tok::FloatType => "Float",
            Tok::StringType => "String",
            Tok::BoolType => "Bool",
            Tok::JsonType => "Json",
            Tok::Pub => "pub",
            Tok::Unless => "unless",
            Tok::Until => "until",
            Tok::Where => "where",
            Tok::Transform => "transform",
            Tok::Table => "table",
            Tok::Select => "select",
            Tok::Order => "order",
            Tok::By => "by",
            Tok::Limit => "limit",
            Tok::Keep => "keep",
            Tok::Take => "take",
            _ => return None,
        };
        Some(text)
    }

    /// True for the soft keywords of 01 §1.5.3, which also serve as names.
    pub fn is_soft_keyword(&self) -> bool {
        matches!(
            self,
            Tok::Set
                | Tok::Type
                | Tok::Match
                | Tok::From
                | Tok::To
                | Tok::In
                | Tok::Import
                | Tok::Table
                | Tok::Check
                | Tok::Where
                | Tok::Watch
                | Tok::Transform
                | Tok::Select
                | Tok::Order
                | Tok::Limit
                | Tok::Crawl
                | Tok::Download
                | Tok::Ask
                | Tok::Prompt
                | Tok::Schedule
                | Tok::Retry
                | Tok::Timeout
                | Tok::Safe
                | Tok::Must
                | Tok::Freeze
                | Tok::Keep
                | Tok::Take
                | Tok::Every
                | Tok::Any
                | Tok::By
                | Tok::Thing
                | Tok::Power
                | Tok::Give
                | Tok::Craft
                | Tok::The
        )
    }
}

impl fmt::Display for Tok {
    /// The reference token name (06-errors.md §6.10).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Tok::Ident(s) => return write!(f, "Ident({s:?})"),
            Tok::Int(n) => return write!(f, "Int({n})"),
            Tok::Float(x) => return write!(f, "Float({x:?})"),
            Tok::Str(s) | Tok::RawStr(s) => return write!(f, "StringLit({s:?})"),
            Tok::Interp(i) => return write!(f, "StringLit({:?})", i.raw),
            Tok::Has
            | Tok::CheckIs
            | Tok::CheckEmpty
            | Tok::CheckBetween
            | Tok::CheckAnd
            | Tok::CheckContains
            | Tok::With
            | Tok::Minutes
            | Tok::Hours => return write!(f, "Ident({:?})", self.keyword_text().unwrap_or_default()),
            Tok::CheckNot => "Not",
            Tok::Try => "TryKw",
            Tok::Forge => "ForgeKw",
            Tok::Null => "NullLit",
            Tok::True => "True",
            Tok::False => "False",
            Tok::IntType => "IntType",
            Tok::FloatType => "FloatType",
            Tok::StringType => "StringType",
            Tok::BoolType => "BoolType",
            Tok::JsonType => "JsonType",
            Tok::Newline => "Newline",
            Tok::Semicolon => "Semicolon",
            Tok::Comma => "Comma",
            Tok::Colon => "Colon",
            Tok::Dot => "Dot",
            Tok::DotDot => "DotDot",
            Tok::DotDotDot => "DotDotDot",
            Tok::LParen => "LParen",
            Tok::RParen => "RParen",
            Tok::LBrace | Tok::LBraceObj | Tok::LBraceStruct => "LBrace",
            Tok::RBrace => "RBrace",
            Tok::LBracket => "LBracket",
            Tok::RBracket => "RBracket",
            Tok::Plus => "Plus",
            Tok::Minus => "Minus",
            Tok::Star => "Star",
            Tok::Slash => "Slash",
            Tok::Percent => "Percent",
            Tok::Eq => "Eq",
            Tok::EqEq => "EqEq",
            Tok::NotEq => "NotEq",
            Tok::Lt => "Lt",
            Tok::Gt => "Gt",
            Tok::LtEq => "LtEq",
            Tok::GtEq => "GtEq",
            Tok::AndAnd => "And",
            Tok::OrOr => "Or",
            Tok::Not => "Not",
            Tok::Pipe => "Pipe",
            Tok::Bar => "Bar",
            Tok::PipeRight => "PipeRight",
            Tok::Question => "Question",
            Tok::Arrow => "Arrow",
            Tok::FatArrow => "FatArrow",
            Tok::Ampersand => "Ampersand",
            Tok::At => "At",
            Tok::PlusEq => "PlusEq",
            Tok::MinusEq => "MinusEq",
            Tok::StarEq => "StarEq",
            Tok::SlashEq => "SlashEq",
            Tok::PercentEq => "PercentEq",
            other => {
                // Every remaining token is a keyword: its name is the spelling with an
                // upper-case first letter (`let` → `Let`).
                let text = other.keyword_text().unwrap_or("?");
                let mut chars = text.chars();
                if let Some(first) = chars.next() {
                    write!(f, "{}", first.to_ascii_uppercase())?;
                }
                return write!(f, "{}", chars.as_str());
            }
        };
        f.write_str(name)
    }
}
