//! `warrant mcp`: the MCP server on stdio.

use anyhow::Result;

use super::Context;
use crate::args::McpArgs;

pub fn run(ctx: &Context, args: McpArgs) -> Result<u8> {
    warrant_mcp::serve_stdio(warrant_mcp::Config {
        home: ctx.home.clone(),
        actor: args.actor,
    })?;
    Ok(0)
}
