//! Placeholders: what a child holds instead of a value.

/// What every generated placeholder starts with.
pub const PREFIX: &str = "wph_";

/// A fresh placeholder for the secret `name`: [`PREFIX`] and 40 random hex
/// digits. It is random, so it reveals neither the value nor the name, and
/// it cannot be guessed by a process that was not handed it.
///
/// ```
/// let p = warrant_proxy::placeholder::generate("github/token");
/// assert!(p.starts_with("wph_") && p.len() == 44);
/// assert_ne!(p, warrant_proxy::placeholder::generate("github/token"));
/// ```
pub fn generate(name: &str) -> String {
    // The name is not part of the placeholder: upstream servers see
    // placeholders in refused requests, and they need not learn store names.
    let _ = name;
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).expect("the system random source works");
    format!("{PREFIX}{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_lower_hex_and_distinct() {
        let a = generate("a");
        assert!(
            a[PREFIX.len()..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(a, generate("a"));
    }
}
