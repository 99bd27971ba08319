//! Dynamic credentials: a credential minted for one grant, expiring with
//! it, and destroyed when the grant ends.
//!
//! - [`postgres`]: native PostgreSQL login roles. An [`postgres::Issuer`]
//!   holds an admin connection string (a stored secret) and a
//!   [`postgres::RoleTemplate`]; it creates a role per grant with
//!   `VALID UNTIL` the grant's expiry, drops it on revoke, and sweeps what a
//!   crashed daemon left behind.
//! - [`stores`]: the file `stores.toml` (named OpenBao stores and dynamic stores)
//!   and [`stores::Stores`], the local store and the named ones behind one
//!   `SecretStore`, which also makes, ends and sweeps dynamic credentials.
//! - [`Error`]: names hosts, users, roles and databases, never a password
//!   or the admin connection string.
//!
//! The design, its guarantees and their limits: `docs/design/dynamic.md`.

mod error;
pub mod postgres;
pub mod stores;

pub use error::Error;
