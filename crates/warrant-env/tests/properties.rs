//! Properties of the env-file parser.

use proptest::prelude::*;

/// Writes `value` so that `parse` reads it back exactly.
fn quote(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

proptest! {
    #[test]
    fn never_panics(text in any::<String>()) {
        let _ = warrant_env::parse(&text);
    }

    #[test]
    fn quoted_values_round_trip(
        entries in proptest::collection::vec(("[A-Za-z_][A-Za-z0-9_]{0,12}", any::<String>()), 0..8),
        export in any::<bool>(),
    ) {
        let mut text = String::from("# generated\n");
        for (key, value) in &entries {
            if export { text.push_str("export "); }
            text.push_str(&format!("{key}={}\n", quote(value)));
        }
        let parsed = warrant_env::parse(&text).unwrap();
        let got: Vec<(String, String)> = parsed.iter().map(|e| (e.key.clone(), e.value().to_owned())).collect();
        prop_assert_eq!(got, entries.clone());
        // Rewriting nothing gives the file back byte for byte.
        prop_assert_eq!(warrant_env::rewrite(&text, &parsed, &[]), text);
    }
}
