//! warrant-proxy end to end: a local TLS echo upstream with its own test CA,
//! the proxy in front of it, driven by reqwest and by the real curl binary.

mod blocking;
mod delivery;
mod plain;
mod redirects;
mod substitution;
mod support;
mod tunnels;
