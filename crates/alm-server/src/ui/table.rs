//! The state of a table page in its URL (`?q=…&state=…&sort=-updated_at&limit=25&offset=50`),
//! so a shared link opens the same view: parsed once into a [`Table`] with the same paging
//! rules as the API, and turned back into the links of the sortable headers, the pager and
//! the rows-per-page choice. A value that does not parse is the caller's error page, never a
//! silent default.

use alm_core::paging::{PageRequest, SortDirection};
use alm_core::ValidationErrors;
use serde::Deserialize;

/// The query of a table page, as sent.
#[derive(Debug, Default, Deserialize)]
pub struct TableQuery {
    pub q: Option<String>,
    pub state: Option<String>,
    pub sort: Option<String>,
    pub limit: Option<String>,
    pub offset: Option<String>,
    /// The accounts list's end-of-life window in days (`30`, `60`, `90`).
    pub eol_within: Option<String>,
    /// The accounts list's "without an enabled owner" (`1`).
    pub orphaned: Option<String>,
    /// The audit log's filters: the actor's email address, the action, the object's type and
    /// id, and the first and last day (`YYYY-MM-DD`).
    pub actor: Option<String>,
    pub action: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
}

/// The rows-per-page a table offers.
pub const PAGE_SIZES: [u32; 3] = [25, 50, 100];

/// A table's parsed state and where it lives.
#[derive(Debug, Clone)]
pub struct Table {
    pub base: String,
    pub page: PageRequest,
    /// The text filter (trimmed; empty when none).
    pub q: String,
    /// The state filter (empty when none); the page checks it against its states.
    pub state: String,
    /// Filters of one page beyond `q` and `state` (name, value), kept in every link.
    pub extras: Vec<(&'static str, String)>,
    /// Rows matching the filter.
    pub total: u64,
    /// Rows on this page.
    pub shown: u64,
}

fn number<T: std::str::FromStr>(
    errors: &mut ValidationErrors,
    field: &str,
    text: Option<&str>,
) -> Option<T> {
    let text = text.map(str::trim).filter(|t| !t.is_empty())?;
    match text.parse() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.push(alm_core::FieldError::new(
                field,
                "format",
                format!("{field} must be a whole number, not {text:?}"),
            ));
            None
        }
    }
}

impl Table {
    /// Parses the query against the table's sort keys (the first is the default unless
    /// `default_sort` names another, e.g. `-updated_at`).
    pub fn parse(
        base: impl Into<String>,
        query: &TableQuery,
        sort_keys: &[&'static str],
        default_sort: &str,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let limit = number::<u32>(&mut errors, "limit", query.limit.as_deref());
        let offset = number::<u64>(&mut errors, "offset", query.offset.as_deref());
        let sort = query
            .sort
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(default_sort);
        errors.clone().into_result()?;
        let page = PageRequest::parse(
            Some(limit.unwrap_or(PAGE_SIZES[0])),
            offset,
            Some(sort),
            sort_keys,
        )?;
        Ok(Self {
            base: base.into(),
            page,
            q: query.q.as_deref().unwrap_or("").trim().to_owned(),
            state: query.state.as_deref().unwrap_or("").trim().to_owned(),
            extras: [
                ("eol_within", &query.eol_within),
                ("orphaned", &query.orphaned),
                ("actor", &query.actor),
                ("action", &query.action),
                ("object_type", &query.object_type),
                ("object_id", &query.object_id),
                ("since", &query.since),
                ("until", &query.until),
            ]
            .into_iter()
            .filter_map(|(name, value)| {
                let value = value.as_deref().unwrap_or("").trim();
                (!value.is_empty()).then(|| (name, value.to_owned()))
            })
            .collect(),
            total: 0,
            shown: 0,
        })
    }

    /// The page's result: `total` rows match, `shown` are on this page.
    pub fn with_counts(mut self, total: u64, shown: usize) -> Self {
        self.total = total;
        self.shown = shown as u64;
        self
    }

    fn sort_param(&self) -> String {
        match self.page.direction {
            SortDirection::Ascending => self.page.sort.to_owned(),
            SortDirection::Descending => format!("-{}", self.page.sort),
        }
    }

    /// The URL with this state, changed by `changes` (`(name, value)`; an empty value drops
    /// the parameter).
    fn link(&self, changes: &[(&str, String)]) -> String {
        let mut params: Vec<(&str, String)> = vec![
            ("q", self.q.clone()),
            ("state", self.state.clone()),
            ("sort", self.sort_param()),
            ("limit", self.page.limit.to_string()),
            ("offset", self.page.offset.to_string()),
        ];
        params.extend(self.extras.iter().cloned());
        for (name, value) in changes {
            if let Some(p) = params.iter_mut().find(|(n, _)| n == name) {
                p.1 = value.clone();
            }
        }
        let mut url = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in params {
            let default_offset = name == "offset" && value == "0";
            if !value.is_empty() && !default_offset {
                url.append_pair(name, &value);
            }
        }
        format!("{}?{}", self.base, url.finish())
    }

    /// The link of a sortable header: ascending first, descending when already ascending.
    pub fn sort_link(&self, key: &str) -> String {
        let next = if self.page.sort == key && self.page.direction == SortDirection::Ascending {
            format!("-{key}")
        } else {
            key.to_owned()
        };
        self.link(&[("sort", next), ("offset", String::new())])
    }

    /// `aria-sort` of a header.
    pub fn aria_sort(&self, key: &str) -> &'static str {
        match (self.page.sort == key, self.page.direction) {
            (false, _) => "none",
            (true, SortDirection::Ascending) => "ascending",
            (true, SortDirection::Descending) => "descending",
        }
    }

