//! The OpenBao / HashiCorp Vault backend (being written).
