//! Secret types shared by every warrant crate; this crate does no I/O.
//!
//! - [`SecretValue`]: bytes of a secret, wiped on drop, with no `Debug`
//!   output beyond `[REDACTED]` and no `Serialize`. The one way to read it is
//!   [`SecretValue::expose_secret`], so every place that reveals a value can
//!   be found with grep.
//! - [`SecretName`]: a validated, path-like name (`github/token`,
//!   `db/dev/url`). Names are not secret: they appear in logs and audit.
//! - [`Reference`]: `warrant://NAME`, what agents and configuration files
//!   hold instead of a value.
//!
//! ```
//! use warrant_secret::{Reference, SecretName, SecretValue};
//!
//! let reference: Reference = "warrant://db/dev/url".parse().unwrap();
//! assert_eq!(reference.name().as_str(), "db/dev/url");
//! let value = SecretValue::from(b"postgres://u:p@h/db".to_vec());
//! assert_eq!(format!("{value:?}"), "[REDACTED]");
//! assert!(SecretName::new("../etc").is_err());
//! ```

mod error;
mod name;
mod reference;
mod value;

pub use error::Error;
pub use name::SecretName;
pub use reference::{REFERENCE_SCHEME, Reference};
pub use value::SecretValue;
