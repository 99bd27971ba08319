//! `warrant task`: an agent's processes act as the task's actor, cannot
//! approve, cannot read the warrant home, and lose their grants (and their
//! leftover processes) when the agent exits.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::{APPROVER, Home, pid_alive, wait_child, wait_for, wait_until};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_owned()
}

/// The one task of the audit log: its id.
fn task_id(home: &Home) -> String {
    let started = home.audit_events("task_started");
    assert_eq!(started.len(), 1, "{}", home.audit_text());
    started[0]["task"].as_str().unwrap().to_owned()
}

#[test]
fn requests_inside_a_task_are_the_tasks_actors() {
    let (home, _value, _daemon) = Home::with_daemon();
    let script = "echo $WARRANT_TASK > task.id; \
        warrant request --secret db/dev/url --reason inside --ttl 1m --json > req.json; echo $? > req.rc; \
        warrant request --actor ana --secret db/dev/url --reason claim --ttl 1m 2> ana.err; echo $? > ana.rc; \
        warrant grants --all --json > grants.json";
    let task = home.task(&["--actor", "bot"], script);
    assert_eq!(task.code, 0, "{task:?}");
    let dir = home.scratch();
    let id = task_id(&home);
    assert_eq!(read(&dir.join("task.id")), id, "the agent is told its task");
    assert!(id.starts_with("t_"), "{id}");

    assert_eq!(read(&dir.join("req.rc")), "0");
    let grant: serde_json::Value = serde_json::from_str(&read(&dir.join("req.json"))).unwrap();
    assert_eq!(grant["actor"], "bot");
    assert_eq!(grant["task"], id.as_str());
    assert_eq!(grant["status"], "active", "bot's rule approves itself");
    let requested = home.audit_events("grant_requested");
    assert_eq!(requested.len(), 1, "{}", home.audit_text());
    assert_eq!(requested[0]["actor"], "bot");
    assert_eq!(requested[0]["task"], id.as_str());

    assert_eq!(
        read(&dir.join("ana.rc")),
        "3",
        "claiming another actor is refused"
    );
    assert!(read(&dir.join("ana.err")).contains("cannot claim actor ana"));
    let all = home.json(&["grants", "--all"]);
    assert_eq!(all.as_array().unwrap().len(), 1, "{all:#}");
    // Inside, the agent saw its own task's grants.
    let seen: serde_json::Value = serde_json::from_str(&read(&dir.join("grants.json"))).unwrap();
    assert_eq!(seen.as_array().unwrap().len(), 1);
}

#[test]
fn an_agent_sees_only_its_own_tasks_grants() {
    let (home, _value, _daemon) = Home::with_daemon();
    let (outside, _) = home.request("codex", &["db/dev/url"], &[]);
    let script = format!(
        "warrant grants --all --json > grants.json; \
         warrant revoke {outside} 2> revoke.err; echo $? > revoke.rc; \
         warrant deny {outside} 2> deny.err; echo $? > deny.rc"
    );
    let task = home.task(&["--actor", "bot"], &script);
    assert_eq!(task.code, 0, "{task:?}");
    let dir = home.scratch();
    let seen: serde_json::Value = serde_json::from_str(&read(&dir.join("grants.json"))).unwrap();
    assert_eq!(
        seen,
        serde_json::json!([]),
        "another grant was listed to the agent"
    );
    assert_eq!(read(&dir.join("revoke.rc")), "3");
    assert_eq!(read(&dir.join("deny.rc")), "3");
    assert_eq!(home.grant(&outside)["status"], "pending");
}

