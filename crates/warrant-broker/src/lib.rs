//! The grant broker (being written).
