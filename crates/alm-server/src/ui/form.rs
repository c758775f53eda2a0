//! A form described as data (fields with label, hint, value and error), rendered by one
//! included template (`templates/form_fields.html`) so every administration form has the same
//! markup: a label per control, the hint and the error tied to it by `aria-describedby`, the
//! GOV.UK error summary linking to each field. A service's field errors are placed at the field
//! they name ([`Form::place`]); one that names no field of the form goes to the summary.

use super::FormError;
use alm_core::FieldError;

/// What kind of control a field is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    Text,
    Email,
    /// A day (`YYYY-MM-DD`), with the browser's date picker.
    Date,
    /// A secret: never filled in from a stored value, never offered by autofill.
    Password,
    /// Several lines; `rows` tall.
    TextArea(u32),
    /// A single tick box; its value is `yes` when ticked.
    Checkbox,
    /// One of (value, label).
    Select(Vec<(String, String)>),
}

/// One field of a form.
#[derive(Debug, Clone)]
pub struct Field {
    /// The control's id and name (the summary links to `#id`).
    pub id: String,
    pub label: String,
    pub hint: String,
    pub control: Control,
    pub value: String,
    pub checked: bool,
    pub error: Option<String>,
    /// Leading names of the service's error fields that belong here (`emails` takes
    /// `emails[2]` too); the id itself always does.
    pub takes: Vec<String>,
}

impl Field {
    pub fn new(id: impl Into<String>, label: impl Into<String>, control: Control) -> Self {
        Self {
            id: id.into(),
            label: label.into(),
            hint: String::new(),
            control,
            value: String::new(),
            checked: false,
            error: None,
            takes: Vec::new(),
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }

    pub fn value(mut self, value: impl Into<String>) -> Self {
        self.value = value.into();
        self
    }

    pub fn checked(mut self, checked: bool) -> Self {
        self.checked = checked;
        self
    }

    /// Service error fields named differently from the control (`name` for `display_name`).
    pub fn takes(mut self, field: impl Into<String>) -> Self {
        self.takes.push(field.into());
        self
    }

    fn owns(&self, field: &str) -> bool {
        std::iter::once(self.id.as_str())
            .chain(self.takes.iter().map(String::as_str))
            .any(|name| {
                field == name
                    || field
                        .strip_prefix(name)
                        .is_some_and(|rest| rest.starts_with('[') || rest.starts_with('.'))
            })
    }

    // Accessors the template calls.
    /// The `type` of a one-line input.
    pub fn input_type(&self) -> &'static str {
        match self.control {
            Control::Email => "email",
            Control::Date => "date",
            Control::Password => "password",
            _ => "text",
        }
    }
    pub fn is_checkbox(&self) -> bool {
        self.control == Control::Checkbox
    }
    pub fn rows(&self) -> Option<u32> {
        match self.control {
            Control::TextArea(rows) => Some(rows),
            _ => None,
        }
    }
    pub fn options(&self) -> Option<&[(String, String)]> {
        match &self.control {
            Control::Select(options) => Some(options),
            _ => None,
        }
    }
    /// The ids the control is described by (hint, error).
    pub fn described_by(&self) -> String {
        let mut ids = Vec::new();
        if !self.hint.is_empty() {
            ids.push(format!("{}-hint", self.id));
        }
        if self.error.is_some() {
            ids.push(format!("{}-error", self.id));
        }
        ids.join(" ")
    }
}

/// A form's fields and its error summary.
#[derive(Debug, Clone, Default)]
pub struct Form {
    pub fields: Vec<Field>,
    pub errors: Vec<FormError>,
}

impl Form {
    pub fn new(fields: Vec<Field>) -> Self {
        Self {
            fields,
            errors: Vec::new(),
        }
    }

