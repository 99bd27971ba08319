//! The `warrant` binary, driven as a user and an attacker would drive it.

mod audit;
mod grants;
mod crash;
mod harness;
mod import;
mod init;
mod run;
mod secret;
mod signals;
mod store_faults;
mod terminal;
