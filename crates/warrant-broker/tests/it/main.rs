//! The broker's decisions without a socket: a real store, audit log, state
//! database and policy file in a temp home.

mod approval_terms;
mod broker;
mod team;
mod team_broker;
