//! Why an operation did not happen, as one typed list.
//!
//! Every answer that is not a success carries an [`ErrorCode`]: the daemon's
//! socket, the approval page, the MCP server and the CLI all read the same
//! enum, so whether an answer is a refusal or a failure, and which HTTP
//! status or exit code it becomes, is decided here once and matched
//! exhaustively, never by comparing strings at each site.

use serde::{Deserialize, Serialize};

/// What kind of answer an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The request was understood and the answer is no: policy, grant
    /// state, a passphrase, a security key or the caller's place said so.
    /// Scripts act on it (`warrant` exits 3).
    Refused,
    /// The request itself was wrong: malformed, or naming nothing that
    /// exists.
    Invalid,
    /// Something broke: a store, the state, an upstream, the daemon.
    Failed,
}

/// Machine-readable kind of a refusal or failure; its wire form is the
/// snake_case name (`not_found`, `wrong_passphrase`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// No such grant (or other named thing).
    NotFound,
    /// The policy denies it, or an approver denied the grant.
    Denied,
    /// The grant has ended (expired, revoked, denied) or is not approved yet.
    NotActive,
    /// The grant is not pending any more, so it cannot be approved or denied.
    NotPending,
    /// The grant does not cover this secret, command or host.
    OutOfScope,
    /// The caller may not do this (another uid, inside a task, not the
    /// warrant binary, no approver set).
    Forbidden,
    /// The approver passphrase was wrong.
    WrongPassphrase,
    /// Passphrase checks are locked after wrong ones, or another check is
    /// in progress.
    Throttled,
    /// The policy asks for a security key to approve this grant.
    HardwareKeyRequired,
    /// The grant has a use limit, so each use must be asked for on its own.
    UseLimited,
    /// The request is malformed or its terms make no sense.
    BadRequest,
    /// The approval page: no session, or it expired.
    SignedOut,
    /// The approval page: the request named a host the page does not serve.
    WrongHost,
    /// The approval page: a security key operation failed or did not verify.
    SecurityKey,
    /// A store (local, OpenBao, PostgreSQL) failed.
    Store,
    /// An upstream HTTP request failed (timeout, broken connection).
    HttpError,
    /// The daemon cannot be reached.
    Unavailable,
    /// The daemon failed (its state, its audit log).
    Internal,
    /// A code this build does not know (a newer daemon sent it).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// Refusal, invalid request or failure: decided here, for every
    /// transport.
    pub fn class(self) -> ErrorClass {
        match self {
            Self::Denied
            | Self::NotActive
            | Self::NotPending
            | Self::OutOfScope
            | Self::Forbidden
            | Self::WrongPassphrase
            | Self::Throttled
            | Self::HardwareKeyRequired
            | Self::UseLimited
            | Self::SignedOut
            | Self::WrongHost
            | Self::SecurityKey => ErrorClass::Refused,
            Self::NotFound | Self::BadRequest => ErrorClass::Invalid,
            Self::Store | Self::HttpError | Self::Unavailable | Self::Internal | Self::Unknown => {
                ErrorClass::Failed
            }
        }
    }

    /// Whether the answer is a refusal (see [`ErrorClass::Refused`]).
    pub fn is_refusal(self) -> bool {
        self.class() == ErrorClass::Refused
    }

    /// The HTTP status the approval page answers with.
    pub fn http_status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::SignedOut => 401,
            Self::Denied
            | Self::OutOfScope
            | Self::Forbidden
            | Self::WrongPassphrase
            | Self::HardwareKeyRequired
            | Self::SecurityKey => 403,
            Self::NotFound => 404,
            Self::NotActive | Self::NotPending | Self::UseLimited => 409,
            Self::WrongHost => 421,
            Self::Throttled => 429,
            Self::Internal | Self::Unknown => 500,
            Self::Store | Self::HttpError => 502,
            Self::Unavailable => 503,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Denied => "denied",
            Self::NotActive => "not_active",
            Self::NotPending => "not_pending",
            Self::OutOfScope => "out_of_scope",
            Self::Forbidden => "forbidden",
            Self::WrongPassphrase => "wrong_passphrase",
            Self::Throttled => "throttled",
            Self::HardwareKeyRequired => "hardware_key_required",
            Self::UseLimited => "use_limited",
            Self::BadRequest => "bad_request",
            Self::SignedOut => "signed_out",
            Self::WrongHost => "wrong_host",
            Self::SecurityKey => "security_key",
            Self::Store => "store",
            Self::HttpError => "http_error",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
            Self::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ErrorCode; 19] = [
        ErrorCode::NotFound,
        ErrorCode::Denied,
        ErrorCode::NotActive,
        ErrorCode::NotPending,
        ErrorCode::OutOfScope,
        ErrorCode::Forbidden,
        ErrorCode::WrongPassphrase,
        ErrorCode::Throttled,
        ErrorCode::HardwareKeyRequired,
        ErrorCode::UseLimited,
        ErrorCode::BadRequest,
        ErrorCode::SignedOut,
        ErrorCode::WrongHost,
        ErrorCode::SecurityKey,
        ErrorCode::Store,
        ErrorCode::HttpError,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
        ErrorCode::Unknown,
    ];

    #[test]
    fn the_wire_name_is_the_serde_name_and_reads_back() {
        for code in ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str(), "{code:?}");
            let back: ErrorCode = serde_json::from_value(json).unwrap();
            assert_eq!(back, code);
        }
    }

    #[test]
    fn a_code_from_a_newer_daemon_reads_as_unknown_and_fails() {
        let code: ErrorCode = serde_json::from_str("\"quantum_refusal\"").unwrap();
        assert_eq!(code, ErrorCode::Unknown);
        assert_eq!(code.class(), ErrorClass::Failed);
    }

    #[test]
    fn refusals_are_client_errors_and_failures_server_errors() {
        for code in ALL {
            let status = code.http_status();
            match code.class() {
                ErrorClass::Refused | ErrorClass::Invalid => {
                    assert!((400..500).contains(&status), "{code:?} answers {status}");
                }
                ErrorClass::Failed => {
                    assert!((500..600).contains(&status), "{code:?} answers {status}");
                }
            }
        }
    }
}
