//! A JSON parser that keeps the offsets of what it reads, with JSONC
//! (comments and trailing commas, as VS Code reads them) as an option.

use super::{Located, Value};

/// Deeper nesting than this is refused rather than risk the stack.
const MAX_DEPTH: usize = 256;

pub(crate) fn at(offset: usize, message: &str) -> Located {
    Located {
        offset,
        message: message.to_owned(),
    }
}

pub(crate) struct Node {
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
}

pub(crate) enum Kind {
    Object(Vec<Member>),
    Array(Vec<Node>),
    Str(String),
    Scalar,
}

pub(crate) struct Member {
    pub key: String,
    pub key_start: usize,
    pub value: Node,
}

impl Node {
    pub fn to_value(&self, text: &str) -> Value {
        match &self.kind {
            Kind::Object(members) => Value::Obj(
                members
                    .iter()
                    .map(|m| (m.key.clone(), m.value.to_value(text)))
                    .collect(),
            ),
            Kind::Array(items) => Value::Arr(items.iter().map(|n| n.to_value(text)).collect()),
            Kind::Str(s) => Value::Str(s.clone()),
            Kind::Scalar => Value::Other(text[self.start..self.end].to_owned()),
        }
    }

    /// The offset just after the last member's value.
    pub fn last_value_end(&self) -> Option<usize> {
        match &self.kind {
            Kind::Object(members) => members.last().map(|m| m.value.end),
            _ => None,
        }
    }
}

/// A JSON (or JSONC) parser that keeps offsets.
pub(crate) struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    comments: bool,
    depth: usize,
}

impl<'a> Parser<'a> {
    pub fn new(text: &'a str, comments: bool) -> Parser<'a> {
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            comments,
            depth: 0,
        }
    }

    pub fn document(mut self) -> Result<Node, Located> {
        // A byte order mark is tolerated and kept.
        if self.text.starts_with('\u{feff}') {
            self.pos = 3;
        }
        self.skip_ws()?;
        let root = self.value()?;
        self.skip_ws()?;
        if self.pos < self.bytes.len() {
            return Err(self.error("unexpected text after the top-level value"));
        }
        Ok(root)
    }

    pub fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn error(&self, message: &str) -> Located {
        at(self.pos, message)
    }

    fn unexpected(&self, wanted: &str) -> Located {
        match self.text[self.pos..].chars().next() {
            None => self.error(&format!("unexpected end of file, expected {wanted}")),
            Some(c) => self.error(&format!("expected {wanted}, found `{c}`")),
        }
    }

