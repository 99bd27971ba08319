//! The OpenBao backend against a real `bao server -dev` (feature `openbao`;
//! `scripts/test.sh` installs `bao`): one binary, one module per concern.
#![cfg(feature = "openbao")]

mod database;
mod errors;
mod kv;
mod support;
mod tokens;
