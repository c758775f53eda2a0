//! A small CEF parser written from the CEF specification (header split on unescaped `|`,
//! extension `key=value` pairs with `\=`, `\\`, `\n`, `\r` escapes), independent of the
//! formatter.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cef {
    pub version: String,
    pub vendor: String,
    pub product: String,
    pub device_version: String,
    pub signature_id: String,
    pub name: String,
    pub severity: String,
    /// Extension pairs in order, values unescaped.
    pub extension: Vec<(String, String)>,
}

impl Cef {
    pub fn ext(&self, key: &str) -> &str {
        &self
            .extension
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("no extension key {key} in {self:?}"))
            .1
    }
}

pub fn parse(text: &str) -> Result<Cef, String> {
    let rest = text.strip_prefix("CEF:").ok_or("no 'CEF:' at the start")?;
    let mut header = Vec::new();
    let mut current = String::new();
    let mut chars = rest.char_indices();
    let mut extension_start = None;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, n @ ('|' | '\\'))) => current.push(n),
                other => return Err(format!("bad header escape \\{other:?}")),
            },
            '|' => {
                header.push(std::mem::take(&mut current));
                if header.len() == 7 {
                    extension_start = Some(i + 1);
                    break;
                }
            }
            '\r' | '\n' => return Err("line break in the header".to_owned()),
            c => current.push(c),
        }
    }
    let extension_start = extension_start.ok_or("fewer than 7 header fields")?;
    let extension = parse_extension(&rest[extension_start..])?;
    let mut h = header.into_iter();
    let mut next = || h.next().unwrap();
    Ok(Cef {
        version: next(),
        vendor: next(),
        product: next(),
        device_version: next(),
        signature_id: next(),
        name: next(),
        severity: next(),
        extension,
    })
}

fn is_key_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn parse_extension(text: &str) -> Result<Vec<(String, String)>, String> {
    let bytes = text.as_bytes();
    // Every unescaped '=' ends a key (values escape theirs).
    let mut equals = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' => {
                equals.push(i);
                i += 1;
            }
            _ => i += 1,
        }
    }
    let mut keys = Vec::new();
    for &eq in &equals {
        let mut start = eq;
        while start > 0 && is_key_char(bytes[start - 1]) {
            start -= 1;
        }
        if start == eq {
            return Err(format!("'=' without a key at byte {eq}"));
        }
        if start > 0 && bytes[start - 1] != b' ' {
            return Err(format!("key at byte {start} not preceded by a space"));
        }
        keys.push((start, eq));
    }
    let mut pairs = Vec::new();
    for (n, &(start, eq)) in keys.iter().enumerate() {
        let value_end = keys
            .get(n + 1)
            .map(|&(next_start, _)| next_start - 1)
            .unwrap_or(bytes.len());
        pairs.push((
            text[start..eq].to_owned(),
            unescape_value(&text[eq + 1..value_end])?,
        ));
    }
    Ok(pairs)
}

fn unescape_value(raw: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('=') => out.push('='),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            other => return Err(format!("bad extension escape \\{other:?}")),
        }
    }
    Ok(out)
}

#[test]
fn parser_reads_the_specification_examples() {
    // From the CEF specification's examples.
    let c = parse(
        "CEF:0|security|threatmanager|1.0|100|detected a \\| in message|10|src=10.0.0.1 act=blocked a | dst=1.1.1.1",
    )
    .unwrap();
    assert_eq!(c.name, "detected a | in message");
    assert_eq!(c.severity, "10");
    assert_eq!(c.ext("act"), "blocked a |");
    assert_eq!(c.ext("dst"), "1.1.1.1");
    let c = parse("CEF:0|security|threatmanager|1.0|100|detected a = in message|10|src=10.0.0.1 act=blocked a \\= dst=1.1.1.1")
        .unwrap();
    assert_eq!(c.ext("act"), "blocked a =");
    let c =
        parse("CEF:0|a|b|c|d|e|1|msg=Detected a threat.\\n No action needed. cs1=x\\\\y").unwrap();
    assert_eq!(c.ext("msg"), "Detected a threat.\n No action needed.");
    assert_eq!(c.ext("cs1"), "x\\y");
    assert!(parse("CEF:0|a|b|c|d|e|1").is_err());
}
