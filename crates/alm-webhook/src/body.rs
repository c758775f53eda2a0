//! The message body: the template filled with the event's parameters. Pure text work, no I/O.
//!
//! Non-JSON bodies are rendered exactly as email texts are (`alm_notify::render::render`).
//! JSON bodies (a content type `application/json` or `…/…+json`) are rendered so the result
//! stays valid JSON whatever the values hold, by where the placeholder stands:
//! - inside a JSON string (`"name": "svc {{account.name}}"`): the value's text is escaped for
//!   a JSON string (quotes, backslashes, control characters), so `a"b` becomes `a\"b`;
//! - outside a string (`"count": {{sync.orphaned_count}}`): the value is written as a JSON
//!   value: a string with its quotes, a number or an object as is, a missing value as `null`.
//!
//! Placeholder names, trimming and dotted lookup are the same as `alm_notify::render`, so one
//! list of parameters serves email texts and webhook bodies.

use serde_json::Value;

/// Whether a content type is JSON (`application/json`, `application/cloudevents+json`, with or
/// without parameters such as `; charset=utf-8`).
pub fn is_json_content_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || (essence.contains('/') && essence.ends_with("+json"))
}

/// The body to send for `template` with `params`, as `content_type` asks.
pub fn render_body(template: &str, content_type: &str, params: &Value) -> String {
    if is_json_content_type(content_type) {
        render_json(template, params)
    } else {
        alm_notify::render::render(template, params)
    }
}

fn lookup<'a>(params: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(params, |v, key| v.get(key))
}

/// `s` escaped for the inside of a JSON string (without the surrounding quotes).
fn escape_in_string(s: &str) -> String {
    let quoted = Value::String(s.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// Renders a JSON template; see the module header for the rules.
pub fn render_json(template: &str, params: &Value) -> String {
    let mut out = String::with_capacity(template.len());
    // Whether the template text written so far leaves us inside a JSON string literal, and
    // whether the previous character was an escaping backslash inside it.
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = template;
    loop {
        let next = rest.find("{{");
        let literal = &rest[..next.unwrap_or(rest.len())];
        for c in literal.chars() {
            if in_string {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_string = false;
                }
            } else if c == '"' {
                in_string = true;
            }
        }
        out.push_str(literal);
        let Some(start) = next else { break };
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            break;
        };
        let name = after[..end].trim();
        let value = lookup(params, name);
        if in_string {
            match value {
                Some(Value::String(s)) => out.push_str(&escape_in_string(s)),
                // Left as written, like email texts; `{{…}}` is harmless inside a string.
                Some(Value::Null) | None => {
                    out.push_str(&escape_in_string(&rest[start..start + 4 + end]))
                }
                Some(other) => out.push_str(&escape_in_string(&other.to_string())),
            }
        } else {
            match value {
                Some(v) => out.push_str(&v.to_string()),
                None => out.push_str("null"),
            }
        }
        rest = &after[end + 2..];
    }
    out
}

/// Parameters for a test call: every placeholder of the template gets the text
/// `test <name>` (an object path for dotted names), so the receiver sees where each goes.
pub fn sample_parameters(template: &str) -> Value {
    let mut root = Value::Object(Default::default());
    for name in alm_notify::render::placeholders(template) {
        let mut node = &mut root;
        let parts: Vec<&str> = name.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let Value::Object(map) = node else { break };
            let last = i + 1 == parts.len();
            let entry = map.entry((*part).to_owned()).or_insert_with(|| {
                if last {
                    Value::String(format!("test {name}"))
                } else {
                    Value::Object(Default::default())
                }
            });
            node = entry;
        }
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_content_types_are_recognised() {
        assert!(is_json_content_type("application/json"));
        assert!(is_json_content_type("Application/JSON; charset=utf-8"));
        assert!(is_json_content_type("application/cloudevents+json"));
        assert!(!is_json_content_type("text/plain"));
        assert!(!is_json_content_type("application/x-www-form-urlencoded"));
    }

    #[test]
    fn values_inside_strings_are_escaped_and_outside_are_json_values() {
        let params = json!({"a": {"name": "x\"y\\z\n"}, "n": 3, "o": {"k": [1]}});
        let body = render_json(
            r#"{"s": "pre {{a.name}} {{ n }} {{o}} {{gone}}", "v": {{a.name}}, "n": {{n}}, "o": {{o}}, "m": {{gone}}}"#,
            &params,
        );
        let parsed: Value = serde_json::from_str(&body).expect(&body);
        assert_eq!(
            parsed,
            json!({
                "s": "pre x\"y\\z\n 3 {\"k\":[1]} {{gone}}",
                "v": "x\"y\\z\n",
                "n": 3,
                "o": {"k": [1]},
                "m": null,
            })
        );
    }

    #[test]
    fn an_escaped_quote_in_the_template_does_not_end_the_string() {
        let body = render_json(r#"{"s": "say \"{{a}}\" now"}"#, &json!({"a": "q\""}));
        let parsed: Value = serde_json::from_str(&body).expect(&body);
        assert_eq!(parsed, json!({"s": "say \"q\"\" now"}));
    }

    #[test]
    fn plain_bodies_render_like_email_texts() {
        assert_eq!(
            render_body("hi {{a}}\n", "text/plain", &json!({"a": "x\"y"})),
            "hi x\"y\n"
        );
    }

    #[test]
    fn sample_parameters_fill_every_placeholder() {
        let p = sample_parameters("{{request.id}} {{request.url}} {{x}}");
        assert_eq!(
            p,
            json!({"request": {"id": "test request.id", "url": "test request.url"}, "x": "test x"})
        );
    }
}