#[test]
fn an_agent_cannot_approve_even_with_the_right_passphrase() {
    let (home, _value, _daemon) = Home::with_daemon();
    let (id, _) = home.request("codex", &["db/dev/url"], &[]);
    let approver_sets = home.audit_events("approver_set").len();
    let script = format!(
        "echo '{APPROVER}' | warrant approve {id} 2> approve.err; echo $? > approve.rc; \
         echo '{APPROVER}' | warrant policy accept 2> accept.err; echo $? > accept.rc"
    );
    let task = home.task(&["--actor", "codex"], &script);
    assert_eq!(task.code, 0, "{task:?}");
    let dir = home.scratch();
    assert_eq!(read(&dir.join("approve.rc")), "3");
    assert!(read(&dir.join("approve.err")).contains("an agent cannot approve"));
    assert_eq!(read(&dir.join("accept.rc")), "3");
    assert!(read(&dir.join("accept.err")).contains("cannot accept the policy"));

    // Changing the approver: under Landlock the agent cannot even read the
    // approver file; without the sandbox, and hiding that it is in a task,
    // it reaches the daemon, which knows better.
    let script = format!(
        "printf '%s\\n%s\\n' '{APPROVER}' 'agent-chosen-passphrase' \
           | env -u WARRANT_TASK warrant approver set 2> set.err; echo $? > set.rc"
    );
    let task = home.task(&["--actor", "codex", "--insecure-no-sandbox"], &script);
    assert_eq!(task.code, 0, "{task:?}");
    assert_ne!(read(&dir.join("set.rc")), "0");
    assert!(
        read(&dir.join("set.err")).contains("an agent cannot set the approver"),
        "{}",
        read(&dir.join("set.err"))
    );
    assert_eq!(home.grant(&id)["status"], "pending");
    let refused = home.audit_events("approval_refused");
    assert!(!refused.is_empty());
    assert!(
        refused[0]["reason"]
            .as_str()
            .unwrap()
            .contains("inside task"),
        "{:#}",
        refused[0]
    );
    assert_eq!(home.audit_events("approver_set").len(), approver_sets);

    // Outside the task the same passphrase works at once (the refusal did
    // not lock approval) and is still the approver's.
    let approved = home.approve_with(&id, APPROVER, &[]);
    assert_eq!(approved.code, 0, "{approved:?}");
}

#[test]
fn the_agent_cannot_read_the_warrant_home_but_reads_elsewhere() {
    let (home, _value, _daemon) = Home::with_daemon();
    let dir = home.scratch();
    std::fs::write(dir.join("outside.txt"), "readable elsewhere\n").unwrap();
    let files = ["key", "store.json", "state.redb", "audit.jsonl", "approver"];
    for file in files {
        assert!(
            home.path().join(file).exists(),
            "{file} exists outside the task"
        );
    }
    let script = "for f in key store.json state.redb audit.jsonl approver; do \
          if cat \"$WARRANT_HOME/$f\" > /dev/null 2>&1; then echo \"$f readable\"; else echo \"$f hidden\"; fi; \
        done > landlock.txt; \
        echo planted > \"$WARRANT_HOME/planted\" 2> /dev/null; \
        cat outside.txt > outside.copy; \
        head -c 1 /etc/passwd > etc.copy";
    let task = home.task(&["--actor", "bot"], script);
    assert_eq!(task.code, 0, "{task:?}");
    assert!(task.stderr.contains("Landlock"), "{task:?}");
    let seen = read(&dir.join("landlock.txt"));
    for file in files {
        assert!(seen.contains(&format!("{file} hidden")), "{seen}");
    }
    assert!(
        !home.path().join("planted").exists(),
        "the agent wrote into the home"
    );
    assert_eq!(read(&dir.join("outside.copy")), "readable elsewhere");
    assert_eq!(read(&dir.join("etc.copy")).len(), 1);
    assert_eq!(home.audit_events("task_started")[0]["sandbox"], "landlock");
}

