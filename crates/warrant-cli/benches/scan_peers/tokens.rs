//! Token generators: the well-known formats planted in the corpus, a seeded
//! value for each, and the text that carries it (`KEY=value`, `key =
//! "value"`, JSON, or the format's own multi-line layout).

use crate::checksum::crc32;
use crate::rng::Rng;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DIGITS: &[u8] = b"0123456789";
const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Format {
    GithubPat,
    Aws,
    SlackBot,
    StripeLive,
    OpenAi,
    Anthropic,
    GitlabPat,
    Npm,
    PrivateKey,
    Postgres,
    Password,
}

pub const FORMATS: [Format; 11] = [
    Format::GithubPat,
    Format::Aws,
    Format::SlackBot,
    Format::StripeLive,
    Format::OpenAi,
    Format::Anthropic,
    Format::GitlabPat,
    Format::Npm,
    Format::PrivateKey,
    Format::Postgres,
    Format::Password,
];

impl Format {
    pub fn id(self) -> &'static str {
        match self {
            Format::GithubPat => "github-pat",
            Format::Aws => "aws-key-pair",
            Format::SlackBot => "slack-bot",
            Format::StripeLive => "stripe-live",
            Format::OpenAi => "openai",
            Format::Anthropic => "anthropic",
            Format::GitlabPat => "gitlab-pat",
            Format::Npm => "npm",
            Format::PrivateKey => "private-key",
            Format::Postgres => "postgres-url",
            Format::Password => "password",
        }
    }

    pub fn from_id(id: &str) -> Format {
        *FORMATS.iter().find(|f| f.id() == id).unwrap()
    }

    /// The variable name a token of this format is usually kept under.
    pub fn key(self) -> &'static str {
        match self {
            Format::GithubPat => "GITHUB_TOKEN",
            Format::Aws => "AWS_ACCESS_KEY_ID",
            Format::SlackBot => "SLACK_BOT_TOKEN",
            Format::StripeLive => "STRIPE_SECRET_KEY",
            Format::OpenAi => "OPENAI_API_KEY",
            Format::Anthropic => "ANTHROPIC_API_KEY",
            Format::GitlabPat => "GITLAB_TOKEN",
            Format::Npm => "NPM_TOKEN",
            Format::PrivateKey => "PRIVATE_KEY",
            Format::Postgres => "DATABASE_URL",
            Format::Password => "PASSWORD",
        }
    }

    /// Whether the format has a natural multi-line form.
    pub fn has_block(self) -> bool {
        matches!(self, Format::Aws | Format::PrivateKey | Format::Npm)
    }
}

/// A generated token: the value that is reported, and every secret part of
/// it (what a tool may hash or print instead: the AWS secret key, the
/// password in a URL).
pub struct Token {
    pub value: String,
    pub parts: Vec<String>,
}

/// `prefix` + 30 random base62 + the CRC32 of those 30 in 6 base62 digits:
/// GitHub's (and npm's) checksummed token layout.
fn checksummed(rng: &mut Rng, prefix: &str) -> String {
    let body = rng.chars(BASE62, 30);
    let mut crc = crc32(body.as_bytes());
    let mut check = [b'0'; 6];
    for c in check.iter_mut().rev() {
        *c = BASE62[(crc % 62) as usize];
        crc /= 62;
    }
    format!("{prefix}{body}{}", std::str::from_utf8(&check).unwrap())
}

