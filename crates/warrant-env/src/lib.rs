//! Env files and references in environments (STUB).
