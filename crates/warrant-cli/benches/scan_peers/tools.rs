//! The scanners: warrant and its five peers, where their binaries are,
//! their versions, and the command line that scans a target with each.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::settings::Settings;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Warrant,
    Kingfisher,
    Gitleaks,
    Betterleaks,
    Ripsecrets,
    DetectSecrets,
}

pub struct Tool {
    pub name: &'static str,
    pub kind: Kind,
    bin: PathBuf,
    /// `Some(why)` when the tool cannot run.
    pub missing: Option<String>,
    pub version: String,
    /// Extra environment.
    env: Vec<(String, PathBuf)>,
}

impl Tool {
    pub fn all(root: &Path, target: &Path, settings: &Settings) -> Vec<Tool> {
        let peers = target.join("scan-peers/bin");
        let warrant_bin = std::env::var_os("WARRANT_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_warrant")));
        let specs = [
            ("warrant", Kind::Warrant, warrant_bin),
            ("kingfisher", Kind::Kingfisher, peers.join("kingfisher")),
            ("gitleaks", Kind::Gitleaks, peers.join("gitleaks")),
            ("betterleaks", Kind::Betterleaks, peers.join("betterleaks")),
            ("ripsecrets", Kind::Ripsecrets, peers.join("ripsecrets")),
            (
                "detect-secrets",
                Kind::DetectSecrets,
                peers.join("detect-secrets"),
            ),
        ];
        let mut tools = Vec::new();
        for (name, kind, bin) in specs {
            if let Some(only) = &settings.tools
                && !only.iter().any(|t| t == name)
            {
                continue;
            }
            let mut tool = Tool {
                name,
                kind,
                bin,
                missing: None,
                version: String::new(),
                env: Vec::new(),
            };
            match kind {
                Kind::Warrant => {
                    let home = target.join("scan-bench-home");
                    let _ = fs::remove_dir_all(&home);
                    tool.env.push(("WARRANT_HOME".into(), home));
                }
                Kind::Kingfisher => tool.env.push((
                    "KF_RULE_CACHE_DIR".into(),
                    target.join("scan-peers/kingfisher-rule-cache"),
                )),
                _ => {}
            }
            tool.probe(root);
            tools.push(tool);
        }
        tools
    }

    /// Finds the version, or why the tool cannot run.
    fn probe(&mut self, root: &Path) {
        if !self.bin.exists() {
            self.missing = Some(if self.kind == Kind::Warrant {
                "not built".into()
            } else {
                "not installed (scripts/scan-peers.sh)".into()
            });
            self.version = "—".into();
            return;
        }
        let args: &[&str] = match self.kind {
            Kind::Gitleaks => &["version"],
            _ => &["--version"],
        };
        let out = Command::new(&self.bin).args(args).output();
        let text = out
            .as_ref()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        self.version = text
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or("?")
            .to_owned();
        if self.kind == Kind::Warrant {
            if self.version == "?" || self.version.is_empty() {
                self.version = env!("CARGO_PKG_VERSION").into();
            }
            let help = Command::new(&self.bin)
                .args(["scan", "--help"])
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .current_dir(root)
                .output();
            let ok = help.is_ok_and(|o| {
                o.status.success() && String::from_utf8_lossy(&o.stdout).contains("--format")
            });
            if !ok {
                self.missing = Some("not built (no `warrant scan --format`)".into());
            }
        }
    }

    /// The command that scans `target`, its output going to `report`.
    pub fn command(&self, target: &Path, report: &Path) -> (Command, bool) {
        let mut cmd = Command::new(&self.bin);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        // (command, whether the report is the command's stdout)
        let stdout_report = match self.kind {
            Kind::Warrant => {
                cmd.args(["scan", "--format", "json"]).arg(target);
                true
            }
            Kind::Kingfisher => {
                cmd.args([
                    "scan",
                    "--no-validate",
                    "--no-update-check",
                    "--format",
                    "json",
                ])
                .arg("--output")
                .arg(report)
                .arg(target);
                false
            }
            Kind::Gitleaks => {
                cmd.args(["dir", "--no-banner", "--report-format", "json"])
                    .arg("--report-path")
                    .arg(report)
                    .arg(target);
                false
            }
            Kind::Betterleaks => {
                cmd.args(["fs", "--no-banner", "--silent", "--output"])
                    .arg(report)
                    .arg(target);
                false
            }
            Kind::Ripsecrets => {
                cmd.arg("--only-matching").arg(target);
                true
            }
            Kind::DetectSecrets => {
                let (dir, arg) = if target.is_dir() {
                    (target.to_path_buf(), PathBuf::from("."))
                } else {
                    (
                        target.parent().unwrap().to_path_buf(),
                        PathBuf::from(target.file_name().unwrap()),
                    )
                };
                cmd.current_dir(dir).args(["scan", "--all-files"]).arg(arg);
                true
            }
        };
        if self.kind != Kind::DetectSecrets {
            cmd.current_dir(target.parent().unwrap());
        }
        (cmd, stdout_report)
    }

    pub fn ok_exit(&self, code: i32) -> bool {
        match self.kind {
            Kind::Kingfisher => matches!(code, 0 | 200 | 205),
            Kind::DetectSecrets => code == 0,
            _ => matches!(code, 0 | 1),
        }
    }
}
