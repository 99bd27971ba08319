//! warrant's MCP server: coding agents use credentials without ever seeing
//! them.
//!
//! [`serve_stdio`] speaks the Model Context Protocol over stdin and stdout
//! (nothing else is written to stdout; diagnostics go to stderr) and talks
//! to the broker daemon for everything: which secrets an actor may ask for,
//! grants, and the values a granted command receives. Its tools never
//! return a value: `run_command` hands values to one child process and
//! returns that process's output redacted, as `warrant run --grant` does.
//!
//! Who asks: under `warrant task`, the daemon attributes this server (a
//! process under the task) to the task's actor, whatever it claims.
//! Outside a task it acts for the actor named by `--actor` in the client's
//! configuration, which nothing but that configuration vouches for.

mod command;
pub mod hooks;
mod http;
pub mod install;
pub mod migrate;
mod tools;

use std::path::PathBuf;

pub use tools::WarrantTools;

/// What the server needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The warrant home whose daemon it talks to.
    pub home: PathBuf,
    /// The actor to ask as, outside a task.
    pub actor: Option<String>,
}

/// What can stop the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The MCP session could not start or broke.
    #[error("MCP session failed: {0}")]
    Session(String),
    /// The runtime could not start.
    #[error("cannot start the MCP server's runtime: {0}")]
    Runtime(std::io::Error),
}

/// Serves MCP on stdin and stdout until the client disconnects.
pub fn serve_stdio(config: Config) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(async move {
        use rmcp::ServiceExt;
        let service = WarrantTools::new(config)
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| Error::Session(e.to_string()))?;
        service
            .waiting()
            .await
            .map_err(|e| Error::Session(e.to_string()))?;
        Ok(())
    })
}