    pub fn first_row(&self) -> u64 {
        if self.shown == 0 {
            0
        } else {
            self.page.offset + 1
        }
    }

    pub fn last_row(&self) -> u64 {
        self.page.offset + self.shown
    }

    pub fn previous(&self) -> Option<String> {
        (self.page.offset > 0).then(|| {
            let to = self.page.offset.saturating_sub(u64::from(self.page.limit));
            self.link(&[("offset", to.to_string())])
        })
    }

    pub fn next(&self) -> Option<String> {
        let to = self.page.offset + u64::from(self.page.limit);
        (to < self.total).then(|| self.link(&[("offset", to.to_string())]))
    }

    /// `path` with this table's filters and order but no paging: what an export of the
    /// filtered set fetches.
    pub fn filtered_link(&self, path: &str, extra: &[(&str, &str)]) -> String {
        let mut url = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [("q", self.q.as_str()), ("state", self.state.as_str())]
            .into_iter()
            .chain(self.extras.iter().map(|(n, v)| (*n, v.as_str())))
            .chain(extra.iter().copied())
        {
            if !value.is_empty() {
                url.append_pair(name, value);
            }
        }
        url.append_pair("sort", &self.sort_param());
        format!("{path}?{}", url.finish())
    }

    /// Whether any filter narrows the rows (the empty state then says so).
    pub fn filtered(&self) -> bool {
        !self.q.is_empty() || !self.state.is_empty() || !self.extras.is_empty()
    }

