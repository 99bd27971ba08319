//! The `warrant` binary, driven as a user and an attacker would drive it.

mod audit;
mod broker_faults;
mod crash;
mod daemon;
mod dynamic;
mod grants;
mod guard;
mod harness;
mod hook;
mod import;
mod init;
mod mcp;
mod migrate;
mod openbao;
mod policy;
mod proxy;
mod proxy_upstream;
mod report;
mod run;
mod scan;
mod secret;
mod signals;
mod store_faults;
mod task;
mod terminal;
mod web;
