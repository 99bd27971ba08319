//! Text an agent supplies (a grant's reason, a task's command) reaches the
//! person's terminal and the approval page: control characters and the
//! invisible ones that reorder or hide text (bidi overrides and isolates,
//! zero-width marks) are kept visible as `\u{...}` escapes, so what the
//! person reads is what was sent.

/// `text` with every control, bidi and zero-width character escaped.
pub fn shown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if hidden(c) {
            out.push_str(&format!("\\u{{{:04x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `c` changes or hides how the text around it reads.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_and_control_characters_are_escaped() {
        assert_eq!(shown("fix tests"), "fix tests");
        assert_eq!(shown("é ü 日本"), "é ü 日本");
        assert_eq!(
            shown("run \u{202e}gnp.exe\u{202c}\r\n\u{1b}[2J"),
            "run \\u{202e}gnp.exe\\u{202c}\\u{000d}\\u{000a}\\u{001b}[2J"
        );
        assert_eq!(shown("a\u{200b}b\u{2066}c"), "a\\u{200b}b\\u{2066}c");
    }
}
