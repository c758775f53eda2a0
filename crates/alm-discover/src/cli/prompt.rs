//! Questions at the terminal: plain answers on stdin, the password without echo (from the
//! terminal itself, so it is neither shown nor taken from a pipe by mistake).

use crate::errors::DiscoverError;
use std::io::{BufRead, IsTerminal, Write};

/// True when a person can answer questions.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

fn read_line() -> Result<String, DiscoverError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| DiscoverError::Input(format!("cannot read the answer: {e}")))?;
    Ok(line.trim().to_owned())
}

/// Asks `question`; an empty answer gives `default` (when there is one).
pub fn ask(question: &str, default: Option<&str>) -> Result<String, DiscoverError> {
    loop {
        match default {
            Some(d) => eprint!("{question} [{d}]: "),
            None => eprint!("{question}: "),
        }
        let _ = std::io::stderr().flush();
        let answer = read_line()?;
        if !answer.is_empty() {
            return Ok(answer);
        }
        if let Some(d) = default {
            return Ok(d.to_owned());
        }
    }
}

pub fn ask_password(question: &str) -> Result<String, DiscoverError> {
    rpassword::prompt_password(format!("{question}: ")).map_err(|e| {
        DiscoverError::Input(format!("cannot read the password from the terminal: {e}"))
    })
}

/// Yes or no; anything but y/yes is no.
pub fn confirm(question: &str) -> Result<bool, DiscoverError> {
    eprint!("{question} [y/N]: ");
    let _ = std::io::stderr().flush();
    let answer = read_line()?.to_ascii_lowercase();
    Ok(answer == "y" || answer == "yes")
}
