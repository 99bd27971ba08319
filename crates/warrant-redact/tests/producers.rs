//! Real producers of encoded output: each value, generated at random when
//! the test runs, is printed by a real tool (coreutils, Python, OpenSSL) and
//! must come out redacted. A missing tool skips its case with a message.

use std::hash::{BuildHasher, RandomState};
use std::io::Write;
use std::process::{Command, Stdio};

use warrant_redact::{RedactorBuilder, literal_forms};

/// A xorshift generator seeded from the process's random hasher state.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        Rng(RandomState::new().hash_one(0x5eed_u64) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    fn text(&mut self, n: usize, alphabet: &[&str]) -> String {
        (0..n)
            .map(|_| alphabet[self.next() as usize % alphabet.len()])
            .collect()
    }
}

/// Runs `program args` with `input` on stdin; `None` if it cannot start.
fn run(program: &str, args: &[&str], input: &[u8]) -> Option<Vec<u8>> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(input).ok()?;
    let out = child.wait_with_output().ok()?;
    out.status.success().then_some(out.stdout)
}

fn python(code: &str, input: &[u8]) -> Option<Vec<u8>> {
    run("python3", &["-c", code], input)
}

/// Checks that `printed` (a producer's output holding `value`) comes out of
/// a redactor for `value` with at least one replacement and without any
/// literal form of the value, also with its line breaks taken out.
fn check(case: &str, value: &[u8], printed: Option<Vec<u8>>) {
    let Some(printed) = printed else {
        eprintln!("skipping {case}: the tool is missing or failed");
        return;
    };
    let mut b = RedactorBuilder::new();
    b.quoted_printable(true).add("v", value);
    let r = b.build().unwrap();
    let (out, n) = r.redact(&printed);
    // Streamed in small writes, the same.
    let mut s = r.stream();
    let mut streamed = Vec::new();
    for chunk in printed.chunks(7) {
        s.push(chunk, &mut streamed);
    }
    s.finish(&mut streamed);
    assert_eq!(streamed, out, "{case}: streaming differs");
    let shown = String::from_utf8_lossy(&printed).into_owned();
    assert!(n >= 1, "{case}: nothing redacted in {shown:?}");
    let joined: Vec<u8> = out
        .iter()
        .copied()
        .filter(|&b| b != b'\n' && b != b'\r')
        .collect();
    for form in literal_forms(value) {
        if form.len() < 8 {
            continue;
        }
        for text in [&out, &joined] {
            assert!(
                !text.windows(form.len()).any(|w| w == form.as_slice()),
                "{case}: a form survived in {:?}",
                String::from_utf8_lossy(&out)
            );
        }
    }
}

/// A message with the value at a random offset, so that it lands at every
/// alignment of the encoding's groups and lines.
fn message(rng: &mut Rng, value: &[u8]) -> Vec<u8> {
    let before = rng.next() as usize % 120;
    let after = rng.next() as usize % 40;
    let mut m = rng.bytes(before);
    m.extend_from_slice(value);
    m.extend(rng.bytes(after));
    m
}

#[test]
fn coreutils_base64_wrapped() {
    let mut rng = Rng::new();
    for width in ["76", "64"] {
        for _ in 0..20 {
            let value = rng.bytes(32);
            let m = message(&mut rng, &value);
            let printed = run("base64", &["-w", width], &m);
            check(&format!("base64 -w {width}"), &value, printed);
        }
    }
}

#[test]
fn openssl_base64() {
    let mut rng = Rng::new();
    for _ in 0..20 {
        let value = rng.bytes(32);
        let m = message(&mut rng, &value);
        check("openssl base64", &value, run("openssl", &["base64"], &m));
    }
}

#[test]
fn coreutils_base32() {
    let mut rng = Rng::new();
    for _ in 0..20 {
        let value = rng.bytes(32);
        let m = message(&mut rng, &value);
        check("base32", &value, run("base32", &[], &m));
        check(
            "basenc --base32hex",
            &value,
            run("basenc", &["--base32hex"], &m),
        );
    }
}

#[test]
fn python_quoted_printable() {
    let mut rng = Rng::new();
    for _ in 0..20 {
        // Binary bytes: most are escaped, and the 76-column soft breaks fall
        // anywhere in the value.
        let value = rng.bytes(40);
        let printed = python(
            "import sys, quopri; sys.stdout.buffer.write(quopri.encodestring(sys.stdin.buffer.read()))",
            &value,
        );
        check("quopri.encodestring", &value, printed);
    }
}

#[test]
fn python_html_and_xml_escape() {
    let mut rng = Rng::new();
    let alphabet = ["a", "b", "Z", "7", "&", "<", ">", "\"", "'", "-", "x"];
    for _ in 0..20 {
        let value = rng.text(24, &alphabet);
        let read = "sys.stdin.buffer.read().decode()";
        for (case, code) in [
            (
                "html.escape",
                format!("import sys, html; sys.stdout.write(html.escape({read}))"),
            ),
            (
                "xml.sax.saxutils.escape",
                format!(
                    "import sys; from xml.sax.saxutils import escape; sys.stdout.write(escape({read}))"
                ),
            ),
        ] {
            check(case, value.as_bytes(), python(&code, value.as_bytes()));
        }
    }
}

#[test]
fn python_json_ensure_ascii() {
    let mut rng = Rng::new();
    let alphabet = ["a", "Q", "3", "é", "ß", "€", "漢", "😀", "/", "\"", "\\"];
    for _ in 0..20 {
        let value = rng.text(16, &alphabet);
        let printed = python(
            "import sys, json; sys.stdout.write(json.dumps(sys.stdin.buffer.read().decode(), ensure_ascii=True))",
            value.as_bytes(),
        );
        check("json.dumps(ensure_ascii=True)", value.as_bytes(), printed);
    }
}

#[test]
fn python_utf16() {
    let mut rng = Rng::new();
    let alphabet = ["a", "Q", "3", "é", "€", "😀", "-", "_"];
    for _ in 0..20 {
        let value = rng.text(16, &alphabet);
        for codec in ["utf-16-le", "utf-16-be"] {
            let code = format!(
                "import sys; sys.stdout.buffer.write(b'x=' + sys.stdin.buffer.read().decode().encode('{codec}') + b';')"
            );
            check(
                &format!(".encode('{codec}')"),
                value.as_bytes(),
                python(&code, value.as_bytes()),
            );
        }
    }
}