    pub fn skip_ws(&mut self) -> Result<(), Located> {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => self.pos += 1,
                b'/' if !self.comments => {
                    return Err(self.error("comments are not allowed in this client's JSON"));
                }
                b'/' if self.bytes.get(self.pos + 1) == Some(&b'/') => {
                    let rest = &self.text[self.pos..];
                    self.pos += rest.find('\n').unwrap_or(rest.len());
                }
                b'/' if self.bytes.get(self.pos + 1) == Some(&b'*') => {
                    let Some(len) = self.text[self.pos + 2..].find("*/") else {
                        return Err(self.error("unterminated comment"));
                    };
                    self.pos += len + 4;
                }
                _ => break,
            }
        }
        Ok(())
    }

    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.peek() == Some(byte);
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// Skips what follows a `,`; a `close` right after it is a trailing
    /// comma, an error unless the client reads JSONC.
    fn trailing_comma(&mut self, close: u8) -> Result<(), Located> {
        let comma = self.pos - 1;
        self.skip_ws()?;
        if !self.comments && self.peek() == Some(close) {
            return Err(at(comma, "a trailing comma is not valid JSON"));
        }
        Ok(())
    }

    fn value(&mut self) -> Result<Node, Located> {
        let start = self.pos;
        let kind = match self.peek() {
            Some(b'{') => self.nested(Self::object)?,
            Some(b'[') => self.nested(Self::array)?,
            Some(b'"') => Kind::Str(self.string()?),
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ => {
                let word = ["true", "false", "null"]
                    .into_iter()
                    .find(|w| self.text[self.pos..].starts_with(w));
                let Some(word) = word else {
                    return Err(self.unexpected("a value"));
                };
                self.pos += word.len();
                Kind::Scalar
            }
        };
        Ok(Node {
            start,
            end: self.pos,
            kind,
        })
    }

    fn nested(&mut self, parse: fn(&mut Self) -> Result<Kind, Located>) -> Result<Kind, Located> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        let kind = parse(self)?;
        self.depth -= 1;
        Ok(kind)
    }

    fn object(&mut self) -> Result<Kind, Located> {
        self.pos += 1;
        let mut members = Vec::new();
        loop {
            self.skip_ws()?;
            if self.eat(b'}') {
                return Ok(Kind::Object(members));
            }
            if !members.is_empty() {
                // After a member: `,` then another (or, in JSONC, `}`).
                if !self.eat(b',') {
                    return Err(self.unexpected("`,` or `}`"));
                }
                self.trailing_comma(b'}')?;
                if self.eat(b'}') {
                    return Ok(Kind::Object(members));
                }
            }
            if self.peek() != Some(b'"') {
                return Err(self.unexpected("a key in double quotes"));
            }
            let key_start = self.pos;
            let key = self.string()?;
            self.skip_ws()?;
            if !self.eat(b':') {
                return Err(self.unexpected("`:`"));
            }
            self.skip_ws()?;
            let value = self.value()?;
            members.push(Member {
                key,
                key_start,
                value,
            });
        }
    }

    fn array(&mut self) -> Result<Kind, Located> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_ws()?;
            if self.eat(b']') {
                return Ok(Kind::Array(items));
            }
            if !items.is_empty() {
                if !self.eat(b',') {
                    return Err(self.unexpected("`,` or `]`"));
                }
                self.trailing_comma(b']')?;
                if self.eat(b']') {
                    return Ok(Kind::Array(items));
                }
            }
            items.push(self.value()?);
        }
    }

    fn string(&mut self) -> Result<String, Located> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.pos..];
            let Some(c) = rest.chars().next() else {
                return Err(self.error("unterminated string"));
            };
            match c {
                '"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                '\\' => {
                    self.pos += 1;
                    out.push(self.escape()?);
                }
                c if (c as u32) < 0x20 => {
                    return Err(self.error("control character in a string"));
                }
                c => {
                    out.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    fn escape(&mut self) -> Result<char, Located> {
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let high = self.hex4()?;
                if (0xD800..0xDC00).contains(&high) && self.text[self.pos..].starts_with("\\u") {
                    let save = self.pos;
                    self.pos += 2;
                    let low = self.hex4()?;
                    if (0xDC00..0xE000).contains(&low) {
                        let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                        return Ok(char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                    self.pos = save;
                }
                return Ok(char::from_u32(high).unwrap_or('\u{fffd}'));
            }
            _ => return Err(self.error("invalid escape in a string")),
        };
        self.pos += 1;
        Ok(c)
    }

    fn hex4(&mut self) -> Result<u32, Located> {
        let digits = self.text.get(self.pos..self.pos + 4).unwrap_or("");
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.error("`\\u` needs four hex digits"));
        }
        self.pos += 4;
        Ok(u32::from_str_radix(digits, 16).expect("checked hex"))
    }

    fn number(&mut self) -> Result<Kind, Located> {
        self.eat(b'-');
        let digits = |p: &mut Self| {
            let from = p.pos;
            while p.peek().is_some_and(|b| b.is_ascii_digit()) {
                p.pos += 1;
            }
            p.pos - from
        };
        if self.eat(b'0') {
            if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(self.error("a number cannot have a leading zero"));
            }
        } else if digits(self) == 0 {
            return Err(self.unexpected("a digit"));
        }
        if self.eat(b'.') && digits(self) == 0 {
            return Err(self.unexpected("a digit"));
        }
        if self.eat(b'e') || self.eat(b'E') {
            let _ = self.eat(b'+') || self.eat(b'-');
            if digits(self) == 0 {
                return Err(self.unexpected("a digit"));
            }
        }
        Ok(Kind::Scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parses(text: &str, comments: bool) -> bool {
        Parser::new(text, comments).document().is_ok()
    }

    #[test]
    fn parser_accepts_json_and_rejects_the_rest() {
        for ok in [
            "{}",
            "[]",
            " {\"a\": [1, -2.5e+3, true, false, null, \"\\u00e9\\ud83d\\ude00\\n\"]} ",
            "\u{feff}{}",
            "0",
        ] {
            assert!(parses(ok, false), "{ok}");
        }
        for bad in [
            "",
            "{",
            "{\"a\" 1}",
            "{\"a\": 1,}",
            "[1,]",
            "01",
            "1.",
            "-",
            "\"a",
            "\"\\x\"",
            "\"\t\"",
            "{} x",
            "{a: 1}",
            "// c\n{}",
            "nul",
        ] {
            assert!(!parses(bad, false), "{bad}");
        }
        assert!(parses("// c\n{\"a\": [1,], /* d */ \"b\": 2,}", true));
        assert!(!parses("/* open {}", true));
        assert!(!parses(&"[".repeat(MAX_DEPTH + 1), false));
    }
}
