//! Issue 15, item 2, as a fault test: many tasks, run by an ordinary user
//! (uid 65534 when the tests run as root), whose processes fork, `setsid`,
//! double-fork, start survivors from `TERM` handlers, stop themselves and
//! ignore `TERM`, some of them holding a value and trying to use warrant
//! again and again. Each task ends one way, at random: the agent exits (the
//! task's end), its grant is revoked, or its grant expires. Afterwards no
//! process carrying the task's marker may be left, none carrying the
//! grant's marker once the grant ended, and the audit log may show no use
//! of the grant after its end and nothing asked for by a leftover after the
//! task's end.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::harness::{APPROVER, fake_value, random_below, wait_until};
use crate::non_root::{Serving, User, text};

/// How many tasks (`WARRANT_TEST_CONTAIN_TASKS` to try another number).
const TASKS: usize = 200;
const CONCURRENT: usize = 16;

fn tasks() -> usize {
    std::env::var("WARRANT_TEST_CONTAIN_TASKS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(TASKS)
}

const POLICY: &str = r#"
[actors.bot]
kind = "agent"

[[rules]]
actors   = ["bot"]
secrets  = ["db/dev/url"]
commands = ["sh", "true"]
max_ttl  = "10m"
approval = "auto"
grace    = "300ms"
"#;

/// Every way to leave a parent that the issue names. `$1` is the role:
/// `held` runs under `warrant run --grant` (it holds the value), `agent`
/// is the agent's own; `loop` tries to use the grant and to ask for a new
/// one, forever; `spin` only runs.
const HOSTILE: &str = r#"
role=$1
# What the grant's command starts carries the grant's marker (not the
# `warrant run` that supervises it).
[ "$role" = held ] && export GMARK="held$MARK"
case $role in
use)
  while :; do
    warrant run --grant "$GRANT" --no-tty -e DB=warrant://db/dev/url -- true >/dev/null 2>&1
    sleep 1
  done ;;
loop)
  while :; do
    warrant run --grant "$GRANT" --no-tty -e DB=warrant://db/dev/url -- true >/dev/null 2>&1
    warrant request --actor bot --secret db/dev/url --reason "escape $MARK" --ttl 1m >/dev/null 2>&1
    sleep 0.3
  done ;;
spin)
  while :; do sleep 0.3; done ;;
trapper)
  trap 'setsid sh ../hostile.sh loop & exit 0' TERM
  while :; do sleep 0.1; done ;;
ignorer)
  trap '' TERM
  while :; do sleep 0.3; done ;;
esac
# held or agent: leave every kind of process behind, then say so.
sleep 60 &
if [ "$role" = held ]; then setsid sh ../hostile.sh use & else setsid sh ../hostile.sh spin & fi
( sh ../hostile.sh spin & ) &
sh ../hostile.sh trapper &
sh -c 'trap "" TERM; kill -STOP $$; sleep 60' &
sh ../hostile.sh ignorer &
echo up > "$role.ready"
wait
"#;

/// The agent: asks for a grant, starts the grant's command and its own
/// leftovers, then exits (`END=task`) or waits to be told to.
const AGENT: &str = r#"
warrant request --secret db/dev/url --reason "fault $MARK" --ttl "$TTL" --json > req.json || exit 90
GRANT=$(sed -n 's/.*"id": "\(g_[a-z0-9]*\)".*/\1/p' req.json)
export GRANT
( warrant run --grant "$GRANT" --no-tty -e DB=warrant://db/dev/url -- sh ../hostile.sh held; echo $? > held.done ) &
sh ../hostile.sh agent &
# The grant may expire before its command starts (a short ttl, a loaded machine).
i=0; until { [ -s held.ready ] || [ -s held.done ]; } && [ -s agent.ready ]; do sleep 0.02; i=$((i+1)); [ $i -gt 1500 ] && exit 91; done
[ -s held.ready ] && echo "$GRANT" > up || echo "$GRANT" > held.refused
[ "$END" = task ] && exit 0
i=0; until [ -e finish ]; do sleep 0.05; i=$((i+1)); [ $i -gt 1200 ] && exit 92; done
exit 0
"#;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum End {
    Task,
    Revoke,
    Expiry,
}

/// Processes whose argv or environment holds `marker` (their pids).
fn carrying(marker: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| crate::harness::pid_alive(*pid))
        .filter(|pid| {
            ["cmdline", "environ"].iter().any(|file| {
                std::fs::read(format!("/proc/{pid}/{file}"))
                    .is_ok_and(|bytes| bytes.windows(marker.len()).any(|w| w == marker.as_bytes()))
            })
        })
        .collect()
}

/// What one task left: survivors after its grant ended and after it ended.
#[derive(Default)]
struct Outcome {
    grant: String,
    /// The grant expired before its command started.
    refused: bool,
    held_survivors: Vec<String>,
    task_survivors: Vec<String>,
    failure: Option<String>,
}

