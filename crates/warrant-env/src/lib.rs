//! Env files and the references they, and the environment, hold.
//!
//! - [`parse`] reads dotenv syntax (`KEY=value`, `export KEY=value`, single
//!   and double quotes, multi-line quoted values, `#` comments) and keeps each
//!   entry's byte span, so [`rewrite`] can replace values while every other
//!   byte of the file stays as it was.
//! - [`Binding`] tells a plain value from a `warrant://` reference.
//!
//! Values read from a file may be secrets, so [`Entry`] holds them in a
//! zeroizing buffer and its `Debug` shows only the key.
//!
//! ```
//! let entries = warrant_env::parse("# db\nexport DB_URL=warrant://db/dev/url\nPORT=5432 # local\n").unwrap();
//! assert_eq!(entries[0].key, "DB_URL");
//! assert_eq!(entries[1].value(), "5432");
//! assert!(matches!(entries[0].binding(), Ok(warrant_env::Binding::Reference(_))));
//! ```

mod dotenv;
mod error;
mod plan;

pub use dotenv::{Binding, Entry, is_valid_key, parse, rewrite};
pub use error::Error;
pub use plan::{Delivery, EnvPlan, Origin, PRIVATE_VARS, Planned};
