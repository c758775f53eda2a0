//! A small RFC 5424 parser written from the RFC's ABNF (§6), independent of the formatter:
//! the tests read what rsyslog received with it.

/// One parsed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syslog {
    pub pri: u16,
    pub version: String,
    pub timestamp: String,
    pub hostname: String,
    pub app_name: String,
    pub procid: String,
    pub msgid: String,
    /// SD-ID and its parameters in order, values unescaped; empty for NILVALUE.
    pub structured_data: Vec<(String, Vec<(String, String)>)>,
    /// MSG without the BOM; `None` when absent.
    pub msg: Option<String>,
    /// Whether MSG started with the UTF-8 BOM.
    pub bom: bool,
}

impl Syslog {
    /// The parameters of SD element `id` (panics when missing).
    pub fn sd(&self, id: &str) -> &[(String, String)] {
        &self
            .structured_data
            .iter()
            .find(|(sd_id, _)| sd_id == id)
            .unwrap_or_else(|| panic!("no SD element {id} in {self:?}"))
            .1
    }
}

/// Parses `text` or says where it stops being RFC 5424.
pub fn parse(text: &str) -> Result<Syslog, String> {
    let rest = text.strip_prefix('<').ok_or("no '<' at the start")?;
    let close = rest.find('>').ok_or("no '>' after PRI")?;
    let pri_text = &rest[..close];
    if pri_text.is_empty() || pri_text.len() > 3 || !pri_text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad PRI {pri_text:?}"));
    }
    let pri: u16 = pri_text.parse().map_err(|e| format!("PRI: {e}"))?;
    if pri > 191 {
        return Err(format!("PRI {pri} > 191"));
    }
    let mut rest = &rest[close + 1..];
    let version = take_field(&mut rest, "VERSION", 2)?;
    if version != "1" {
        return Err(format!("VERSION {version:?}"));
    }
    let timestamp = take_field(&mut rest, "TIMESTAMP", 64)?;
    let hostname = take_field(&mut rest, "HOSTNAME", 255)?;
    let app_name = take_field(&mut rest, "APP-NAME", 48)?;
    let procid = take_field(&mut rest, "PROCID", 128)?;
    let msgid = take_field(&mut rest, "MSGID", 32)?;
    let mut structured_data = Vec::new();
    if let Some(after) = rest.strip_prefix('-') {
        rest = after;
    } else {
        if !rest.starts_with('[') {
            return Err(format!("STRUCTURED-DATA neither '-' nor '[': {rest:?}"));
        }
        while let Some(after) = rest.strip_prefix('[') {
            let (element, after) = parse_sd_element(after)?;
            structured_data.push(element);
            rest = after;
        }
    }
    let (msg, bom) = if rest.is_empty() {
        (None, false)
    } else {
        let body = rest
            .strip_prefix(' ')
            .ok_or_else(|| format!("no SP before MSG: {rest:?}"))?;
        match body.strip_prefix('\u{feff}') {
            Some(utf8) => (Some(utf8.to_owned()), true),
            None => (Some(body.to_owned()), false),
        }
    };
    Ok(Syslog {
        pri,
        version,
        timestamp,
        hostname,
        app_name,
        procid,
        msgid,
        structured_data,
        msg,
        bom,
    })
}

/// A header field: 1..=max PRINTUSASCII characters, then one SP.
fn take_field(rest: &mut &str, name: &str, max: usize) -> Result<String, String> {
    let end = rest
        .find(' ')
        .ok_or_else(|| format!("{name}: no SP after it in {rest:?}"))?;
    let field = &rest[..end];
    if field.is_empty() || field.len() > max || !field.bytes().all(|b| (33..=126).contains(&b)) {
        return Err(format!(
            "{name}: {field:?} is not 1..={max} printable US-ASCII characters"
        ));
    }
    *rest = &rest[end + 1..];
    Ok(field.to_owned())
}

fn is_sd_name_char(c: char) -> bool {
    ('!'..='~').contains(&c) && !matches!(c, '=' | ']' | '"')
}

/// After '[': SD-ID *(SP SD-PARAM) ']'. Returns the element and the text after ']'.
#[allow(clippy::type_complexity)]
fn parse_sd_element(text: &str) -> Result<((String, Vec<(String, String)>), &str), String> {
    let id_end = text
        .find(|c: char| !is_sd_name_char(c))
        .ok_or("SD element not closed")?;
    let id = &text[..id_end];
    if id.is_empty() || id.len() > 32 {
        return Err(format!("bad SD-ID {id:?}"));
    }
    let mut rest = &text[id_end..];
    let mut params = Vec::new();
    loop {
        if let Some(after) = rest.strip_prefix(']') {
            return Ok(((id.to_owned(), params), after));
        }
        rest = rest
            .strip_prefix(' ')
            .ok_or_else(|| format!("expected SP or ']' in SD: {rest:?}"))?;
        let name_end = rest
            .find(|c: char| !is_sd_name_char(c))
            .ok_or("SD-PARAM not closed")?;
        let name = &rest[..name_end];
        if name.is_empty() || name.len() > 32 {
            return Err(format!("bad PARAM-NAME {name:?}"));
        }
        rest = rest[name_end..]
            .strip_prefix("=\"")
            .ok_or_else(|| format!("expected =\" after {name}"))?;
        // PARAM-VALUE: '"', '\' and ']' are escaped by '\'; a '\' before anything else is
        // itself (RFC 5424 §6.3.3).
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            let (i, c) = chars.next().ok_or("PARAM-VALUE not closed")?;
            match c {
                '"' => break i,
                ']' => return Err(format!("unescaped ']' in the value of {name}")),
                '\\' => match chars.clone().next() {
                    Some((_, n @ ('"' | '\\' | ']'))) => {
                        chars.next();
                        value.push(n);
                    }
                    _ => value.push('\\'),
                },
                c => value.push(c),
            }
        };
        params.push((name.to_owned(), value));
        rest = &rest[end + 1..];
    }
}

#[test]
fn parser_reads_the_rfc5424_examples() {
    // RFC 5424 §6.5, example 3 (with the BOM the RFC shows as "BOM").
    let m = parse(
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 \
[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] \u{feff}An application event log entry...",
    )
    .unwrap();
    assert_eq!(m.pri, 165);
    assert_eq!(m.timestamp, "2003-10-11T22:14:15.003Z");
    assert_eq!(m.hostname, "mymachine.example.com");
    assert_eq!(m.app_name, "evntslog");
    assert_eq!(m.procid, "-");
    assert_eq!(m.msgid, "ID47");
    assert_eq!(
        m.sd("exampleSDID@32473")[1],
        ("eventSource".to_owned(), "Application".to_owned())
    );
    assert_eq!(m.msg.as_deref(), Some("An application event log entry..."));
    assert!(m.bom);
    // Example 4: structured data only, two elements.
    let m = parse(
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 \
[exampleSDID@32473 iut=\"3\"][examplePriority@32473 class=\"high\"]",
    )
    .unwrap();
    assert_eq!(m.structured_data.len(), 2);
    assert_eq!(m.msg, None);
    // Escapes, and what must be refused.
    let m = parse(r#"<1>1 - - - - - [a@1 v="x\"y\\z\]w\n"]"#).unwrap();
    assert_eq!(m.sd("a@1")[0].1, "x\"y\\z]w\\n");
    assert!(parse(r#"<1>1 - - - - - [a@1 v="x]"]"#).is_err());
    assert!(parse("<1>2 - - - - - -").is_err());
    assert!(parse("<192>1 - - - - - -").is_err());
}
