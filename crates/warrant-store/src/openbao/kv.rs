//! KV version 2: where a name lives, the JSON of the replies, and how a
//! value sits in a field.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use warrant_secret::{SecretName, SecretValue};
use zeroize::Zeroizing;

/// Where warrant's names live: `<mount>/<kind>/<prefix>/<name>`.
pub(crate) struct Paths {
    pub(crate) mount: String,
    pub(crate) prefix: Option<String>,
}

impl Paths {
    /// The API path of `name` (relative to the prefix; `""` for the prefix
    /// itself, a folder ending in `/` for a listing) under `kind`
    /// (`data`, `metadata`, `destroy`).
    pub(crate) fn api(&self, kind: &str, name: &str) -> String {
        match &self.prefix {
            Some(prefix) => format!("{}/{kind}/{prefix}/{name}", self.mount),
            None => format!("{}/{kind}/{name}", self.mount),
        }
    }
}

/// `GET <mount>/data/<path>`: the fields, borrowed from the reply body.
#[derive(Deserialize)]
pub(crate) struct DataReply<'a> {
    #[serde(borrow)]
    pub(crate) data: Option<DataBlock<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct DataBlock<'a> {
    /// The fields as raw JSON (`null` for a deleted version).
    #[serde(borrow, default)]
    pub(crate) data: Option<&'a RawValue>,
}

impl<'a> DataReply<'a> {
    /// The fields object, if the version holds data.
    pub(crate) fn fields_raw(&self) -> Option<&'a RawValue> {
        self.data
            .as_ref()
            .and_then(|d| d.data)
            .filter(|raw| raw.get() != "null")
    }
}

/// The fields of a secret, each as raw JSON borrowed from the reply body.
pub(crate) fn fields(raw: &RawValue) -> Result<BTreeMap<String, &RawValue>, String> {
    serde_json::from_str(raw.get()).map_err(|_| "the secret's data is not an object".to_owned())
}

/// One field as a value: a string's text, or the JSON text of anything else.
pub(crate) fn field_value(raw: &RawValue) -> Result<SecretValue, String> {
    let text = raw.get();
    if text.starts_with('"') {
        let string: String =
            serde_json::from_str(text).map_err(|_| "a field is not a valid string".to_owned())?;
        Ok(SecretValue::from(string))
    } else {
        Ok(SecretValue::from(text.as_bytes().to_vec()))
    }
}

/// The value of a warrant secret: `field` (text), else `<field>_base64`.
pub(crate) fn stored_value(
    fields: &BTreeMap<String, &RawValue>,
    field: &str,
) -> Option<Result<SecretValue, String>> {
    if let Some(raw) = fields.get(field) {
        return Some(field_value(raw));
    }
    let raw = fields.get(&format!("{field}_base64"))?;
    let text = match field_value(raw) {
        Ok(text) => text,
        Err(e) => return Some(Err(e)),
    };
    Some(
        STANDARD
            .decode(text.expose_secret())
            .map(SecretValue::from)
            .map_err(|_| format!("field {field}_base64 is not base64")),
    )
}

/// The fields that store `value`: `{field: text}` when it is UTF-8, else
/// `{field_base64: base64}`.
pub(crate) fn encode(field: &str, value: &SecretValue) -> (String, Zeroizing<String>) {
    match std::str::from_utf8(value.expose_secret()) {
        Ok(text) => (field.to_owned(), Zeroizing::new(text.to_owned())),
        Err(_) => (
            format!("{field}_base64"),
            Zeroizing::new(STANDARD.encode(value.expose_secret())),
        ),
    }
}

/// `POST <mount>/data/<path>`.
#[derive(Serialize)]
pub(crate) struct WriteBody<D> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) options: Option<Cas>,
    pub(crate) data: D,
}

/// Check-and-set: the write lands only if the current version is `cas`
/// (0: only if the secret does not exist).
#[derive(Serialize)]
pub(crate) struct Cas {
    pub(crate) cas: u64,
}

/// The reply to a write.
#[derive(Deserialize)]
pub(crate) struct WriteReply {
    pub(crate) data: Written,
}

#[derive(Deserialize)]
pub(crate) struct Written {
    pub(crate) version: u64,
}

