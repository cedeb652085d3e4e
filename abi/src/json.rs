//! JSON string literals, written the same way by the compiler (the `@server`
//! description) and the runtime (`json.stringify`, `json.pretty`, server replies).

/// For each byte: 0 when it is written as is, else the letter after the backslash of
/// its escape (`u` for `\u00XX`).
const ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = b'u';
        b += 1;
    }
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a JSON string literal: `"` and `\` escaped, newline, CR and tab as
/// `\n`, `\r`, `\t`, other control characters as `\u00XX` (lower-case hex); everything
/// else, DEL and non-ASCII included, as is.
pub fn write_json_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    // Copy runs of characters that need no escape in one go; every byte that needs one
    // is ASCII, so the run boundaries are character boundaries.
    let mut run = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        let e = ESCAPE[usize::from(b)];
        if e == 0 {
            continue;
        }
        out.push_str(&s[run..i]);
        out.push('\\');
        out.push(char::from(e));
        if e == b'u' {
            out.push_str("00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::write_json_string;

    fn lit(s: &str) -> String {
        let mut out = String::from("x");
        write_json_string(&mut out, s);
        out.split_off(1)
    }

    #[test]
    fn escapes() {
        assert_eq!(lit(""), r#""""#);
        assert_eq!(lit("plain text"), r#""plain text""#);
        assert_eq!(lit("say \"hi\" \\ bye"), r#""say \"hi\" \\ bye""#);
        assert_eq!(lit("a\nb\rc\td"), r#""a\nb\rc\td""#);
        assert_eq!(lit("\u{0}\u{1}\u{8}\u{c}\u{1b}\u{1f}"), r#""\u0000\u0001\u0008\u000c\u001b\u001f""#);
        assert_eq!(lit("\u{7f} é ✓ 😀 /"), "\"\u{7f} é ✓ 😀 /\"");
        assert_eq!(lit("é\n😀\"end"), "\"é\\n😀\\\"end\"");
    }

    #[test]
    fn same_as_char_by_char() {
        // The rule the escaper implements, character by character.
        fn reference(s: &str) -> String {
            let mut out = String::from('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        let mut all = String::new();
        for c in (0u32..0x300).chain([0x2028, 0xfeff, 0x1f600]).filter_map(char::from_u32) {
            all.push(c);
            assert_eq!(lit(&c.to_string()), reference(&c.to_string()));
        }
        assert_eq!(lit(&all), reference(&all));
    }
}
