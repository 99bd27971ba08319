//! Dynamic credentials (being written).

pub mod postgres;
