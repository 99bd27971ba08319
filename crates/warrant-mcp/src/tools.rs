//! The tools, as a model sees them: what each does, when to use it, and
//! results as structured content with a short text beside it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};
use warrant_broker::Client;
use warrant_broker::protocol::{ErrorCode, GrantRequest};

use crate::Config;
use crate::command::{self, CommandArgs};
use crate::http::HttpArgs;

/// The server: one per MCP session.
#[derive(Clone)]
pub struct WarrantTools {
    config: Arc<Config>,
    /// Grants this session asked for (what `end_task` revokes outside a task).
    asked: Arc<Mutex<Vec<String>>>,
    /// `http_request`'s sessions of the daemon's egress, by grant.
    egress: Arc<crate::http::Sessions>,
    #[allow(dead_code, reason = "read by the code #[tool_handler] generates")]
    tool_router: ToolRouter<Self>,
}

/// A lifetime: `"15m"`, `"1h"`, or seconds.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Ttl {
    /// Seconds.
    Seconds(u64),
    /// A duration such as "15m" or "1h30m".
    Text(String),
}

/// `request_access`'s arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RequestAccessArgs {
    /// Secret names from list_secrets, e.g. ["db/dev/url"].
    pub secrets: Vec<String>,
    /// Why the task needs them, in one sentence; a human reads it before approving.
    pub reason: String,
    /// How long the access should last once approved: "15m", "1h", or seconds.
    pub ttl: Ttl,
    /// Programs the values will be given to (e.g. ["psql", "cargo"]); default: what the policy allows.
    #[serde(default)]
    pub commands: Vec<String>,
    /// Hosts the values will be sent to over HTTP.
    #[serde(default)]
    pub hosts: Vec<String>,
}

/// `access_status`'s arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AccessStatusArgs {
    /// The grant id request_access returned.
    pub grant_id: String,
}

/// `end_task`'s arguments (none).
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct EndTaskArgs {}

impl WarrantTools {
    /// A server for `config`.
    pub fn new(config: Config) -> Self {
        Self {
            config: Arc::new(config),
            asked: Arc::new(Mutex::new(Vec::new())),
            egress: Arc::default(),
            tool_router: Self::tool_router(),
        }
    }

    /// Runs a blocking daemon call off the async runtime.
    async fn daemon<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client, &Config) -> Result<T, warrant_broker::Error> + Send + 'static,
    ) -> Result<T, warrant_broker::Error> {
        let config = Arc::clone(&self.config);
        tokio::task::spawn_blocking(move || {
            let mut client = Client::connect(&config.home)?;
            f(&mut client, &config)
        })
        .await
        .map_err(|e| warrant_broker::Error::Protocol(format!("the call failed: {e}")))?
    }
}

/// The actor to claim: none inside `warrant task`, where the daemon goes by
/// process ancestry and the task's actor is the only one (a configured
/// `--actor` that differs would only get the request refused).
fn claimed(config: &Config) -> Option<String> {
    if std::env::var_os("WARRANT_TASK").is_some() {
        return None;
    }
    config.actor.clone()
}

/// A tool error the model can act on: `isError`, with the reason and a hint.
pub(crate) fn refusal(error: &warrant_broker::Error) -> CallToolResult {
    let (code, message, hint) = match error {
        warrant_broker::Error::Daemon(body) => (body.code, body.message.clone(), body.hint.clone()),
        other => (
            ErrorCode::Unavailable,
            other.to_string(),
            other.hint().map(str::to_owned),
        ),
    };
    CallToolResult::structured_error(json!({ "error": code, "message": message, "hint": hint }))
}

fn ok(value: Value) -> CallToolResult {
    CallToolResult::structured(value)
}

fn ttl_ms(ttl: &Ttl) -> Result<u64, String> {
    match ttl {
        Ttl::Seconds(0) => Err("ttl must be more than zero".into()),
        Ttl::Seconds(s) => Ok(s.saturating_mul(1000)),
        Ttl::Text(text) => parse_duration(text),
    }
}