pub fn generate(format: Format, rng: &mut Rng) -> Token {
    let single = |value: String| Token {
        parts: vec![value.clone()],
        value,
    };
    match format {
        Format::GithubPat => single(checksummed(rng, "ghp_")),
        Format::Npm => single(checksummed(rng, "npm_")),
        Format::Aws => {
            let id = format!("AKIA{}", rng.chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16));
            let secret = rng.chars(BASE64, 40);
            Token {
                value: id.clone(),
                parts: vec![id, secret],
            }
        }
        Format::SlackBot => single(format!(
            "xoxb-{}{}-{}{}-{}",
            rng.chars(b"123456789", 1),
            rng.chars(DIGITS, 10),
            rng.chars(b"123456789", 1),
            rng.chars(DIGITS, 11),
            rng.chars(BASE62, 24)
        )),
        Format::StripeLive => single(format!("sk_live_{}", rng.chars(BASE62, 24))),
        Format::OpenAi => single(format!(
            "sk-proj-{}T3BlbkFJ{}",
            rng.chars(BASE62, 74),
            rng.chars(BASE62, 74)
        )),
        Format::Anthropic => single(format!("sk-ant-api03-{}AA", rng.chars(BASE62, 93))),
        Format::GitlabPat => single(format!("glpat-{}", rng.chars(BASE62, 20))),
        Format::PrivateKey => {
            let body = format!("MIIEowIBAAKCAQEA{}", rng.chars(BASE64, 1572));
            let lines: Vec<&str> = body
                .as_bytes()
                .chunks(64)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            // Assembled, so that no committed file holds a key-shaped header.
            const DASHES: &str = "-----";
            single(format!(
                "{DASHES}BEGIN RSA PRIVATE KEY{DASHES}\n{}\n{DASHES}END RSA PRIVATE KEY{DASHES}",
                lines.join("\n")
            ))
        }
        Format::Postgres => {
            let user = format!("svc_{}", rng.chars(LOWER, 6));
            let password = rng.chars(BASE62, 22);
            let host = format!(
                "pg-{}.{}.eu-west-1.rds.amazonaws.com",
                rng.chars(LOWER, 5),
                rng.chars(LOWER, 12)
            );
            let url = format!("postgres://{user}:{password}@{host}:5432/billing");
            Token {
                value: url.clone(),
                parts: vec![url, password],
            }
        }
        Format::Password => single(rng.chars(BASE62, 22)),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Style {
    /// `KEY=value`
    Env,
    /// `key = "value"`
    Code,
    /// `"key":"value"` (a multi-line value is escaped)
    Json,
    /// The format's own multi-line layout.
    Block,
}

/// The planted text for `token` in `style`, and where the token starts in it.
pub fn render(format: Format, token: &Token, style: Style) -> (String, usize) {
    let style = if style == Style::Block && !format.has_block() {
        Style::Env
    } else if format == Format::PrivateKey && matches!(style, Style::Env | Style::Code) {
        Style::Json
    } else {
        style
    };
    let value = match (format, style) {
        (Format::PrivateKey, Style::Json) => format!("{}\\n", token.value.replace('\n', "\\n")),
        _ => token.value.clone(),
    };
    let key = format.key();
    let lower = key.to_ascii_lowercase();
    let text = match (format, style) {
        (Format::Aws, Style::Env) => format!(
            "AWS_ACCESS_KEY_ID={value} AWS_SECRET_ACCESS_KEY={}",
            token.parts[1]
        ),
        (Format::Aws, Style::Code) => format!(
            "aws_access_key_id = \"{value}\"; aws_secret_access_key = \"{}\"",
            token.parts[1]
        ),
        (Format::Aws, Style::Json) => format!(
            "\"aws_access_key_id\":\"{value}\",\"aws_secret_access_key\":\"{}\"",
            token.parts[1]
        ),
        (Format::Aws, Style::Block) => format!(
            "[default]\naws_access_key_id = {value}\naws_secret_access_key = {}",
            token.parts[1]
        ),
        (Format::Npm, Style::Block) => format!("//registry.npmjs.org/:_authToken={value}"),
        (Format::PrivateKey, Style::Block) => value.clone(),
        (Format::Password, Style::Env) => format!("DB_PASSWORD={value}"),
        (_, Style::Env) => format!("{key}={value}"),
        (_, Style::Code) => format!("{lower} = \"{value}\""),
        (_, Style::Json) => format!("\"{lower}\":\"{value}\""),
        (_, Style::Block) => unreachable!("handled above"),
    };
    let at = text.find(&value).expect("the value is in its context");
    (text, at)
}

// ---------------------------------------------------------------------------
// The corpus
