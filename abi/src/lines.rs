//! Byte offsets to 1-based `line:col` (columns count Unicode scalar values).

/// Start offsets of every line of a source text.
#[derive(Clone, Debug)]
pub struct LineIndex {
    starts: Vec<u32>,
}

impl LineIndex {
    pub fn new(src: &str) -> LineIndex {
        let mut starts = vec![0u32];
        for (i, b) in src.bytes().enumerate() {
            if b == b'\n' {
                starts.push(i as u32 + 1);
            }
        }
        LineIndex { starts }
    }

    /// 1-based line and column of a byte offset (clamped to the text).
    pub fn line_col(&self, src: &str, offset: u32) -> (u32, u32) {
        let offset = offset.min(src.len() as u32);
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.starts[line] as usize;
        let mut end = offset as usize;
        while end > start && !src.is_char_boundary(end) {
            end -= 1;
        }
        let col = src[start..end].chars().count() as u32 + 1;
        (line as u32 + 1, col)
    }

    /// The text of a 1-based line, without its line terminator.
    pub fn line_text<'a>(&self, src: &'a str, line: u32) -> &'a str {
        let i = (line as usize).saturating_sub(1);
        if i >= self.starts.len() {
            return "";
        }
        let start = self.starts[i] as usize;
        let end = self.starts.get(i + 1).map(|&e| e as usize - 1).unwrap_or(src.len());
        let text = &src[start..end.max(start)];
        text.strip_suffix('\r').unwrap_or(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let src = "ab\ncdé\n\nx";
        let idx = LineIndex::new(src);
        assert_eq!(idx.line_col(src, 0), (1, 1));
        assert_eq!(idx.line_col(src, 3), (2, 1));
        assert_eq!(idx.line_col(src, 7), (2, 4));
        assert_eq!(idx.line_col(src, 9), (4, 1));
        assert_eq!(idx.line_text(src, 2), "cdé");
        assert_eq!(idx.line_text(src, 3), "");
        assert_eq!(idx.line_text(src, 4), "x");
    }
}