/// `GET <mount>/metadata/<path>`.
#[derive(Deserialize)]
pub(crate) struct MetadataReply {
    pub(crate) data: Metadata,
}

#[derive(Deserialize)]
pub(crate) struct Metadata {
    pub(crate) created_time: String,
    pub(crate) updated_time: String,
    pub(crate) current_version: u64,
    #[serde(default)]
    pub(crate) custom_metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub(crate) versions: BTreeMap<String, VersionInfo>,
}

#[derive(Deserialize)]
pub(crate) struct VersionInfo {
    #[serde(default)]
    pub(crate) deletion_time: String,
    #[serde(default)]
    pub(crate) destroyed: bool,
}

impl Metadata {
    /// Whether the current version can be read (not deleted nor destroyed).
    pub(crate) fn live(&self) -> bool {
        self.versions
            .get(&self.current_version.to_string())
            .is_some_and(|v| v.deletion_time.is_empty() && !v.destroyed)
    }

    pub(crate) fn description(&self) -> Option<String> {
        self.custom_metadata
            .as_ref()
            .and_then(|m| m.get("description"))
            .cloned()
    }

    pub(crate) fn meta(&self, name: SecretName) -> crate::SecretMeta {
        crate::SecretMeta {
            name,
            description: self.description(),
            created: to_the_second(&self.created_time),
            updated: to_the_second(&self.updated_time),
        }
    }
}

/// `LIST <mount>/metadata/<folder>/`.
#[derive(Deserialize)]
pub(crate) struct ListReply {
    pub(crate) data: Keys,
}

#[derive(Deserialize)]
pub(crate) struct Keys {
    #[serde(default)]
    pub(crate) keys: Vec<String>,
}

/// RFC 3339 UTC to the second, as the local store writes times: the
/// server's nanoseconds (with trailing zeros cut) would not sort as text.
pub(crate) fn to_the_second(time: &str) -> String {
    OffsetDateTime::parse(time, &Rfc3339)
        .ok()
        .and_then(|t| t.to_offset(time::UtcOffset::UTC).replace_nanosecond(0).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| time.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_put_the_prefix_inside_the_mount() {
        let plain = Paths {
            mount: "secret".into(),
            prefix: None,
        };
        assert_eq!(plain.api("data", "app/db"), "secret/data/app/db");
        assert_eq!(plain.api("metadata", ""), "secret/metadata/");
        let prefixed = Paths {
            mount: "team/kv".into(),
            prefix: Some("warrant".into()),
        };
        assert_eq!(
            prefixed.api("data", "app/db"),
            "team/kv/data/warrant/app/db"
        );
        assert_eq!(
            prefixed.api("metadata", "a/"),
            "team/kv/metadata/warrant/a/"
        );
    }

    #[test]
    fn values_round_trip_through_fields() {
        for bytes in [
            b"fake-token".to_vec(),
            vec![0xff, 0, 0xfe],
            b"\0\n".to_vec(),
        ] {
            let value = SecretValue::from(bytes.clone());
            let (key, text) = encode("value", &value);
            let json = serde_json::to_string(&BTreeMap::from([(key, text.as_str())])).unwrap();
            let raw: Box<RawValue> = serde_json::from_str(&json).unwrap();
            let fields = fields(&raw).unwrap();
            let back = stored_value(&fields, "value").unwrap().unwrap();
            assert_eq!(back.expose_secret(), bytes);
        }
    }

    #[test]
    fn other_fields_and_json_kinds() {
        let raw: Box<RawValue> =
            serde_json::from_str(r#"{"password":"fake-pw\u0041","port":5432,"on":true}"#).unwrap();
        let fields = fields(&raw).unwrap();
        assert!(stored_value(&fields, "value").is_none());
        let pw = field_value(fields["password"]).unwrap();
        assert_eq!(pw.expose_secret(), b"fake-pwA");
        assert_eq!(
            field_value(fields["port"]).unwrap().expose_secret(),
            b"5432"
        );
    }

    #[test]
    fn times_are_cut_to_the_second() {
        assert_eq!(
            to_the_second("2026-11-26T06:48:07.61834Z"),
            "2026-11-26T06:48:07Z"
        );
        assert_eq!(to_the_second("not a time"), "not a time");
    }
}