    /// Puts each error at the field it names (the first error of a field is shown there) and
    /// in the summary; an error naming no field links to the first field.
    pub fn place(&mut self, errors: Vec<FieldError>) {
        for e in errors {
            let at = self.fields.iter().position(|f| f.owns(&e.field));
            // The summary names the field: a service's "must not be empty" says which there.
            let (link, message) = match at {
                Some(i) => {
                    let field = &mut self.fields[i];
                    if field.error.is_none() {
                        field.error = Some(e.message.clone());
                    }
                    (field.id.clone(), format!("{}: {}", field.label, e.message))
                }
                None => (
                    self.fields
                        .first()
                        .map_or_else(|| "main".to_owned(), |f| f.id.clone()),
                    e.message,
                ),
            };
            self.errors.push(FormError {
                field: link,
                message,
            });
        }
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// A form that posts nothing but its CSRF token (a confirmation's button).
#[derive(Debug, serde::Deserialize)]
pub struct CsrfOnly {
    pub csrf_token: String,
}

/// A posted form body as its (name, value) pairs, in order — for forms that repeat a name
/// (tick boxes of a list), which the `Form` extractor cannot gather. A body that does not parse
/// gives no pairs: the CSRF check then refuses it.
pub fn pairs(body: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(body).unwrap_or_default()
}

/// The first value of `name` (empty when absent).
pub fn one(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// Every value of `name`, in order.
pub fn all(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}

/// A ticked box as a form sends it (`yes`; absent when not ticked).
pub fn ticked(value: &Option<String>) -> bool {
    value.as_deref() == Some("yes")
}

/// A text area of one entry per line, as the entries (trimmed, empty lines dropped).
pub fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An optional "expires in days" box: empty is no expiry; anything but a whole number is
/// refused with what to type (`example`, the form's usual value). The service checks the range.
pub fn expiry_days(text: &str, example: u32) -> Result<Option<u32>, String> {
    match text.trim() {
        "" => Ok(None),
        text => text
            .parse::<u32>()
            .map(Some)
            .map_err(|_| format!("Enter the number of days as a whole number, such as {example}")),
    }
}

/// Where a list page goes after revoking something: back to `list`, naming what was revoked
/// (its name URL-encoded) for the page's notice.
pub fn revoked_redirect(list: &str, name: &str) -> axum::response::Redirect {
    let name: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    axum::response::Redirect::to(&format!("{list}?revoked={name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_days_are_a_whole_number_or_nothing() {
        assert_eq!(expiry_days("  ", 90), Ok(None));
        assert_eq!(expiry_days(" 30 ", 90), Ok(Some(30)));
        for wrong in ["1.5", "-3", "ninety", "30d"] {
            assert_eq!(
                expiry_days(wrong, 365),
                Err("Enter the number of days as a whole number, such as 365".to_owned()),
                "{wrong}"
            );
        }
    }

    fn form() -> Form {
        Form::new(vec![
            Field::new("display_name", "Name", Control::Text),
            Field::new("emails", "Email addresses", Control::TextArea(3)),
        ])
    }

    #[test]
    fn errors_go_to_the_field_they_name_and_indexed_ones_to_their_list() {
        let mut f = form();
        f.place(vec![
            FieldError::new("emails[1]", "format", "not an email address"),
            FieldError::new("display_name", "required", "give a name"),
            FieldError::new("emails[2]", "format", "a second one"),
        ]);
        assert_eq!(f.fields[0].error.as_deref(), Some("give a name"));
        assert_eq!(f.fields[1].error.as_deref(), Some("not an email address"));
        let links: Vec<_> = f.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(links, ["emails", "display_name", "emails"]);
        assert_eq!(
            f.errors[1].message, "Name: give a name",
            "the summary names the field"
        );
        assert_eq!(f.fields[1].described_by(), "emails-error");
    }

    #[test]
    fn an_error_naming_no_field_links_to_the_first_and_lookalikes_are_not_taken() {
        let mut f = form();
        f.place(vec![FieldError::new("emailsx", "x", "elsewhere")]);
        assert!(f.fields.iter().all(|x| x.error.is_none()));
        assert_eq!(f.errors[0].field, "display_name");
    }

    #[test]
    fn repeated_names_are_all_kept_in_order() {
        let p = pairs("csrf_token=t&permissions=audit%3Aread&permissions=user%3Aread");
        assert_eq!(one(&p, "csrf_token"), "t");
        assert_eq!(all(&p, "permissions"), ["audit:read", "user:read"]);
        assert_eq!(one(&pairs("%%%"), "csrf_token"), "");
    }

    #[test]
    fn lines_drop_blanks_and_spaces() {
        assert_eq!(
            lines(" a@x.test \n\n b@x.test\r\n"),
            ["a@x.test", "b@x.test"]
        );
    }
}
