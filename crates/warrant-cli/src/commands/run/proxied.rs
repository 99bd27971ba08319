//! `warrant run --proxy` without a grant (the store-only mode): the child
//! gets a placeholder for each secret, and an HTTPS proxy in this process,
//! running for the child's lifetime, puts the value on the wire only
//! towards that secret's hosts (`--host`). The values come from the store
//! once; this process audits each substitution before it happens.
//!
//! What it does not stop: this process was started by the caller, in the
//! caller's environment, so whoever controls that environment (its
//! `LD_PRELOAD`, resolver, `--resolve`/`--upstream-ca`) controls where the
//! values go. Under a grant the proxy runs in the daemon instead
//! (`egress.rs`).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow, bail};
use warrant_audit::{AuditLog, Event};
use warrant_env::{Delivery, EnvPlan};
use warrant_exec::{ChildStatus, RunSpec, TerminalMode};
use warrant_proxy::{EventSink, ProxiedSecret, ProxyConfig, UseRequest, ValueSource};
use warrant_redact::RedactorBuilder;
use warrant_secret::{SecretName, SecretValue};

use super::{EXIT_WARRANT_FAILED, command_name, resolve, var_name};
use crate::args::RunArgs;
use crate::commands::Context;
use crate::commands::proxy::{
    Auditor, CA_VARS, NODE_VAR, PROXY_VARS, Running, load_upstream_cas, parse_resolve,
};

pub fn run(ctx: &Context, args: &RunArgs, plan: EnvPlan) -> Result<u8> {
    let (program, _) = args
        .command
        .split_first()
        .ok_or_else(|| anyhow!("no command given"))?;
    let names = plan.secret_names();
    if names.is_empty() {
        bail!(
            "--proxy has nothing to substitute: name the secrets as references, \
             e.g. --env TOKEN=warrant://api/token"
        );
    }
    let placeholders: BTreeMap<SecretName, String> = names
        .iter()
        .map(|name| {
            let placeholder = warrant_proxy::placeholder::generate(name.as_str());
            (name.clone(), placeholder)
        })
        .collect();

    let (source, hosts) = local(ctx, args, &plan, &names)?;
    let secrets: Vec<ProxiedSecret> = names
        .iter()
        .map(|name| {
            // Without a policy the person's --host is the whole rule: any
            // port (unless it names one), plain HTTP and URLs included, as
            // the README says of this mode.
            let hosts = hosts[name.as_str()]
                .iter()
                .map(|h| match warrant_policy::split_port(h) {
                    Some((_, warrant_policy::Port::Default)) => format!("{h}:*"),
                    _ => h.clone(),
                })
                .collect();
            ProxiedSecret {
                allow_http: true,
                query: true,
                body: args.substitute_in_body,
                ..ProxiedSecret::new(name.as_str(), &placeholders[name], hosts)
            }
        })
        .collect();
    let private_hosts = warrant_proxy::named_hosts(&secrets);
    let config = ProxyConfig {
        private_hosts,
        secrets,
        passthrough: args.passthrough,
        upstream_ca: load_upstream_cas(&args.upstream_ca)?,
        resolve: parse_resolve(&args.resolve)?,
        ..ProxyConfig::default()
    };
    let running = Running::start(&ctx.home, config, source.values, source.events)?;

    let mut spec = placeholder_spec(args, &plan, source.redactor, |name| {
        Ok(placeholders[name].clone())
    })?;
    for (var, value) in running.child_env() {
        spec.env.push((var.into(), value.into()));
    }

    let outcome = warrant_exec::run(spec);
    running.stop();
    let outcome = outcome?;
    if let Some(log) = source.run_log {
        let (exit_code, signal) = match outcome.status {
            ChildStatus::Exited(code) => (Some(code), None),
            ChildStatus::Signaled(signal) => (None, Some(signal)),
        };
        // The child held no value: no env or file secrets to record.
        let audited = log.append(Event::Run {
            command: command_name(program),
            child_pid: Some(outcome.pid),
            env_secrets: Vec::new(),
            file_secrets: Vec::new(),
            exit_code,
            signal,
            redactions: outcome.total_redactions(),
            redactions_by: outcome.redactions.clone(),
            grant: None,
            actor: None,
        });
        if let Err(error) = audited {
            eprintln!("warrant: error: this run was not recorded: {error:#}");
        }
    }
    Ok(u8::try_from(outcome.exit_code() & 0xff).unwrap_or(EXIT_WARRANT_FAILED))
}

