use crate::install::jsonc::Parser;
use crate::migrate::tests::{Fixture, secret};

fn valid(text: &str) {
    Parser::new(text, true)
        .document()
        .unwrap_or_else(|e| panic!("{}: {text}", e.message));
}

#[test]
fn pretty_entry_moves_env_and_keeps_the_rest() {
    let token = secret("tok");
    let text = format!(
        r#"{{
  "numStartups": 3,
  "mcpServers": {{
    "github": {{
      "type": "stdio",
      "command": "npx",
      "args": [
        "-y",
        "@modelcontextprotocol/server-github"
      ],
      "env": {{
        "GITHUB_PERSONAL_ACCESS_TOKEN": "{token}",
        "LOG_LEVEL": "debug"
      }}
    }},
    "fs": {{"command": "fs-server", "args": ["/tmp"]}}
  }},
  "tipsHistory": {{"a": 1.50}}
}}
"#
    );
    let mut fx = Fixture::new();
    let out = fx.run_json(&text);
    let expected = r#"{
  "numStartups": 3,
  "mcpServers": {
    "github": {
      "type": "stdio",
      "command": "warrant",
      "args": [
        "run",
        "--env",
        "GITHUB_PERSONAL_ACCESS_TOKEN=warrant://mcp/github/github-personal-access-token",
        "--",
        "npx",
        "-y",
        "@modelcontextprotocol/server-github"
      ],
      "env": {
        "LOG_LEVEL": "debug"
      }
    },
    "fs": {"command": "fs-server", "args": ["/tmp"]}
  },
  "tipsHistory": {"a": 1.50}
}
"#;
    assert_eq!(out, expected);
    assert_eq!(
        fx.secrets,
        [(
            "mcp/github/github-personal-access-token".to_owned(),
            token.clone()
        )]
    );
    assert_eq!(fx.run_json(&out), out, "a second run changes nothing");
}

#[test]
fn compact_entry_without_args_gets_them_after_command() {
    let token = secret("tok");
    let text = format!(
        "{{\"mcpServers\": {{\"s\": {{\"command\": \"srv\", \"env\": {{\"A\": \"{token}\", \"B\": \"x\"}}}}}}}}"
    );
    let out = Fixture::new().run_json(&text);
    assert_eq!(
        out,
        "{\"mcpServers\": {\"s\": {\"command\": \"warrant\", \"args\": [\"run\", \"--env\", \
         \"A=warrant://mcp/s/a\", \"--\", \"srv\"], \"env\": {\"B\": \"x\"}}}}"
    );
}

#[test]
fn jsonc_comments_and_trailing_commas_survive() {
    let (a, b) = (secret("a"), secret("b"));
    let text = format!(
        "{{\n  // my servers\n  \"servers\": {{\n    \"s\": {{\n      \"type\": \"stdio\",\n      \
         \"command\": \"srv\", // the server\n      \"env\": {{\n        \"KEEP\": \"1\", // kept\n        \
         \"A\": \"{a}\", // token a\n        \"B\": \"{b}\", /* token b */\n      }},\n    }},\n  }},\n}}\n"
    );
    let out = Fixture::new().run_json(&text);
    assert_eq!(
        out,
        "{\n  // my servers\n  \"servers\": {\n    \"s\": {\n      \"type\": \"stdio\",\n      \
         \"command\": \"warrant\",\n      \"args\": [\n        \"run\",\n        \"--env\",\n        \
         \"A=warrant://mcp/s/a\",\n        \"--env\",\n        \"B=warrant://mcp/s/b\",\n        \
         \"--\",\n        \"srv\"\n      ], // the server\n      \"env\": {\n        \
         \"KEEP\": \"1\", // kept\n      },\n    },\n  },\n}\n"
    );
    valid(&out);
}