fn one_task(user: &User, nonce: &str, index: usize, end: End) -> Outcome {
    let mark = format!("ctn{nonce}t{index}z");
    let dir = user.path().join(format!("t{index}"));
    let ttl = if end == End::Expiry { "3s" } else { "5m" };
    let mut task = user
        .sh(&format!(
            "mkdir -p t{index} && cd t{index} && exec warrant task --actor bot --grace 300ms -- sh -c \"$AGENT\""
        ))
        .env("AGENT", AGENT)
        .env("MARK", &mark)
        .env("END", format!("{end:?}").to_lowercase())
        .env("TTL", ttl)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // A file, not a pipe: a leftover holding a pipe open would keep
        // the test waiting.
        .stderr(std::fs::File::create(user.path().join(format!("t{index}.err"))).unwrap())
        .spawn()
        .unwrap();
    let err =
        || std::fs::read_to_string(user.path().join(format!("t{index}.err"))).unwrap_or_default();
    let mut outcome = Outcome::default();
    let up = dir.join("up");
    let refused = dir.join("held.refused");
    let said = |path: &Path| std::fs::read_to_string(path).is_ok_and(|s| s.ends_with('\n'));
    if !wait_until(Duration::from_secs(30), || {
        said(&up) || said(&refused) || task.try_wait().unwrap().is_some()
    }) || !(said(&up) || said(&refused))
    {
        // Not killed: that would hand its processes to pid 1.
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join("finish"), "");
        let status = task.wait().unwrap();
        outcome.failure = Some(format!("task {index} never came up ({status}): {}", err()));
        outcome.task_survivors = describe(&carrying(&mark));
        return outcome;
    }
    if said(&refused) {
        // Its grant expired before its command could start: nothing held it.
        outcome.grant = std::fs::read_to_string(&refused).unwrap().trim().to_owned();
        outcome.refused = true;
        if end != End::Expiry {
            outcome.failure = Some(format!("task {index} ({end:?}): its grant was refused"));
        }
    } else {
        outcome.grant = std::fs::read_to_string(&up).unwrap().trim().to_owned();
    }
    let held = format!("held{mark}");
    if end != End::Task {
        if end == End::Revoke {
            let revoked = user.run(&format!("warrant revoke {}", outcome.grant), "");
            if !revoked.status.success() {
                outcome.failure = Some(format!("revoke: {}", text(&revoked)));
            }
        }
        // The grant's grace (300 ms) for its command, then 1 s for what
        // the command left; at most 2 s more for the expiry's tick.
        // Generous for a loaded machine: the wait ends as soon as none is left.
        let bound = Duration::from_secs(if end == End::Expiry { 12 } else { 8 });
        wait_until(bound, || carrying(&held).is_empty());
        outcome.held_survivors = describe(&carrying(&held));
        std::fs::write(dir.join("finish"), "").unwrap();
    }
    let status = task.wait().unwrap();
    if !status.success() && outcome.failure.is_none() {
        outcome.failure = Some(format!("task {index} failed ({status}): {}", err()));
    }
    // No waiting: `warrant task` returns only once nothing is left.
    outcome.task_survivors = describe(&carrying(&mark));
    outcome
}

/// What a survivor is: pid, parent, state and command line.
fn describe(pids: &[u32]) -> Vec<String> {
    pids.iter()
        .map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map(|(_, rest)| rest.split_whitespace().take(2).collect())
                .unwrap_or_default();
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default();
            let parent: u32 = fields.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
            let parent_cmdline = std::fs::read(format!("/proc/{parent}/cmdline"))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default();
            format!("{pid} (state and parent {fields:?}: {cmdline}; parent: {parent_cmdline})")
        })
        .collect()
}