/// Where values come from, what is audited, and what redacts the output.
struct Source {
    values: Arc<dyn ValueSource>,
    events: EventSink,
    redactor: warrant_redact::Redactor,
    /// Where to record the run (runs without a grant).
    run_log: Option<AuditLog>,
}

type Hosts = BTreeMap<String, Vec<String>>;

fn local(
    ctx: &Context,
    args: &RunArgs,
    plan: &EnvPlan,
    names: &[SecretName],
) -> Result<(Source, Hosts)> {
    let hosts = parse_hosts(&args.hosts, names)?;
    // Fail closed: a run whose uses could not be recorded does not start.
    let log = AuditLog::new(&ctx.home);
    log.check_appendable().with_context(|| {
        format!(
            "the audit log {} cannot take a record",
            log.path().display()
        )
    })?;
    let values = resolve(ctx, plan, args.insecure_allow_short_values)?;
    // The child never holds the values, but this process does: its output
    // is redacted as in any run, in case one comes back some other way.
    let mut builder = RedactorBuilder::new();
    for (name, value) in &values {
        builder.add(name.as_str(), value.expose_secret());
    }
    let redactor = builder.build().context("cannot set up redaction")?;
    let store = StoreValues {
        values: values
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect(),
        hosts: hosts.clone(),
        log: AuditLog::new(&ctx.home),
    };
    let source = Source {
        values: Arc::new(store),
        events: Auditor::new(&ctx.home, hosts.clone()).sink(),
        redactor,
        run_log: Some(log),
    };
    Ok((source, hosts))
}

