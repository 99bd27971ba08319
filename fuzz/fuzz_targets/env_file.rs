//! The env-file parser and reference detection take outside input: they must
//! never panic, and what they accept must mean what the text says.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(entries) = warrant_env::parse(text) {
        for entry in &entries {
            assert!(warrant_env::is_valid_key(&entry.key));
            // Spans are in bounds and on character boundaries.
            assert!(text.get(entry.span.clone()).is_some());
            assert!(text.get(entry.value_span.clone()).is_some());
            let _ = entry.binding();
        }
        // Rewriting nothing gives the text back byte for byte.
        assert_eq!(warrant_env::rewrite(text, &entries, &[]), text);
        // Rewriting every value to a reference parses back to those references.
        let replacements: Vec<(String, String)> = entries
            .iter()
            .map(|e| (e.key.clone(), "warrant://fuzz/ref".to_owned()))
            .collect();
        let rewritten = warrant_env::rewrite(text, &entries, &replacements);
        if let Ok(again) = warrant_env::parse(&rewritten) {
            assert_eq!(again.len(), entries.len());
        }
    }
    for line in text.lines().take(16) {
        let _ = warrant_secret::Reference::detect(line);
    }
});
