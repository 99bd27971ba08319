#!/usr/bin/env python3
"""How the transcript in docs/clients/README.md was made.

A real session, run end to end on one machine with throwaway data:

  * a fresh warrant home with an approver passphrase and two obviously FAKE
    values (nothing here is a real credential);
  * a policy (warrant.toml) for an agent actor named `agent` whose grants
    need a person's approval;
  * `warrant serve` (the daemon) and a tiny HTTP server on 127.0.0.1 that
    echoes back every request it receives (it stands in for an API);
  * the "agent": this same script in `agent` mode, started under
    `warrant task --actor agent`, driving `warrant mcp` over stdio with the
    official MCP Python SDK, exactly as Codex, Claude Code, Cursor or VS Code
    would;
  * the "human": this script's main process, outside the task, which runs
    `warrant grants` and `warrant approve ID` while the agent waits. (In real
    use you type these in your own terminal; the approver passphrase is
    piped here only because the whole run is scripted.)

Everything the agent received is then searched for the two values, raw and
encoded; the script fails if it finds one, or if the token did not reach the
echo server (which would mean nothing was substituted). Nothing is left running: the task,
the daemon and the echo server are stopped, and the temporary directory is
removed (unless --keep).

Run it from the repository root after `cargo build -p warrant-cli`:

    PYTHONPATH=target/pydeps python3 docs/clients/walkthrough.py

It uses target/debug/warrant (or $WARRANT_BIN: point it at a copy if a build
may replace the binary mid-run, since the daemon hands values only to the
binary it runs itself) and prints the transcript. --json FILE also writes
every step as JSON; --keep leaves the temporary directory in place.
"""

import base64
import binascii
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACTOR = "agent"
APPROVER_PASSPHRASE = "approver-passphrase-x"
# Obviously fake values: they exist only in this run's throwaway store.
FAKE_DB_URL = "postgres://app:fake-pass-0001@localhost/dev"
FAKE_API_TOKEN = "fake-api-token-0123456789"

POLICY = """\
[actors.agent]
kind = "agent"

# The dev database: for the test run, to these programs only; no hosts, so
# it can never be sent anywhere over HTTP.
[[rules]]
actors   = ["agent"]
secrets  = ["db/dev/url"]
commands = ["sh", "cargo", "psql", "true"]
max_ttl  = "30m"
approval = "required"

# The API token: only to the API's host (here, the local echo server).
[[rules]]
actors   = ["agent"]
secrets  = ["api/token"]
commands = ["sh", "cargo", "psql", "true"]
hosts    = ["127.0.0.1"]
max_ttl  = "30m"
approval = "required"
"""

CARGO_TOML = """\
[package]
name = "app"
version = "0.1.0"
edition = "2021"

[workspace]
"""

# A stand-in for an integration test: it reads DATABASE_URL and, like many
# real test suites, logs it. (It does not connect to a database; there is
# none in this sandbox.)
LIB_RS = """\
#[cfg(test)]
mod tests {
    #[test]
    fn connects_to_dev_database() {
        let url = std::env::var("DATABASE_URL").expect("DATABASE_URL is set");
        println!("connecting to {url}");
        assert!(url.starts_with("postgres://"));
    }
}
"""


# --------------------------------------------------------------------------
# The agent: an MCP client under `warrant task`.
# --------------------------------------------------------------------------

def agent(port: int, project: str) -> None:
    import asyncio

    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    def emit(record):
        print(json.dumps(record), flush=True)

    async def call(session, tool, args):
        res = await session.call_tool(tool, args)
        emit({
            "tool": tool,
            "args": args,
            "is_error": bool(res.is_error),
            "result": res.structured_content,
            "text": " ".join(getattr(c, "text", "") for c in res.content),
        })
        return res.structured_content or {}

    async def main():
        params = StdioServerParameters(
            command="warrant",
            args=["mcp", "--actor", ACTOR],
            env=dict(os.environ),
        )
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as s:
                init = await s.initialize()
                emit({"initialize": {"server": init.server_info.name,
                                     "instructions": init.instructions}})
                tools = await s.list_tools()
                emit({"tools": [t.name for t in tools.tools]})

                await call(s, "list_secrets", {})
                grant = await call(s, "request_access", {
                    "secrets": ["db/dev/url", "api/token"],
                    "reason": "run the integration tests against the dev database and check the API client",
                    "ttl": "15m",
                })
                gid = grant["grant_id"]
                emit({"waiting": gid})
                # Poll as a model would (much faster here): until a person decides.
                first = True
                for _ in range(600):
                    res = await s.call_tool("access_status", {"grant_id": gid})
                    status = (res.structured_content or {}).get("status")
                    if first or status != "pending":
                        emit({"tool": "access_status", "args": {"grant_id": gid},
                              "is_error": bool(res.is_error),
                              "result": res.structured_content,
                              "text": " ".join(getattr(c, "text", "") for c in res.content)})
                        first = False
                    if status != "pending":
                        break
                    await asyncio.sleep(0.5)

                await call(s, "run_command", {
                    "grant_id": gid,
                    "argv": ["cargo", "test", "--", "--nocapture"],
                    "env": {"DATABASE_URL": "warrant://db/dev/url"},
                    "cwd": project,
                    "timeout_s": 300,
                })
                await call(s, "http_request", {
                    "grant_id": gid,
                    "method": "GET",
                    "url": f"http://127.0.0.1:{port}/v1/me",
                    "headers": {"Authorization": "Bearer {{secret:api/token}}"},
                })
                # A placeholder toward a host its secret may not reach:
                # refused before anything is sent, and audited.
                await call(s, "http_request", {
                    "grant_id": gid,
                    "method": "POST",
                    "url": f"http://127.0.0.1:{port}/collect",
                    "body": "{{secret:db/dev/url}}",
                })
                await call(s, "end_task", {})
                await call(s, "access_status", {"grant_id": gid})

    asyncio.run(main())