#[test]
fn the_agents_exit_revokes_its_grants_and_ends_what_it_left_running() {
    let (home, value, _daemon) = Home::with_daemon();
    let script = "warrant request --secret db/dev/url --reason r --ttl 5m --json > req.json || exit 90; \
        id=$(sed -n 's/.*\"id\": \"\\(g_[a-z0-9]*\\)\".*/\\1/p' req.json); \
        warrant run --grant $id --no-tty -e DB=warrant://db/dev/url -- sh -c 'echo $$ > granted.pid; exec sleep 30' & \
        sleep 30 & echo $! > sleep.pid; \
        sh -c 'trap \"echo got-term >> trapped.log\" TERM; echo $$ > trap.pid; while :; do sleep 0.1; done' & \
        i=0; while [ ! -s trap.pid ] || [ ! -s granted.pid ]; do sleep 0.02; i=$((i+1)); [ $i -gt 200 ] && exit 91; done; \
        i=0; until warrant grants --json | grep -q '\"processes\": 1'; do sleep 0.02; i=$((i+1)); [ $i -gt 200 ] && exit 92; done; \
        exit 0";
    let started = Instant::now();
    let task = home.task(&["--actor", "bot", "--grace", "1s"], script);
    let took = started.elapsed();
    assert_eq!(task.code, 0, "{task:?}");
    assert!(!task.all().contains(&value));
    assert!(took < Duration::from_secs(5), "the task took {took:?}");
    let dir = home.scratch();
    for file in ["sleep.pid", "trap.pid", "granted.pid"] {
        let pid: u32 = read(&dir.join(file)).parse().unwrap();
        assert!(
            wait_until(Duration::from_secs(1), || !pid_alive(pid)),
            "{file}: {pid} outlived its task"
        );
    }
    assert!(
        read(&dir.join("trapped.log")).contains("got-term"),
        "SIGTERM came first"
    );

    let grant: serde_json::Value = serde_json::from_str(&read(&dir.join("req.json"))).unwrap();
    let id = grant["id"].as_str().unwrap();
    let view = home.grant(id);
    assert_eq!(view["status"], "revoked");
    assert_eq!(view["end_reason"], "its task ended");
    let ended = home.audit_events("task_ended");
    assert_eq!(ended.len(), 1, "{}", home.audit_text());
    assert_eq!(ended[0]["task"], task_id(&home).as_str());
    assert_eq!(ended[0]["exit_code"], 0);
    assert_eq!(ended[0]["grants_revoked"], 1);
    let revoked = home.audit_events("grant_revoked");
    assert_eq!(revoked[0]["by"], "task");
    assert_eq!(home.json(&["status"])["tasks"], 0);
}

#[test]
fn the_exit_status_is_the_agents() {
    let (home, _value, _daemon) = Home::with_daemon();
    for (script, code) in [("exit 0", 0), ("exit 7", 7), ("kill -TERM $$", 143)] {
        let task = home.task(&["--actor", "bot"], script);
        assert_eq!(task.code, code, "{script}: {task:?}");
    }
    let codes: Vec<_> = home
        .audit_events("task_ended")
        .iter()
        .map(|r| r["exit_code"].clone())
        .collect();
    assert_eq!(codes, [0, 7, 143]);
}

#[test]
fn tasks_do_not_nest() {
    let (home, _value, _daemon) = Home::with_daemon();
    let script = "warrant task --actor ana -- sh -c 'echo nested ran > nested.ran' 2> nested.err; echo $? > nested.rc";
    let task = home.task(&["--actor", "bot"], script);
    assert_eq!(task.code, 0, "{task:?}");
    let dir = home.scratch();
    assert_eq!(read(&dir.join("nested.rc")), "3");
    assert!(read(&dir.join("nested.err")).contains("do not nest"));
    assert!(!dir.join("nested.ran").exists(), "the inner agent ran");
    assert_eq!(home.audit_events("task_started").len(), 1);
}

#[test]
fn a_task_killed_with_sigkill_loses_its_grants_at_once() {
    let (home, _value, _daemon) = Home::with_daemon();
    let dir = home.scratch();
    let script = "echo $$ > agent.pid; \
        warrant request --secret db/dev/url --reason r --ttl 5m --json > req.json && touch ready; \
        exec sleep 30";
    let mut task = home
        .task_cmd(&["--actor", "bot"], script)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_for(&dir.join("ready")), "the agent never asked");
    let grant: serde_json::Value = serde_json::from_str(&read(&dir.join("req.json"))).unwrap();
    let id = grant["id"].as_str().unwrap();
    assert_eq!(home.grant(id)["status"], "active");

    let killed_at = Instant::now();
    task.kill().unwrap();
    task.wait().unwrap();
    assert!(
        wait_until(Duration::from_millis(1500), || home.grant(id)["status"]
            == "revoked"),
        "still {} {:?} after kill -9",
        home.grant(id)["status"],
        killed_at.elapsed()
    );
    let ended = home.audit_events("task_ended");
    assert_eq!(ended.len(), 1, "{}", home.audit_text());
    assert!(ended[0]["exit_code"].is_null(), "{:#}", ended[0]);
    let agent: u32 = read(&dir.join("agent.pid")).parse().unwrap();
    assert!(
        wait_until(Duration::from_secs(1), || !pid_alive(agent)),
        "the agent outlived its warrant task"
    );
}

