use std::fmt;
use std::ops::Range;

use warrant_secret::Reference;
use zeroize::Zeroizing;

use crate::Error;

/// One `KEY=VALUE` of an env file.
pub struct Entry {
    /// The variable name.
    pub key: String,
    value: Zeroizing<String>,
    /// 1-based line the entry starts on.
    pub line: usize,
    /// Bytes of the whole entry in the source, from `export`/key to the end
    /// of its value (comments after the value are not included).
    pub span: Range<usize>,
    /// Bytes of the value as written (quotes included).
    pub value_span: Range<usize>,
}

/// What a variable's value means.
#[derive(Debug)]
pub enum Binding {
    /// A `warrant://` reference, to resolve at run time.
    Reference(Reference),
    /// Anything else, passed through as it is.
    Plain,
}

impl Entry {
    /// The value after unquoting. May be a secret: do not log it.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether the value is a reference; a malformed reference is an error.
    pub fn binding(&self) -> Result<Binding, warrant_secret::Error> {
        match Reference::detect(&self.value) {
            Some(Ok(reference)) => Ok(Binding::Reference(reference)),
            Some(Err(error)) => Err(error),
            None => Ok(Binding::Plain),
        }
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("key", &self.key)
            .field("value", &"[REDACTED]")
            .field("line", &self.line)
            .finish()
    }
}