# --------------------------------------------------------------------------
# The machine and the human: everything outside the task.
# --------------------------------------------------------------------------

class Echo(BaseHTTPRequestHandler):
    """Answers every request with what it received, as JSON."""

    received = []

    def _echo(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        seen = {"method": self.command, "path": self.path,
                "headers": dict(self.headers.items()), "body": body}
        Echo.received.append(seen)
        out = json.dumps({"you_sent": seen}, indent=1).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _echo

    def log_message(self, *args):
        pass


def forms(value: str):
    """The value and the encodings a leak would most likely take."""
    raw = value.encode()
    out = {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value),
           binascii.hexlify(raw).decode(), json.dumps(value)[1:-1]}
    for skip in range(3):  # base64 at each alignment inside a longer stream
        enc = base64.b64encode(b"\0" * skip + raw + b"\0\0\0").decode()
        out.add(enc[4 if skip else 0:-8])
    return out


def main() -> int:
    keep = "--keep" in sys.argv
    json_out = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else None
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    binary = os.environ.get("WARRANT_BIN") or os.path.join(repo, "target/debug/warrant")
    if not os.access(binary, os.X_OK):
        sys.exit(f"{binary} not found: run `cargo build -p warrant-cli` first")

    base = tempfile.mkdtemp(prefix="warrant-walkthrough-")
    home = os.path.join(base, "w")
    project = os.path.join(base, "project")
    os.makedirs(os.path.join(project, "src"))
    # The agent cannot create new entries directly in an ancestor of the
    # hidden warrant home (here /tmp, since the home is under it): give its
    # tools (the linker, for one) a temporary directory of their own.
    agent_tmp = os.path.join(base, "tmp")
    os.makedirs(agent_tmp)
    with open(os.path.join(project, "warrant.toml"), "w") as f:
        f.write(POLICY)
    with open(os.path.join(project, "Cargo.toml"), "w") as f:
        f.write(CARGO_TOML)
    with open(os.path.join(project, "src/lib.rs"), "w") as f:
        f.write(LIB_RS)

    env = dict(os.environ)
    env.update(WARRANT_HOME=home, WARRANT_INSECURE_FAST_KDF="1",
               PATH=os.path.dirname(binary) + os.pathsep + env["PATH"])
    env.pop("WARRANT_ACTOR", None)
    # The agent runs in the project directory: keep the SDK's path absolute.
    env["PYTHONPATH"] = os.pathsep.join(
        os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)
    steps = []

    def warrant(*args, stdin=None, check=True):
        p = subprocess.run([binary, *args], input=stdin, env=env, cwd=project,
                           capture_output=True, text=True)
        steps.append({"human": "warrant " + " ".join(args), "exit": p.returncode,
                      "stdout": p.stdout, "stderr": p.stderr})
        if check and p.returncode != 0:
            raise SystemExit(f"warrant {' '.join(args)} failed:\n{p.stdout}{p.stderr}")
        return p

    daemon = server = task = None
    try:
        warrant("init", "--approver", stdin=APPROVER_PASSPHRASE + "\n")
        warrant("secret", "set", "db/dev/url", "-d", "dev database", stdin=FAKE_DB_URL)
        warrant("secret", "set", "api/token", "-d", "API token (staging)", stdin=FAKE_API_TOKEN)
        warrant("policy", "check")

        daemon = subprocess.Popen([binary, "serve"], env=env, cwd=project,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(100):
            if subprocess.run([binary, "status"], env=env, capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise SystemExit("the daemon did not start")

        server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
        port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()

        task = subprocess.Popen(
            [binary, "task", "--actor", ACTOR, "--reason", "fix the integration tests", "--",
             sys.executable, os.path.abspath(__file__), "agent", str(port), project],
            env=dict(env, TMPDIR=agent_tmp), cwd=project,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in task.stdout:
            record = json.loads(line)
            steps.append({"agent": record})
            if "waiting" in record:
                # The human, in their own terminal.
                warrant("grants")
                warrant("approve", record["waiting"], stdin=APPROVER_PASSPHRASE + "\n")
        task_stderr = task.stderr.read()
        task.wait()
        steps.append({"task_exit": task.returncode, "stderr": task_stderr})

        warrant("grants", "--all")
        warrant("audit")
        warrant("report")
        warrant("audit", "verify")
        steps.append({"echo_server_received": Echo.received})
    finally:
        if task and task.poll() is None:
            task.terminate()
            task.wait()
        if server:
            server.shutdown()
            server.server_close()
        if daemon:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=10)
        if not keep:
            shutil.rmtree(base, ignore_errors=True)

    # What the agent saw must hold neither value, in any usual form.
    seen = json.dumps([s["agent"] for s in steps if "agent" in s])
    leaks = [f for v in (FAKE_DB_URL, FAKE_API_TOKEN, "fake-pass-0001")
             for f in forms(v) if f in seen]
    # The server, on the other hand, must have got the real token.
    delivered = any(v == f"Bearer {FAKE_API_TOKEN}"
                    for r in Echo.received for k, v in r["headers"].items()
                    if k.lower() == "authorization")

    for step in steps:
        print(json.dumps(step, indent=2))
    print(json.dumps({"values_seen_by_agent": leaks, "token_delivered_to_server": delivered,
                      "workdir": base if keep else None}, indent=2))
    if json_out:
        with open(json_out, "w") as f:
            json.dump(steps, f, indent=2)
    return 1 if leaks or not delivered else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "agent":
        agent(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(main())
