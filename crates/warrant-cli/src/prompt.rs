//! Reading secrets from a person or a pipe: never from argv, never echoed,
//! wiped when dropped.

use std::io::{IsTerminal, Read};
use std::path::Path;

use anyhow::{Context, Result, bail};
use secrecy::SecretString;
use warrant_secret::SecretValue;
use zeroize::Zeroizing;

/// Largest value accepted on stdin; larger input is more likely a mistake
/// (a whole file piped by accident) than a credential.
const MAX_VALUE_LEN: usize = 1 << 20;

/// A value from a no-echo prompt when stdin is a terminal, else all of stdin.
pub fn read_value(label: &str, keep_newline: bool) -> Result<SecretValue> {
    let mut bytes = if std::io::stdin().is_terminal() {
        let typed = rpassword::prompt_password(format!("Value for {label} (not echoed): "))
            .context("cannot read the value from the terminal")?;
        Zeroizing::new(typed.into_bytes())
    } else {
        read_all(&mut std::io::stdin().lock())?
    };
    if !keep_newline {
        strip_newline(&mut bytes);
    }
    if bytes.is_empty() {
        bail!("the value for {label} is empty; pipe it on stdin or type it at the prompt");
    }
    Ok(SecretValue::from(std::mem::take(&mut *bytes)))
}

/// The store's passphrase: from `file` when given, else asked on the terminal.
pub fn read_passphrase(file: Option<&Path>) -> Result<SecretString> {
    if let Some(file) = file {
        let mut raw = std::fs::File::open(file)
            .with_context(|| format!("cannot open passphrase file {}", file.display()))?;
        let mut bytes = read_all(&mut raw)?;
        let line = first_line(&mut bytes)
            .with_context(|| format!("passphrase file {}", file.display()))?;
        return Ok(SecretString::from(line.to_string()));
    }
    match rpassword::prompt_password("Passphrase for the warrant store: ") {
        Ok(typed) => Ok(SecretString::from(typed)),
        Err(_) => Err(warrant_store::Error::PassphraseRequired.into()),
    }
}

/// Reads everything, growing the buffer by hand so that no stale copy of a
/// partly read value is left behind in freed memory.
fn read_all(reader: &mut impl Read) -> Result<Zeroizing<Vec<u8>>> {
    let mut buffer = Zeroizing::new(vec![0u8; 8192]);
    let mut len = 0;
    loop {
        if len == buffer.len() {
            if buffer.len() >= MAX_VALUE_LEN {
                bail!("input is larger than {MAX_VALUE_LEN} bytes; is this really a secret?");
            }
            let mut bigger = Zeroizing::new(vec![0u8; buffer.len() * 2]);
            bigger[..len].copy_from_slice(&buffer[..len]);
            buffer = bigger;
        }
        match reader.read(&mut buffer[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error).context("cannot read stdin"),
        }
    }
    let mut value = Zeroizing::new(Vec::with_capacity(len));
    value.extend_from_slice(&buffer[..len]);
    Ok(value)
}

/// One line of `reader` without its `\n` (and `\r`), read a byte at a time
/// so nothing after it is consumed.
fn read_line(reader: &mut impl Read) -> Result<Zeroizing<Vec<u8>>> {
    let mut line = Zeroizing::new(Vec::with_capacity(256));
    let mut byte = [0u8; 1];
    loop {
        match reader.read(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => {
                if line.len() == line.capacity() {
                    if line.len() >= MAX_VALUE_LEN {
                        bail!("a line on stdin is longer than {MAX_VALUE_LEN} bytes");
                    }
                    // Grow by hand: a reallocation must not leave a copy.
                    let mut bigger = Zeroizing::new(Vec::with_capacity(line.capacity() * 2));
                    bigger.extend_from_slice(&line);
                    line = bigger;
                }
                line.push(byte[0]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("cannot read stdin"),
        }
    }
    if line.ends_with(b"\r") {
        line.pop();
    }
    Ok(line)
}

fn strip_newline(bytes: &mut Zeroizing<Vec<u8>>) {
    let len = bytes.len();
    if bytes.ends_with(b"\r\n") {
        bytes.truncate(len - 2);
    } else if bytes.ends_with(b"\n") {
        bytes.truncate(len - 1);
    }
}

fn first_line(bytes: &mut Zeroizing<Vec<u8>>) -> Result<Zeroizing<String>> {
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    bytes.truncate(end);
    if bytes.ends_with(b"\r") {
        let len = bytes.len();
        bytes.truncate(len - 1);
    }
    let text = std::str::from_utf8(bytes).context("the passphrase is not valid UTF-8")?;
    Ok(Zeroizing::new(text.to_owned()))
}

/// Answers to several secret questions: asked one by one without echo on a
/// terminal, or taken line by line from stdin when it is not one. Each line
/// is read as it is needed (not the whole of stdin, which a script may keep
/// open), byte by byte into a wiped buffer.
pub struct Answers {
    interactive: bool,
    next: usize,
}

impl Answers {
    /// Answers from the terminal, or from stdin's lines.
    pub fn new() -> Result<Self> {
        Ok(Self {
            interactive: std::io::stdin().is_terminal(),
            next: 0,
        })
    }

    /// Whether answers come from a terminal.
    pub fn interactive(&self) -> bool {
        self.interactive
    }

    /// One answer; `what` names it in the prompt and in errors.
    pub fn secret(&mut self, what: &str) -> Result<SecretValue> {
        self.next += 1;
        let bytes = if self.interactive {
            Zeroizing::new(
                rpassword::prompt_password(format!("{what}: "))
                    .with_context(|| format!("cannot read the {what} from the terminal"))?
                    .into_bytes(),
            )
        } else {
            let line = read_line(&mut std::io::stdin().lock())?;
            if line.is_empty() {
                bail!(
                    "stdin has no line {} for the {what}; pipe one line per answer",
                    self.next
                );
            }
            line
        };
        if bytes.is_empty() {
            bail!("the {what} is empty");
        }
        Ok(SecretValue::from(bytes.to_vec()))
    }

    /// A new secret: asked twice on a terminal, once from stdin.
    pub fn new_secret(&mut self, what: &str) -> Result<SecretValue> {
        let first = self.secret(what)?;
        if self.interactive() {
            let second = self.secret("Repeat it")?;
            if !first.ct_eq(&second) {
                bail!("the two entries differ; nothing was changed");
            }
        }
        Ok(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_one_at_a_time_without_their_ends() {
        let mut input: &[u8] = b"first\r\nsecond\nthird";
        assert_eq!(&read_line(&mut input).unwrap()[..], b"first");
        // Nothing past the first line was consumed.
        assert_eq!(input, b"second\nthird");
        assert_eq!(&read_line(&mut input).unwrap()[..], b"second");
        assert_eq!(&read_line(&mut input).unwrap()[..], b"third");
        assert!(read_line(&mut input).unwrap().is_empty());
    }

    #[test]
    fn a_long_line_grows_and_an_endless_one_is_refused() {
        let long = vec![b'x'; 5000];
        assert_eq!(read_line(&mut &long[..]).unwrap().len(), 5000);
        let endless = vec![b'x'; MAX_VALUE_LEN + 10];
        assert!(read_line(&mut &endless[..]).is_err());
    }
}