#[test]
fn home_goes_into_env_whether_or_not_it_exists() {
    let token = secret("tok");
    let mut fx = Fixture::new();
    fx.home = Some("/h/w".into());
    // Every env member moves: the object is written anew.
    let text = format!(
        "{{\"mcpServers\": {{\n  \"s\": {{\n    \"command\": \"srv\",\n    \"env\": {{\n      \"A\": \"{token}\"\n    }}\n  }}\n}}}}"
    );
    let out = fx.run_json(&text);
    assert!(
        out.contains("\"env\": {\n      \"WARRANT_HOME\": \"/h/w\"\n    }"),
        "{out}"
    );
    valid(&out);
    // No env at all: one is added after the last member.
    let text = format!(
        "{{\"mcpServers\": {{\n  \"s\": {{\n    \"command\": \"psql-mcp\",\n    \"args\": [\"postgres://u:{token}@db/x\"]\n  }}\n}}}}"
    );
    let out = fx.run_json(&text);
    assert!(
        out.ends_with("],\n    \"env\": {\n      \"WARRANT_HOME\": \"/h/w\"\n    }\n  }\n}}"),
        "{out}"
    );
    valid(&out);
    // Members kept: it is added after the last of them.
    let text = format!(
        "{{\"mcpServers\": {{\"s\": {{\"command\": \"x\", \"env\": {{\"A\": \"{token}\", \"B\": \"b\"}}}}}}}}"
    );
    let out = fx.run_json(&text);
    assert!(
        out.contains("\"env\": {\"WARRANT_HOME\": \"/h/w\", \"B\": \"b\"}"),
        "{out}"
    );
}

#[test]
fn claude_json_project_servers_and_wrapped_entries() {
    let (a, b) = (secret("a"), secret("b"));
    let text = format!(
        "{{\"projects\": {{\"/p\": {{\"mcpServers\": {{\"db\": {{\"command\": \"warrant\", \
         \"args\": [\"run\", \"--env\", \"X=warrant://x\", \"--\", \"db\"], \
         \"env\": {{\"PASS\": \"{a}\"}}}}}}}}}}, \
         \"mcpServers\": {{\"db\": {{\"command\": \"db\", \"env\": {{\"PASS\": \"{b}\"}}}}}}}}"
    );
    let mut fx = Fixture::new();
    let out = fx.run_json(&text);
    assert!(
        out.contains(
            "\"args\": [\"run\", \"--env\", \"X=warrant://x\", \"--env\", \
             \"PASS=warrant://mcp/db/pass\", \"--\", \"db\"], \"env\": {}"
        ),
        "{out}"
    );
    assert!(out.contains("\"PASS=warrant://mcp/db/pass-2\""), "{out}");
    let plan = fx.last.as_ref().unwrap();
    assert_eq!(plan.servers[0].project.as_deref(), Some("/p"));
    assert_eq!(plan.servers[1].project, None);
}

#[test]
fn shapes_that_are_not_servers_are_left_alone() {
    let token = secret("tok");
    for text in [
        "".to_owned(),
        "{}".to_owned(),
        format!(
            "{{\"other\": {{\"s\": {{\"command\": \"x\", \"env\": {{\"A\": \"{token}\"}}}}}}}}"
        ),
        "{\"mcpServers\": [1, 2]}".to_owned(),
        "{\"mcpServers\": {\"s\": 1}}".to_owned(),
    ] {
        let mut fx = Fixture::new();
        assert_eq!(fx.run_json(&text), text);
        assert!(fx.last.as_ref().unwrap().not_migrated.is_empty());
    }
}

#[test]
fn env_members_on_their_own_lines_take_their_lines() {
    let (a, b) = (secret("a"), secret("b"));
    let mut fx = Fixture::new();
    fx.home = Some("/h/w".into());
    let text = format!(
        "{{\"mcpServers\": {{\"s\": {{\n  \"command\": \"x\",\n  \"env\": {{\n    \"A\": \"{a}\",\n    \
         \"K\": \"k\",\n    \"B\": \"{b}\"\n  }}\n}}}}}}"
    );
    let out = fx.run_json(&text);
    assert!(
        out.contains("\"env\": {\n    \"WARRANT_HOME\": \"/h/w\",\n    \"K\": \"k\"\n  }\n"),
        "{out}"
    );
    valid(&out);
}
