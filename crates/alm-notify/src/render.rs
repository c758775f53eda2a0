//! Placeholders: `{{request.account_name}}` is replaced by that parameter's value. Unknown
//! names are refused when a template is saved ([`unknown_placeholders`]), so rendering never
//! meets one it cannot fill; should it, the placeholder is left as written.

use serde_json::Value;

/// The placeholder names a text uses, in order of appearance.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                out.push(after[..end].trim().to_owned());
                rest = &after[end + 2..];
            }
            None => break,
        }
    }
    out
}

/// Placeholders of `text` that are not among `known`.
pub fn unknown_placeholders(text: &str, known: &[&str]) -> Vec<String> {
    placeholders(text)
        .into_iter()
        .filter(|p| !known.contains(&p.as_str()))
        .collect()
}

fn lookup<'a>(params: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(params, |v, key| v.get(key))
}

/// Fills every `{{name}}` from `params` (dotted names walk into objects).
pub fn render(text: &str, params: &Value) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = after[..end].trim();
        match lookup(params, name) {
            Some(Value::String(s)) => out.push_str(s),
            Some(Value::Null) | None => out.push_str(&rest[start..start + 2 + end + 2]),
            Some(other) => out.push_str(&other.to_string()),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_are_filled_from_dotted_names() {
        let params =
            json!({"request": {"account_name": "svc-web", "step": 2}, "url": "https://alm"});
        assert_eq!(
            render(
                "{{ request.account_name }} at step {{request.step}}: {{url}}",
                &params
            ),
            "svc-web at step 2: https://alm"
        );
        assert_eq!(render("{{missing}} and {{", &params), "{{missing}} and {{");
        assert_eq!(
            unknown_placeholders("{{url}} {{nope}}", &["url"]),
            vec!["nope".to_string()]
        );
    }
}