/// `15m`, `1h30m`, `90s`, `2h`: what a model writes for a lifetime (the
/// same reading as `warrant request --ttl`).
fn parse_duration(text: &str) -> Result<u64, String> {
    let bad = || format!("cannot read ttl {text:?}; write it like \"15m\" or \"1h\"");
    let duration = humantime::parse_duration(text.trim()).map_err(|_| bad())?;
    if duration.is_zero() {
        return Err(bad());
    }
    Ok(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}

#[tool_router]
impl WarrantTools {
    /// `list_secrets`.
    #[tool(
        description = "List the secrets you may ask access to: their names, what they are for, and the hosts each may be sent to. Never returns a value. Use it first, to know which names to pass to request_access."
    )]
    async fn list_secrets(&self) -> Result<CallToolResult, ErrorData> {
        let found = self.daemon(|c, cfg| c.secrets(claimed(cfg))).await;
        Ok(match found {
            Ok(secrets) => ok(json!({ "secrets": secrets })),
            Err(e) => refusal(&e),
        })
    }

    /// `request_access`.
    #[tool(
        description = "Ask for access to secrets for this task: names (from list_secrets), a one-sentence reason a human will read, and how long (ttl, e.g. \"15m\"). Returns a grant_id and its status: \"active\" means you can use it now with run_command or http_request; \"pending\" means a human must approve it first (they run `warrant approve <grant_id>` in their terminal): tell the user, then check with access_status. You never receive the values themselves."
    )]
    async fn request_access(
        &self,
        Parameters(args): Parameters<RequestAccessArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let ttl_ms = match ttl_ms(&args.ttl) {
            Ok(ms) => ms,
            Err(message) => {
                return Ok(CallToolResult::structured_error(
                    json!({ "error": ErrorCode::BadRequest, "message": message, "hint": null }),
                ));
            }
        };
        let request = GrantRequest {
            secrets: args.secrets,
            reason: args.reason,
            ttl_ms,
            commands: args.commands,
            hosts: args.hosts,
            actor: None,
        };
        let result = self
            .daemon(move |c, cfg| {
                c.request(GrantRequest {
                    actor: claimed(cfg),
                    ..request
                })
            })
            .await;
        let grant = match result {
            Ok(grant) => grant,
            Err(e) => return Ok(refusal(&e)),
        };
        if let Ok(mut asked) = self.asked.lock() {
            asked.push(grant.id.clone());
        }
        let message = if grant.status == "pending" {
            format!(
                "A human must approve this before it can be used: ask the user to run `warrant approve {}` in their own terminal, then check access_status.",
                grant.id
            )
        } else {
            format!(
                "Active for {} s: pass grant_id {} to run_command or http_request.",
                grant.remaining_secs, grant.id
            )
        };
        let mut value = json!({
            "grant_id": grant.id,
            "status": grant.status,
            "message": message,
        });
        if grant.status == "active" {
            value["expires_at"] = json!(grant.expires);
        }
        Ok(ok(value))
    }

    /// `access_status`.
    #[tool(
        description = "The status of a grant (pending, active, denied, revoked, expired) and the seconds it has left. Use it after request_access returned \"pending\", to see whether a human approved it."
    )]
    async fn access_status(
        &self,
        Parameters(args): Parameters<AccessStatusArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let id = args.grant_id;
        Ok(match self.daemon(move |c, _| c.check(&id)).await {
            Ok(g) => ok(json!({
                "grant_id": g.id,
                "status": g.status,
                "seconds_left": g.remaining_secs,
            })),
            Err(e) => refusal(&e),
        })
    }

    /// `run_command`.
    #[tool(
        description = "Run a command under a grant, with the grant's secrets in its environment, and get its exit code and output. argv is the program and its arguments (no shell unless you name one, e.g. [\"sh\", \"-c\", \"...\"]). env maps variable names to secret references, e.g. {\"DATABASE_URL\": \"warrant://db/dev/url\"}; without env, every secret of the grant is set under its name in capitals with / and - as _ (db/dev/url -> DB_DEV_URL). Output is redacted: a secret's value, raw or encoded, shows as <redacted:NAME>. Output is capped; timeout_s (default 60, at most 600) ends the command and everything it started."
    )]
    async fn run_command(
        &self,
        Parameters(args): Parameters<CommandArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let config = Arc::clone(&self.config);
        let result = tokio::task::spawn_blocking(move || command::run(&config, args))
            .await
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        Ok(match result {
            Ok(value) => ok(value),
            Err(e) => refusal(&e),
        })
    }

    /// `http_request`.
    #[tool(
        description = "Call an HTTP API with a credential you never see: put {{secret:NAME}} where the value goes, in a header value (e.g. \"Authorization\": \"Bearer {{secret:github/token}}\"), the URL's query or the body. warrant substitutes each value only if the grant covers it and the URL's host is one of that secret's allowed hosts (see list_secrets); anything else is refused and recorded. Redirects are not followed. The response comes back redacted (status, headers, body; the body capped at 256 KiB)."
    )]
    async fn http_request(
        &self,
        Parameters(args): Parameters<HttpArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(
            match crate::http::request(&self.config, &self.egress, args).await {
                Ok(value) => ok(value),
                Err(e) => refusal(&e),
            },
        )
    }

    /// `end_task`.
    #[tool(
        description = "End your access: revokes the grants of this task (or, outside a task, the ones this session asked for). Use it when the work that needed the secrets is done."
    )]
    async fn end_task(
        &self,
        Parameters(_): Parameters<EndTaskArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let asked = self.asked.lock().map(|a| a.clone()).unwrap_or_default();
        let result = self
            .daemon(move |c, _| {
                let inside_task = std::env::var_os("WARRANT_TASK").is_some();
                let live = c.grants(false)?;
                let mut revoked = BTreeMap::new();
                for g in live {
                    // Inside a task the daemon lists only the task's grants.
                    if inside_task || asked.contains(&g.id) {
                        let ended = c.revoke(&g.id, Some("end_task".into()))?;
                        revoked.insert(ended.id, ended.status);
                    }
                }
                Ok(revoked.into_keys().collect::<Vec<_>>())
            })
            .await;
        Ok(match result {
            Ok(revoked) => ok(json!({ "revoked": revoked })),
            Err(e) => refusal(&e),
        })
    }
}

#[tool_handler]
impl ServerHandler for WarrantTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build()).with_instructions(
            "warrant gives you access to credentials without showing them to you. \
             list_secrets, then request_access for the ones your task needs; when a grant \
             is active, use run_command (values in the command's environment) or \
             http_request (values substituted on the way to allowed hosts). Output comes \
             back redacted. Call end_task when done.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_models_write_them() {
        assert_eq!(parse_duration("15m"), Ok(900_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration(" 90s "), Ok(90_000));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("15").is_err());
        assert!(parse_duration("0m").is_err());
        assert_eq!(ttl_ms(&Ttl::Seconds(60)), Ok(60_000));
        assert!(ttl_ms(&Ttl::Seconds(0)).is_err());
    }
}
