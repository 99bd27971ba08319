//! What the log records: [`Event`] for writers, [`Record`] and [`AnyEvent`]
//! for readers, who may meet kinds a later version wrote.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What happened. Holds names, counts and codes; never a value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// A store was created.
    Init {
        /// `key_file` or `passphrase`.
        key: String,
    },
    /// A secret was created or replaced.
    SecretSet {
        /// Its name.
        name: String,
    },
    /// A secret was removed.
    SecretRemoved {
        /// Its name.
        name: String,
    },
    /// Secrets were imported from an env file.
    SecretsImported {
        /// The file they came from.
        file: String,
        /// The names they were stored under.
        names: Vec<String>,
    },
    /// `warrant run` ran a command with injected secrets.
    Run {
        /// The command (`argv[0]` only; arguments are not recorded).
        command: String,
        /// The child's pid.
        child_pid: Option<u32>,
        /// Secrets injected into the environment.
        env_secrets: Vec<String>,
        /// Secrets handed over as in-memory files.
        file_secrets: Vec<String>,
        /// Exit code, when the child exited.
        exit_code: Option<i32>,
        /// Signal number, when the child was killed by a signal.
        signal: Option<i32>,
        /// How many values were redacted from its output.
        redactions: u64,
    },
}

impl Event {
    /// The `event` field of its records (`"run"`, `"secret_set"`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Init { .. } => "init",
            Self::SecretSet { .. } => "secret_set",
            Self::SecretRemoved { .. } => "secret_removed",
            Self::SecretsImported { .. } => "secrets_imported",
            Self::Run { .. } => "run",
        }
    }
}

/// The event part of a record as read back: typed when this version knows
/// its kind, raw JSON fields otherwise (a later version wrote it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum AnyEvent {
    /// A kind this version knows.
    Known(Event),
    /// Any other kind: its fields, `event` included, as written.
    Unknown(Map<String, Value>),
}

impl AnyEvent {
    /// The `event` field: the kind's name, known or not (`""` if absent).
    pub fn kind(&self) -> &str {
        match self {
            Self::Known(event) => event.kind(),
            Self::Unknown(fields) => fields.get("event").and_then(Value::as_str).unwrap_or(""),
        }
    }

    /// The typed event, when this version knows its kind.
    pub fn known(&self) -> Option<&Event> {
        match self {
            Self::Known(event) => Some(event),
            Self::Unknown(_) => None,
        }
    }
}

impl From<Event> for AnyEvent {
    fn from(event: Event) -> Self {
        Self::Known(event)
    }
}

/// One line of the log, with the event's fields flattened into it:
///
/// ```json
/// {"seq":3,"time":"2026-05-01T12:00:00.123Z","user":"ana","pid":4242,
///  "event":"secret_set","name":"db/dev/url","prev":"9f…","hash":"c1…"}
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// 1-based position in the chain.
    pub seq: u64,
    /// RFC 3339 UTC time.
    pub time: String,
    /// OS user name.
    pub user: String,
    /// pid of the warrant process that wrote it.
    pub pid: u32,
    /// What happened.
    #[serde(flatten)]
    pub event: AnyEvent,
    /// Hash of the previous record (hex SHA-256; 64 zeros for the first).
    pub prev: String,
    /// Hash of this record: SHA-256 of the canonical JSON of every other field.
    pub hash: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_kinds_parse() {
        let known = r#"{"seq":1,"time":"t","user":"u","pid":1,"event":"secret_set","name":"a/b","prev":"p","hash":"h"}"#;
        let record: Record = serde_json::from_str(known).unwrap();
        assert_eq!(
            record.event,
            AnyEvent::Known(Event::SecretSet { name: "a/b".into() })
        );
        assert_eq!(record.event.kind(), "secret_set");

        let future = r#"{"seq":2,"time":"t","user":"u","pid":1,"event":"grant_approved","grant":"g1","ttl":900,"prev":"p","hash":"h"}"#;
        let record: Record = serde_json::from_str(future).unwrap();
        assert_eq!(record.event.kind(), "grant_approved");
        assert!(record.event.known().is_none());
        let AnyEvent::Unknown(fields) = &record.event else {
            panic!("expected an unknown kind");
        };
        assert_eq!(fields["ttl"], 900);
        assert!(!fields.contains_key("seq"));
    }

    #[test]
    fn event_kinds_match_their_tags() {
        let events = [
            Event::Init {
                key: "key_file".into(),
            },
            Event::SecretRemoved { name: "x".into() },
            Event::SecretsImported {
                file: ".env".into(),
                names: vec!["a".into()],
            },
            Event::Run {
                command: "cargo".into(),
                child_pid: Some(7),
                env_secrets: vec![],
                file_secrets: vec![],
                exit_code: Some(0),
                signal: None,
                redactions: 2,
            },
        ];
        for event in events {
            let value = serde_json::to_value(&event).unwrap();
            assert_eq!(value["event"], event.kind());
        }
    }
}
