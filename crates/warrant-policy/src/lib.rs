//! warrant.toml policy (being written).