/// `--host NAME=HOST` flags, by secret; every secret needs one.
fn parse_hosts(flags: &[String], names: &[SecretName]) -> Result<Hosts> {
    let mut hosts = Hosts::new();
    for flag in flags {
        let (name, host) = flag
            .split_once('=')
            .ok_or_else(|| anyhow!("--host {flag:?} is not NAME=HOST"))?;
        let name = name.strip_prefix("warrant://").unwrap_or(name);
        if !names.iter().any(|n| n.as_str() == name) {
            bail!(
                "--host {flag:?} names {name}, which no reference of this run uses (they are: {})",
                names
                    .iter()
                    .map(SecretName::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        check_host(host).with_context(|| format!("--host {flag:?}"))?;
        hosts
            .entry(name.to_owned())
            .or_default()
            .push(host.to_ascii_lowercase());
    }
    for name in names {
        if !hosts.contains_key(name.as_str()) {
            bail!(
                "warrant://{name} has no --host: with --proxy, name the hosts its value may be \
                 sent to, e.g. --host {name}=api.example.com"
            );
        }
    }
    Ok(hosts)
}

/// A host name or `*.suffix`, not a URL.
fn check_host(host: &str) -> Result<()> {
    let bare = host.strip_prefix("*.").unwrap_or(host);
    if bare.is_empty()
        || bare.contains(['*', '/', ':', '@', '?', '#'])
        || bare.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        bail!(
            "{host:?} is not a host name: give a name such as api.example.com, or \
             *.example.com for its subdomains (no scheme, port or path)"
        );
    }
    Ok(())
}

/// Values from the store, read once before the child starts; each
/// substitution is checked against `--host` and recorded before it happens.
struct StoreValues {
    values: BTreeMap<String, SecretValue>,
    hosts: Hosts,
    log: AuditLog,
}

impl ValueSource for StoreValues {
    fn values(&self, request: &UseRequest) -> Result<Vec<SecretValue>, String> {
        // The proxy checked the hosts already; this is the last word.
        for name in &request.secrets {
            let hosts = self.hosts.get(name).map_or(&[][..], Vec::as_slice);
            if !warrant_policy::host_matches(hosts, &request.host) {
                return Err(format!(
                    "exfiltration attempt: {name} may not be sent to {} (allowed: {})",
                    request.host,
                    hosts.join(", ")
                ));
            }
        }
        // Fail closed: a use that could not be recorded does not happen.
        self.log
            .append(Event::ProxySubstituted {
                secrets: request.secrets.clone(),
                host: request.host.clone(),
                method: request.method.clone(),
                scheme: Some(request.scheme.clone()),
                port: Some(request.port),
                path: Some(request.path.chars().take(200).collect()),
            })
            .map_err(|e| format!("cannot record the substitution: {e}"))?;
        request
            .secrets
            .iter()
            .map(|name| {
                self.values
                    .get(name)
                    .map(SecretValue::duplicate)
                    .ok_or_else(|| format!("{name} is not a secret of this run"))
            })
            .collect()
    }
}

/// Whether `var` is one of the variables the proxy sets for the child.
/// The command's spec in proxy mode: plain variables as given (but the
/// proxy's, set by the caller), a placeholder where each value would go,
/// in the environment or in a file.
pub(super) fn placeholder_spec(
    args: &RunArgs,
    plan: &EnvPlan,
    redactor: warrant_redact::Redactor,
    placeholder: impl Fn(&SecretName) -> Result<String>,
) -> Result<RunSpec> {
    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| anyhow!("no command given"))?;
    let mut spec = RunSpec {
        program: program.clone(),
        args: rest.to_vec(),
        env: Vec::new(),
        secret_env: Vec::new(),
        secret_files: Vec::new(),
        redactor,
        terminal: if args.no_tty {
            TerminalMode::Never
        } else {
            TerminalMode::Auto
        },
    };
    for (var, planned) in plan.vars() {
        match &planned.delivery {
            // Set by the caller, to the proxy's.
            Delivery::Plain(_) if is_proxy_var(var) => {}
            Delivery::Plain(value) => spec.env.push((var.clone(), value.clone())),
            Delivery::Value(reference) => spec
                .env
                .push((var.clone(), OsString::from(placeholder(reference.name())?))),
            // The file holds the placeholder: nothing secret, but the
            // tool reads it where it would read the value.
            Delivery::File(reference) => spec.secret_files.push((
                var_name(var)?,
                SecretValue::from(placeholder(reference.name())?.into_bytes()),
            )),
        }
    }
    Ok(spec)
}

fn is_proxy_var(var: &OsStr) -> bool {
    var.to_str()
        .is_some_and(|v| PROXY_VARS.contains(&v) || CA_VARS.contains(&v) || v == NODE_VAR)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<SecretName> {
        list.iter().map(|n| SecretName::new(*n).unwrap()).collect()
    }

    #[test]
    fn every_secret_needs_a_host() {
        let names = names(&["api/token", "db/url"]);
        let hosts = parse_hosts(
            &[
                "api/token=API.example.test".into(),
                "warrant://db/url=*.db.example.test".into(),
                "api/token=uploads.example.test".into(),
            ],
            &names,
        )
        .unwrap();
        assert_eq!(
            hosts["api/token"],
            vec!["api.example.test", "uploads.example.test"]
        );
        assert_eq!(hosts["db/url"], vec!["*.db.example.test"]);

        let missing = parse_hosts(&["api/token=a.test".into()], &names).unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("warrant://db/url has no --host")
        );
        let unknown = parse_hosts(&["other=a.test".into()], &names).unwrap_err();
        assert!(unknown.to_string().contains("no reference"));
    }

    #[test]
    fn hosts_are_names_not_urls() {
        for bad in [
            "",
            "*.",
            "https://api.example.test",
            "api.example.test:443",
            "api.example.test/x",
            "a*b.test",
            "user@host",
        ] {
            assert!(check_host(bad).is_err(), "{bad:?} was accepted");
        }
        for good in [
            "api.example.test",
            "*.example.test",
            "127.0.0.1",
            "localhost",
        ] {
            check_host(good).unwrap();
        }
    }

    #[test]
    fn the_proxy_variables_are_ours() {
        assert!(is_proxy_var(OsStr::new("https_proxy")));
        assert!(is_proxy_var(OsStr::new("NODE_EXTRA_CA_CERTS")));
        assert!(!is_proxy_var(OsStr::new("PATH")));
    }

    #[test]
    fn store_values_refuse_other_hosts() {
        let home = tempfile::tempdir().unwrap();
        let store = StoreValues {
            values: BTreeMap::from([(
                "api/token".to_owned(),
                SecretValue::from(b"fake-value-0123456789".to_vec()),
            )]),
            hosts: Hosts::from([("api/token".to_owned(), vec!["api.example.test".to_owned()])]),
            log: AuditLog::new(home.path()),
        };
        let request = |host: &str| UseRequest {
            secrets: vec!["api/token".into()],
            host: host.into(),
            method: "GET".into(),
            path: "/".into(),
            scheme: "https".into(),
            port: 443,
            injected: Vec::new(),
        };
        let refused = store.values(&request("evil.test")).unwrap_err();
        assert!(refused.contains("exfiltration attempt"), "{refused}");
        let values = store.values(&request("api.example.test")).unwrap();
        assert_eq!(values[0].expose_secret(), b"fake-value-0123456789");
        let log = std::fs::read_to_string(home.path().join("audit.jsonl")).unwrap();
        assert!(log.contains("\"event\":\"proxy_substituted\""), "{log}");
        assert!(!log.contains("fake-value"));
    }
}