/// 200 tasks, 12 at a time; every task's processes end with it, those
/// holding its grant's value with the grant, and nothing uses warrant
/// after the end.
#[test]
fn no_process_outlives_its_task_or_grant_and_nothing_is_used_after_the_end() {
    let user = User::new();
    let value = fake_value("db");
    let setup = user
        .sh(&format!(
            r#"set -e
printf '%s\n%s\n' '{APPROVER}' '{APPROVER}' | warrant init --approver >/dev/null
printf %s "$VALUE" | warrant secret set db/dev/url
cat > warrant.toml <<'EOF'
{POLICY}
EOF"#
        ))
        .env("VALUE", &value)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(setup.status.success(), "{}", text(&setup));
    std::fs::write(user.path().join("hostile.sh"), HOSTILE).unwrap();
    let daemon = user
        .sh("exec warrant serve --no-ui")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(user.path().join("serve.err")).unwrap())
        .spawn()
        .unwrap();
    let _daemon = Serving(daemon);
    assert!(
        wait_until(Duration::from_secs(10), || user
            .run("warrant status >/dev/null 2>&1", "")
            .status
            .success()),
        "the daemon did not answer"
    );

    let nonce = format!("{:08x}", random_below(1 << 32));
    let total = tasks();
    let ends: Vec<End> = (0..total)
        .map(|_| [End::Task, End::Revoke, End::Expiry][random_below(3) as usize])
        .collect();
    let next = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<(usize, End, Outcome)>> = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..CONCURRENT {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    if index >= total {
                        return;
                    }
                    let outcome = one_task(&user, &nonce, index, ends[index]);
                    outcomes.lock().unwrap().push((index, ends[index], outcome));
                }
            });
        }
    });
    let took = started.elapsed();
    let serve_err = std::fs::read_to_string(user.path().join("serve.err")).unwrap_or_default();
    let alive = user
        .run("warrant status >/dev/null 2>&1", "")
        .status
        .success();
    assert!(alive, "the daemon died: {serve_err}");
    let outcomes = outcomes.into_inner().unwrap();

    // The audit log, in order: no use of a grant after its end, and
    // nothing asked for by a task's leftovers after the task's end.
    let audit: Vec<serde_json::Value> = user
        .audit()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let mut grant_ended: HashMap<String, usize> = HashMap::new();
    let mut task_of_grant: HashMap<String, String> = HashMap::new();
    let mut task_ended: HashMap<String, usize> = HashMap::new();
    for (at, record) in audit.iter().enumerate() {
        let event = record["event"].as_str().unwrap_or_default();
        let grant = record["grant"].as_str().unwrap_or_default().to_owned();
        match event {
            "grant_revoked" | "grant_expired" => {
                grant_ended.entry(grant).or_insert(at);
            }
            "task_ended" => {
                let task = record["task"].as_str().unwrap_or_default().to_owned();
                task_ended.entry(task).or_insert(at);
            }
            "grant_requested" => {
                if let Some(task) = record["task"].as_str() {
                    task_of_grant.insert(grant, task.to_owned());
                }
            }
            _ => {}
        }
    }
    let mut uses_after_end = Vec::new();
    for (at, record) in audit.iter().enumerate() {
        let event = record["event"].as_str().unwrap_or_default();
        let grant = record["grant"].as_str().unwrap_or_default();
        if event == "grant_used" && grant_ended.get(grant).is_some_and(|end| at > *end) {
            uses_after_end.push(format!("{at}: {record}"));
        }
        // A request from outside every task that a leftover made.
        let reason = record["reason"].as_str().unwrap_or_default();
        if event == "grant_requested" && reason.starts_with("escape ") {
            let from_a_task = record["task"]
                .as_str()
                .is_some_and(|task| task_ended.get(task).is_none_or(|end| at < *end));
            if !from_a_task {
                uses_after_end.push(format!("{at}: {record}"));
            }
        }
    }
    assert!(
        !user.audit().contains(&value),
        "a value reached the audit log"
    );

    let mut by_end: HashMap<End, usize> = HashMap::new();
    let mut failures = Vec::new();
    let mut survivors = 0;
    let refused = outcomes.iter().filter(|(_, _, o)| o.refused).count();
    for (index, end, outcome) in &outcomes {
        *by_end.entry(*end).or_default() += 1;
        if let Some(failure) = &outcome.failure {
            failures.push(failure.clone());
        }
        if !outcome.held_survivors.is_empty() || !outcome.task_survivors.is_empty() {
            survivors += outcome.held_survivors.len() + outcome.task_survivors.len();
            failures.push(format!(
                "task {index} ({end:?}, grant {}): survivors {:?} after the grant, {:?} after the task",
                outcome.grant, outcome.held_survivors, outcome.task_survivors
            ));
        }
        if *end != End::Task
            && !outcome.grant.is_empty()
            && !grant_ended.contains_key(&outcome.grant)
        {
            failures.push(format!("task {index}: grant {} never ended", outcome.grant));
        }
    }
    eprintln!(
        "containment faults: {} tasks ({by_end:?}) as uid {}, {CONCURRENT} at a time, in {took:?}: \
         {survivors} survivors, {} uses after the end, {} grants used in all, \
         {refused} grants expired before their command started",
        outcomes.len(),
        if user.drop_privileges {
            65534
        } else {
            rustix::process::getuid().as_raw()
        },
        uses_after_end.len(),
        audit.iter().filter(|r| r["event"] == "grant_used").count(),
    );
    assert_eq!(outcomes.len(), total);
    assert!(
        failures.is_empty(),
        "{}\n--- the daemon said:\n{serve_err}",
        failures.join("\n")
    );
    assert!(uses_after_end.is_empty(), "{}", uses_after_end.join("\n"));
    assert!(
        task_of_grant.len() >= total,
        "every task asked for its grant"
    );
}
