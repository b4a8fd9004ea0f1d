//! Report lines fitted to a terminal's width. Pure.
//!
//! Text is broken only at plain spaces. The parts that must stay on one line (a package and
//! its versions, a requirement in backticks, a manifest location) are [`glue`]d first: their
//! spaces become [`GLUE`], which [`wrap`] treats as part of a word and turns back into spaces.
//! No line is longer than the width unless one glued word alone is.

/// Width when the caller knows none (no terminal, no `COLUMNS`).
pub const DEFAULT_WIDTH: usize = 100;

/// Narrowest width honoured; a smaller one would put nearly every word on its own line.
pub const MIN_WIDTH: usize = 40;

/// Stands for a space that must not break a line (U+00A0, never in report text otherwise).
pub const GLUE: char = '\u{a0}';

/// `text` with its spaces made unbreakable.
pub fn glue(text: &str) -> String {
    text.replace(' ', "\u{a0}")
}

/// `line` broken at spaces into lines of at most `width` characters, every line after the
/// first starting with `indent`; glued spaces become plain spaces again.
pub fn wrap(line: &str, width: usize, indent: &str) -> String {
    let indent_width = indent.chars().count();
    let mut out = String::with_capacity(line.len() + 8);
    let mut current = 0usize;
    let mut first = true;
    for word in line.split(' ').filter(|w| !w.is_empty()) {
        let len = word.chars().count();
        if first {
            out.push_str(word);
            current = len;
            first = false;
        } else if current + 1 + len <= width {
            out.push(' ');
            out.push_str(word);
            current += 1 + len;
        } else {
            out.push('\n');
            out.push_str(indent);
            out.push_str(word);
            current = indent_width + len;
        }
    }
    out.replace(GLUE, " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaks_at_spaces_only() {
        let text = format!(
            "Because {} depends on {} and more words follow here.",
            glue("vllm 0.11.0 ... 0.21.0 (14 versions)"),
            glue("torch==2.8.0 | ==2.9.0")
        );
        let wrapped = wrap(&text, 40, "  ");
        assert_eq!(
            wrapped,
            "Because\n  vllm 0.11.0 ... 0.21.0 (14 versions)\n  depends on torch==2.8.0 | ==2.9.0 and\n  more words follow here."
        );
        assert!(wrapped.lines().all(|l| l.chars().count() <= 40));
    }

    #[test]
    fn a_long_word_stands_alone() {
        let word = "x".repeat(50);
        assert_eq!(
            wrap(&format!("a {word} b"), 20, "  "),
            format!("a\n  {word}\n  b")
        );
        assert_eq!(wrap("", 20, "  "), "");
        assert_eq!(wrap("short", 20, "  "), "short");
    }
}
