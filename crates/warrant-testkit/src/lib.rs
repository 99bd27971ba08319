//! Real servers for warrant's tests, started on loopback and stopped on drop.
//!
//! - [`postgres::Cluster`]: a throwaway PostgreSQL cluster (`initdb`,
//!   `pg_ctl`) in a temporary directory, on a free port.
//! - [`openbao::DevServer`]: an OpenBao dev server (`bao server -dev`).
//!
//! Both panic with the way out (run `scripts/test.sh`, which installs the
//! servers) when a binary is missing: a test that needs a real server
//! never passes without one.

pub mod openbao;
pub mod postgres;

/// A free TCP port on 127.0.0.1 (bound, then released for the server).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// `bytes` random bytes as lowercase hex: passwords and tokens made at test time.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("random bytes");
    hex::encode(buf)
}
