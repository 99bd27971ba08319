//! Example generation from templates (for rule tests and benchmarks).
#![doc(hidden)]
