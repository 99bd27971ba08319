//! Durations as the policy writes them (`"30m"`, `"1h 30m"`).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serializer};

/// Formats a duration the way a policy writes it: `30m`, `1h 30m`, `2days`.
///
/// Whole seconds are shown; a duration under a second is shown exactly
/// (`500ms`), and zero is `0s`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(warrant_policy::format_duration(Duration::from_secs(5400)), "1h 30m");
/// assert_eq!(warrant_policy::format_duration(Duration::from_millis(1500)), "1s");
/// ```
pub fn format_duration(duration: Duration) -> String {
    let shown = if duration.as_secs() > 0 {
        Duration::from_secs(duration.as_secs())
    } else {
        duration
    };
    humantime::format_duration(shown).to_string()
}

/// Parses a policy duration, with a message that says what to write instead.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|error| {
        format!("invalid duration {text:?} ({error}); use a duration like \"30m\" or \"1h 30m\"")
    })
}

/// A duration read from a TOML string.
pub(crate) struct HumanDuration(pub(crate) Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string like \"30m\" or \"1h 30m\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<HumanDuration, E> {
                parse_duration(text).map(HumanDuration).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(DurationVisitor)
    }
}

/// `serialize_with` for durations: the [`format_duration`] text.
pub(crate) fn serialize<S: Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_duration(*duration))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_policy_writes() {
        assert_eq!(format_duration(Duration::from_secs(1800)), "30m");
        assert_eq!(format_duration(Duration::from_secs(90061)), "1day 1h 1m 1s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn parses_and_round_trips() {
        for text in ["30m", "1h 30m", "10s", "2days"] {
            let parsed = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&format_duration(parsed)).unwrap(), parsed);
        }
        let error = parse_duration("30").unwrap_err();
        assert!(error.starts_with("invalid duration \"30\""), "{error}");
        assert!(
            error.ends_with("use a duration like \"30m\" or \"1h 30m\""),
            "{error}"
        );
    }
}