#[test]
fn a_task_outlives_a_daemon_restart() {
    let (home, _value, mut daemon) = Home::with_daemon();
    let dir = home.scratch();
    let script = "touch ready; i=0; while [ ! -e go ]; do sleep 0.02; i=$((i+1)); [ $i -gt 300 ] && exit 91; done; \
        warrant request --secret db/dev/url --reason after --ttl 1m --json > req.json; echo $? > req.rc";
    let mut task = home
        .task_cmd(&["--actor", "bot"], script)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_for(&dir.join("ready")));
    daemon.stop();
    let _daemon = home.serve();
    std::fs::write(dir.join("go"), "").unwrap();
    let status = wait_child(&mut task, Duration::from_secs(4)).expect("the task did not end");
    assert_eq!(status.code(), Some(0));
    assert_eq!(read(&dir.join("req.rc")), "0");
    let grant: serde_json::Value = serde_json::from_str(&read(&dir.join("req.json"))).unwrap();
    assert_eq!(grant["actor"], "bot");
    assert_eq!(grant["task"], task_id(&home).as_str());
    // The end reached the new daemon: the grant made after the restart is
    // revoked with the task.
    assert!(
        wait_until(Duration::from_secs(1), || home
            .grant(grant["id"].as_str().unwrap())["status"]
            == "revoked"),
        "{}",
        home.audit_text()
    );
    assert_eq!(home.audit_events("task_ended").len(), 1);
}

#[test]
fn inside_a_task_the_store_is_out_of_reach_without_a_grant() {
    let (home, value, _daemon) = Home::with_daemon();
    let script = "warrant run --no-tty -e DB=warrant://db/dev/url -- sh -c 'echo $DB' > direct.out 2> direct.err; \
        echo $? > direct.rc";
    let task = home.task(&["--actor", "bot"], script);
    assert_eq!(task.code, 0, "{task:?}");
    let dir = home.scratch();
    assert_eq!(read(&dir.join("direct.rc")), "125");
    assert_eq!(read(&dir.join("direct.out")), "", "the command ran");
    let err = read(&dir.join("direct.err"));
    assert!(!err.contains(&value));
    assert!(err.contains("ermission denied"), "{err}");
    assert!(home.audit_events("run").is_empty());
}

#[test]
fn a_tasks_grant_is_usable_only_inside_its_task() {
    let (home, value, _daemon) = Home::with_daemon();
    let dir = home.scratch();
    let script = "warrant request --secret db/dev/url --reason r --ttl 5m --json > req.json && touch ready; \
        i=0; while [ ! -e go ]; do sleep 0.02; i=$((i+1)); [ $i -gt 250 ] && exit 91; done; exit 0";
    let mut task = home
        .task_cmd(&["--actor", "bot"], script)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_for(&dir.join("ready")));
    let grant: serde_json::Value = serde_json::from_str(&read(&dir.join("req.json"))).unwrap();
    let id = grant["id"].as_str().unwrap();
    let (code, out, err) = home.run_granted(id, &["-e", "DB=warrant://db/dev/url"], "echo $DB");
    std::fs::write(dir.join("go"), "").unwrap();
    assert_ne!(code, 0);
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("only its processes may use it"), "{err}");
    assert!(!err.contains(&value));
    assert_eq!(
        wait_child(&mut task, Duration::from_secs(3))
            .unwrap()
            .code(),
        Some(0)
    );
    assert_eq!(home.grant(id)["uses"], 0);
}

