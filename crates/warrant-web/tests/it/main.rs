//! The page's router against a real daemon (its own thread and runtime,
//! a temp home), driven with `tower::ServiceExt::oneshot`, no socket.
//! Handlers call the daemon with `block_in_place`: multi-threaded runtimes.

mod decisions;
mod fixture;
mod security;
mod transports;
