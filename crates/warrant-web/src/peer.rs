//! Who sent a request: the page's connection is traced to the processes
//! holding its other end (through the socket's inode, as `ss -p` does), and
//! the daemon applies to them the rules it applies to its socket's peers.
//! A process of another uid, or one inside an agent's task, is refused
//! whatever it knows; a process that hides its file descriptors is not
//! taken on trust.

use std::net::SocketAddr;

use axum::extract::FromRequestParts;
use axum::extract::connect_info::MockConnectInfo;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::http::request::Parts;
use axum::serve::IncomingStream;
use tokio::net::TcpListener;
use warrant_broker::Caller;

use crate::AppState;
use crate::error::WebError;

/// Both ends of the TCP connection a request came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    /// The page's end.
    pub local: SocketAddr,
    /// The peer's end.
    pub remote: SocketAddr,
}

impl Connected<IncomingStream<'_, TcpListener>> for Connection {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        let remote = *stream.remote_addr();
        // An accepted socket always has a local address; should it not, the
        // peer lookup finds nothing and the request is refused.
        let local = stream
            .io()
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        Self { local, remote }
    }
}

/// The identified caller of a request, for handlers that call the daemon.
pub struct Peer(pub Caller);

impl FromRequestParts<AppState> for Peer {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let ConnectInfo(connection) = parts
            .extensions
            .get::<ConnectInfo<Connection>>()
            .copied()
            .or_else(|| {
                parts
                    .extensions
                    .get::<MockConnectInfo<Connection>>()
                    .map(|mock| ConnectInfo(mock.0))
            })
            // Tests without a listener say which connection stands for theirs.
            .ok_or_else(|| {
                WebError::Forbidden("the request came on no connection the page knows".into())
            })?;
        let caller = state
            .daemon()
            .tcp_caller(connection.local, connection.remote)
            .await?;
        Ok(Self(caller))
    }
}