    /// The value of an extra filter, empty when not set.
    pub fn extra(&self, name: &str) -> &str {
        self.extras
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    pub fn sizes(&self) -> [u32; 3] {
        PAGE_SIZES
    }

    /// The sort as the filter form carries it (a hidden field), so filtering keeps it.
    pub fn sort_value(&self) -> String {
        self.sort_param()
    }

    /// Rows loaded whole (lists of a few dozen: domains, vaults, templates, webhooks…): those
    /// whose `text` contains the filter (case-insensitive), ordered by `key` for the table's
    /// sort key (ties keep the given order), cut to the page; with how many matched.
    pub fn slice<T>(
        &self,
        rows: Vec<T>,
        text: impl Fn(&T) -> String,
        key: impl Fn(&T, &str) -> String,
    ) -> (Vec<T>, u64) {
        let needle = self.q.to_lowercase();
        let mut found: Vec<(String, T)> = rows
            .into_iter()
            .filter(|r| needle.is_empty() || text(r).to_lowercase().contains(&needle))
            .map(|r| (key(&r, self.page.sort).to_lowercase(), r))
            .collect();
        found.sort_by(|a, b| match self.page.direction {
            SortDirection::Ascending => a.0.cmp(&b.0),
            SortDirection::Descending => b.0.cmp(&a.0),
        });
        let total = found.len() as u64;
        let page = found
            .into_iter()
            .skip(self.page.offset as usize)
            .take(self.page.limit as usize)
            .map(|(_, r)| r)
            .collect();
        (page, total)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_whole_list_is_filtered_sorted_and_paged_in_memory() {
        let q = super::TableQuery {
            q: Some("B".into()),
            sort: Some("-name".into()),
            limit: Some("25".into()),
            ..Default::default()
        };
        let table = super::Table::parse("/x", &q, &["name"], "name").unwrap();
        let rows = vec!["alpha", "beta", "Bravo", "abba", "gamma"];
        let (page, total) = table.slice(rows, |r| r.to_string(), |r, _| r.to_string());
        assert_eq!((page, total), (vec!["Bravo", "beta", "abba"], 3));
    }

    use super::*;

    const KEYS: &[&str] = &["created_at", "account_name", "state"];

    fn table(q: TableQuery) -> Table {
        Table::parse("/requests", &q, KEYS, "-created_at").unwrap()
    }

    #[test]
    fn the_state_round_trips_through_the_links() {
        let t = table(TableQuery {
            q: Some(" web ".into()),
            state: Some("draft".into()),
            ..Default::default()
        })
        .with_counts(60, 25);
        assert_eq!(t.q, "web");
        assert_eq!(
            t.next().as_deref(),
            Some("/requests?q=web&state=draft&sort=-created_at&limit=25&offset=25")
        );
        assert_eq!(t.previous(), None);
        assert_eq!(
            t.sort_link("account_name"),
            "/requests?q=web&state=draft&sort=account_name&limit=25"
        );
        assert_eq!(t.aria_sort("created_at"), "descending");
        assert_eq!((t.first_row(), t.last_row()), (1, 25));
    }

    #[test]
    fn extra_filters_are_kept_in_every_link() {
        let t = table(TableQuery {
            eol_within: Some("30".into()),
            orphaned: Some(" ".into()),
            ..Default::default()
        })
        .with_counts(30, 25);
        assert_eq!(t.extra("eol_within"), "30");
        assert_eq!(t.extra("orphaned"), "", "blank is not set");
        assert_eq!(
            t.next().as_deref(),
            Some("/requests?sort=-created_at&limit=25&offset=25&eol_within=30")
        );
        assert!(t.filtered());
    }

    #[test]
    fn a_sorted_header_turns_descending_and_the_last_page_has_no_next() {
        let t = table(TableQuery {
            sort: Some("account_name".into()),
            limit: Some("50".into()),
            offset: Some("50".into()),
            ..Default::default()
        })
        .with_counts(60, 10);
        assert_eq!(
            t.sort_link("account_name"),
            "/requests?sort=-account_name&limit=50"
        );
        assert_eq!(t.next(), None);
        assert_eq!(
            t.previous().as_deref(),
            Some("/requests?sort=account_name&limit=50")
        );
        assert_eq!((t.first_row(), t.last_row()), (51, 60));
    }

    #[test]
    fn bad_values_are_errors_naming_the_parameter() {
        for (q, field) in [
            (
                TableQuery {
                    limit: Some("ten".into()),
                    ..Default::default()
                },
                "limit",
            ),
            (
                TableQuery {
                    offset: Some("-1".into()),
                    ..Default::default()
                },
                "offset",
            ),
            (
                TableQuery {
                    sort: Some("password".into()),
                    ..Default::default()
                },
                "sort",
            ),
            (
                TableQuery {
                    limit: Some("0".into()),
                    ..Default::default()
                },
                "limit",
            ),
        ] {
            let e = Table::parse("/requests", &q, KEYS, "-created_at").unwrap_err();
            assert_eq!(e.0[0].field, field, "{e:?}");
        }
    }
}