/// Whether `key` can name a variable: `[A-Za-z_][A-Za-z0-9_.-]*`.
pub fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Parses dotenv text. Later duplicates are kept; the caller decides (the
/// usual rule, and warrant's, is that the last one wins).
///
/// There is no `${VAR}` expansion: a value means what it says.
pub fn parse(text: &str) -> Result<Vec<Entry>, Error> {
    let mut parser = Parser {
        text,
        pos: 0,
        line: 1,
        line_start: 0,
    };
    let mut entries = Vec::new();
    while parser.pos < text.len() {
        if let Some(entry) = parser.line()? {
            entries.push(entry);
        }
    }
    Ok(entries)
}

/// Replaces the values of the entries named in `replacements` (key → new
/// value text, written as is), keeping every other byte of `text`.
pub fn rewrite(text: &str, entries: &[Entry], replacements: &[(String, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for entry in entries {
        let Some((_, new_value)) = replacements.iter().find(|(key, _)| *key == entry.key) else {
            continue;
        };
        // Keep `export ` and the spacing around `=` as the user wrote them.
        out.push_str(&text[copied..entry.value_span.start]);
        out.push_str(new_value);
        copied = entry.value_span.end;
    }
    out.push_str(&text[copied..]);
    out
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    line_start: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.line_start = self.pos;
        }
        Some(c)
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
        }
    }

    fn error(&self, message: impl Into<String>) -> Error {
        Error::Syntax {
            line: self.line,
            column: self.text[self.line_start..self.pos].chars().count() + 1,
            message: message.into(),
        }
    }

    /// Consumes the rest of the line: only blanks and a `#` comment may remain.
    fn end_of_line(&mut self) -> Result<(), Error> {
        self.skip_blanks();
        match self.peek() {
            None => Ok(()),
            Some('\n') => {
                self.bump();
                Ok(())
            }
            Some('\r') if self.rest().starts_with("\r\n") => {
                self.bump();
                self.bump();
                Ok(())
            }
            Some('#') => {
                while !matches!(self.bump(), None | Some('\n')) {}
                Ok(())
            }
            Some(_) => Err(self.error(
                "unexpected text after the value; quote the value or start a comment with '#'",
            )),
        }
    }

    fn line(&mut self) -> Result<Option<Entry>, Error> {
        self.skip_blanks();
        match self.peek() {
            None | Some('\n' | '#') => {
                self.end_of_line()?;
                return Ok(None);
            }
            Some('\r') if self.rest().starts_with("\r\n") => {
                self.end_of_line()?;
                return Ok(None);
            }
            _ => {}
        }
        let start = self.pos;
        let line = self.line;
        if let Some(after) = self.rest().strip_prefix("export")
            && after.starts_with([' ', '\t'])
        {
            self.pos += "export".len();
            self.skip_blanks();
        }
        let key_start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            self.bump();
        }
        let key = &self.text[key_start..self.pos];
        if key.is_empty() || !is_valid_key(key) {
            self.pos = key_start;
            return Err(self.error("expected a variable name (letters, digits, '_', '.', '-'; not starting with a digit)"));
        }
        let key = key.to_owned();
        self.skip_blanks();
        if self.peek() != Some('=') {
            // The "name" may be a value pasted on a line of its own: never quote it.
            return Err(self.error("expected '=' after the variable name; every line is KEY=VALUE"));
        }
        self.bump();
        self.skip_blanks();
        let value_start = self.pos;
        let value = match self.peek() {
            Some('\'') => self.single_quoted()?,
            Some('"') => self.double_quoted()?,
            _ => self.unquoted(),
        };
        let end = self.pos;
        self.end_of_line()?;
        Ok(Some(Entry {
            key,
            value,
            line,
            span: start..end,
            value_span: value_start..end,
        }))
    }

    fn unquoted(&mut self) -> Zeroizing<String> {
        let start = self.pos;
        let mut end = self.pos;
        while let Some(c) = self.peek() {
            if c == '\n' || (c == '\r' && self.rest().starts_with("\r\n")) {
                break;
            }
            // ` #` starts a comment; a '#' inside a word (`a#b`) is part of the value.
            if c == '#' && self.text[..self.pos].ends_with([' ', '\t']) {
                break;
            }
            self.bump();
            if !matches!(c, ' ' | '\t') {
                end = self.pos;
            }
        }
        self.pos = end;
        Zeroizing::new(self.text[start..end].to_owned())
    }

    fn single_quoted(&mut self) -> Result<Zeroizing<String>, Error> {
        let opened = self.line;
        self.bump();
        let start = self.pos;
        loop {
            match self.bump() {
                None => {
                    return Err(Error::Unterminated {
                        line: opened,
                        quote: "single",
                    });
                }
                Some('\'') => return Ok(Zeroizing::new(self.text[start..self.pos - 1].to_owned())),
                Some(_) => {}
            }
        }
    }

    fn double_quoted(&mut self) -> Result<Zeroizing<String>, Error> {
        let opened = self.line;
        self.bump();
        let mut value = Zeroizing::new(String::new());
        loop {
            match self.bump() {
                None => {
                    return Err(Error::Unterminated {
                        line: opened,
                        quote: "double",
                    });
                }
                Some('"') => return Ok(value),
                Some('\\') => match self.bump() {
                    None => {
                        return Err(Error::Unterminated {
                            line: opened,
                            quote: "double",
                        });
                    }
                    Some('n') => value.push('\n'),
                    Some('r') => value.push('\r'),
                    Some('t') => value.push('\t'),
                    Some(c @ ('\\' | '"' | '$' | '\'')) => value.push(c),
                    // An unknown escape keeps its backslash, as shells do.
                    Some(c) => {
                        value.push('\\');
                        value.push(c);
                    }
                },
                Some(c) => value.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|e| (e.key.clone(), e.value().to_owned()))
            .collect()
    }

    fn p(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    #[test]
    fn plain_forms() {
        let text =
            "A=1\n export B = two words  \n\n# c\nC=x#y # comment\nD=\nE=''\r\nF=\"q\\\"\\n\"\n";
        assert_eq!(
            pairs(text),
            vec![
                p("A", "1"),
                p("B", "two words"),
                p("C", "x#y"),
                p("D", ""),
                p("E", ""),
                p("F", "q\"\n")
            ]
        );
    }

    #[test]
    fn multi_line_quoted_values() {
        let text = "KEY='-----BEGIN KEY-----\nabc\n-----END KEY-----'\nNEXT=1\n";
        let entries = parse(text).unwrap();
        assert_eq!(
            entries[0].value(),
            "-----BEGIN KEY-----\nabc\n-----END KEY-----"
        );
        assert_eq!(entries[1].line, 4);
    }

    #[test]
    fn errors_name_line_and_column() {
        assert_eq!(
            parse("A=1\nnot a pair\n").unwrap_err(),
            Error::Syntax {
                line: 2,
                column: 5,
                message: "expected '=' after the variable name; every line is KEY=VALUE".into()
            }
        );
        assert_eq!(
            parse("A=1\nB=\"open\n").unwrap_err(),
            Error::Unterminated {
                line: 2,
                quote: "double"
            }
        );
        assert!(matches!(
            parse("A='x' y\n"),
            Err(Error::Syntax {
                line: 1,
                column: 7,
                ..
            })
        ));
        assert!(matches!(
            parse("1A=x\n"),
            Err(Error::Syntax {
                line: 1,
                column: 1,
                ..
            })
        ));
        assert!(matches!(parse("=x\n"), Err(Error::Syntax { .. })));
    }

    #[test]
    fn errors_never_quote_values() {
        let message = parse("TOKEN='s3cr3t-value").unwrap_err().to_string();
        assert!(!message.contains("s3cr3t"), "{message}");
        // A value pasted on a line of its own looks like a name without '='.
        let message = parse("A=1\nfake-s3cr3t-token-on-its-own-line\n")
            .unwrap_err()
            .to_string();
        assert!(!message.contains("s3cr3t"), "{message}");
        let message = parse("TOKEN=\"s3cr3t-value\" junk")
            .unwrap_err()
            .to_string();
        assert!(!message.contains("s3cr3t"), "{message}");
    }

    #[test]
    fn debug_hides_values() {
        let entries = parse("TOKEN=s3cr3t-value\n").unwrap();
        let debug = format!("{entries:?}");
        assert!(
            !debug.contains("s3cr3t") && debug.contains("TOKEN"),
            "{debug}"
        );
    }

    #[test]
    fn rewrite_keeps_everything_else() {
        let text = "# app\nexport TOKEN = 'abc def' # keep me\nPORT=1\r\nPEM=\"a\nb\"\n";
        let entries = parse(text).unwrap();
        let out = rewrite(
            text,
            &entries,
            &[
                p("TOKEN", "warrant://app/TOKEN"),
                p("PEM", "warrant://app/PEM"),
            ],
        );
        assert_eq!(
            out,
            "# app\nexport TOKEN = warrant://app/TOKEN # keep me\nPORT=1\r\nPEM=warrant://app/PEM\n"
        );
    }

    #[test]
    fn bindings() {
        let entries = parse("A=warrant://x/y\nB=warrant://bad name\nC=plain\n").unwrap();
        assert!(
            matches!(entries[0].binding(), Ok(Binding::Reference(r)) if r.name().as_str() == "x/y")
        );
        assert!(entries[1].binding().is_err());
        assert!(matches!(entries[2].binding(), Ok(Binding::Plain)));
    }
}
