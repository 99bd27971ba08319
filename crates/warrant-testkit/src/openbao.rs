//! An OpenBao dev server (being written).