#[test]
fn without_the_sandbox_the_task_says_so() {
    let (home, _value, _daemon) = Home::with_daemon();
    let task = home.task(
        &["--actor", "bot", "--insecure-no-sandbox"],
        "cat \"$WARRANT_HOME/key\" > /dev/null && echo read",
    );
    assert_eq!(task.code, 0, "{task:?}");
    assert!(task.stderr.contains("WARNING"), "{task:?}");
    assert_eq!(task.stdout.trim(), "read");
    assert!(
        home.audit_events("task_started")[0]["sandbox"]
            .as_str()
            .unwrap()
            .starts_with("none")
    );
}

/// An agent leaves a process behind and kills its own `warrant task` with
/// SIGKILL (same user, so it may). The daemon ends the task and revokes its
/// grants, but the leftover is neither ended nor kept in the task: it is
/// re-parented outside the task's tree, so the daemon takes it for a caller
/// outside any task and believes whatever actor it claims.
#[test]
fn an_agent_that_kills_its_task_cannot_escape_its_actor() {
    let (home, value, _daemon) = Home::with_daemon();
    let dir = home.scratch();
    let script = "( sh -c 'echo $PPID' > leftover.pid; \
          i=0; while kill -0 $PPID 2> /dev/null; do sleep 0.02; i=$((i+1)); [ $i -gt 100 ] && exit 91; done; \
          sleep 0.3; \
          warrant request --actor ana --secret db/dev/url --reason escape --ttl 5m --json > escaped.json 2> escaped.err; \
          echo $? > escaped.rc; \
          id=$(sed -n 's/.*\"id\": \"\\(g_[a-z0-9]*\\)\".*/\\1/p' escaped.json); \
          warrant run --grant \"$id\" --no-tty -e DB=warrant://db/dev/url -- sh -c 'printf %s \"$DB\" | rev' > escaped.out 2>&1; \
          touch escaped.done ) > /dev/null 2>&1 & \
        i=0; while [ ! -s leftover.pid ]; do sleep 0.01; i=$((i+1)); [ $i -gt 200 ] && exit 92; done; \
        kill -9 $PPID";
    let task = home.task(&["--actor", "bot"], script);
    // The agent is confined (Landlock's signal scope): its SIGKILL never
    // reaches the supervisor outside its sandbox.
    assert_ne!(
        task.code, -1,
        "the agent killed its own warrant task: {task:?}"
    );
    let leftover: u32 = read(&dir.join("leftover.pid")).parse().unwrap();
    // Either the leftover is ended, or it finishes its attempt.
    assert!(
        wait_until(Duration::from_secs(3), || !pid_alive(leftover)
            || dir.join("escaped.done").exists()),
        "the leftover neither ended nor finished"
    );
    assert!(wait_until(Duration::from_secs(1), || !pid_alive(leftover)));
    let grants = home.json(&["grants", "--all"]);
    let ana: Vec<_> = grants
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["actor"] == "ana")
        .collect();
    let reversed: String = value.chars().rev().collect();
    let out = std::fs::read_to_string(dir.join("escaped.out")).unwrap_or_default();
    assert!(
        !out.contains(&reversed),
        "the leftover read db/dev/url (reversed) through an ana grant"
    );
    assert!(
        ana.is_empty(),
        "a process of bot's task got a grant as ana: {ana:#?}"
    );
    assert!(!dir.join("escaped.done").exists() || read(&dir.join("escaped.rc")) != "0");
}

/// The person's tmux or screen session takes commands that run outside the
/// task: the agent does not get the variables that lead there, and the
/// person is told what still does.
#[test]
fn the_agent_does_not_get_the_persons_session_variables() {
    let (home, _value, _daemon) = Home::with_daemon();
    let out = home
        .std_cmd()
        .args(["task", "--actor", "bot", "--", "sh", "-c"])
        .arg("env | grep -E '^(TMUX|TMUX_PANE|STY|WINDOW)=' ; echo done")
        .env("TMUX", "/tmp/tmux-1000/default,4242,0")
        .env("TMUX_PANE", "%1")
        .env("STY", "4243.pts-0.host")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stdout.trim(), "done", "{stdout}{stderr}");
    assert!(stderr.contains("removed TMUX, TMUX_PANE, STY"), "{stderr}");
}
