//! The ground truth: where each planted token is, in which format and
//! placement, and its JSON form in `target/scan-corpus/planted.json`.

use serde_json::{Value, json};

use crate::tokens::Format;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Placement {
    MidLine,
    LineStart,
    NewFile,
    LongLine,
}

impl Placement {
    pub const ALL: [Placement; 4] = [
        Placement::MidLine,
        Placement::LineStart,
        Placement::NewFile,
        Placement::LongLine,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Placement::MidLine => "mid-line",
            Placement::LineStart => "line-start",
            Placement::NewFile => "new-file",
            Placement::LongLine => "long-line",
        }
    }

    pub fn from_id(id: &str) -> Placement {
        Placement::ALL.into_iter().find(|p| p.id() == id).unwrap()
    }
}

/// One planted token: where its text is, which part is the token.
pub struct Plant {
    /// Relative to the corpus tree, `/`-separated.
    pub file: String,
    /// Byte range of the planted text (token and context).
    pub start: u64,
    pub end: u64,
    pub token_start: u64,
    pub token_len: u64,
    pub line: u64,
    pub format: Format,
    pub placement: Placement,
    pub parts: Vec<String>,
    pub value: String,
}

impl Plant {
    pub fn json(&self) -> Value {
        json!({
            "file": self.file,
            "offset": self.token_start,
            "length": self.token_len,
            "line": self.line,
            "format": self.format.id(),
            "placement": self.placement.id(),
            "context_offset": self.start,
            "context_length": self.end - self.start,
            "value": self.value,
            "parts": self.parts,
        })
    }

    pub fn from_json(v: &Value) -> Plant {
        let n = |k: &str| v[k].as_u64().unwrap();
        let s = |k: &str| v[k].as_str().unwrap().to_owned();
        Plant {
            file: s("file"),
            start: n("context_offset"),
            end: n("context_offset") + n("context_length"),
            token_start: n("offset"),
            token_len: n("length"),
            line: n("line"),
            format: Format::from_id(&s("format")),
            placement: Placement::from_id(&s("placement")),
            value: s("value"),
            parts: v["parts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_owned())
                .collect(),
        }
    }
}
