//! Paging and sorting of list endpoints: bounded page sizes and sort keys from an allow-list.

use crate::validation::{FieldError, ValidationErrors};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;
/// Offsets travel to SQL as signed 64-bit integers.
pub const MAX_OFFSET: u64 = i64::MAX as u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortDirection {
    Ascending,
    Descending,
}

/// A validated page request: which slice, ordered by which allowed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub offset: u64,
    /// One of the keys the list allowed; the store maps it to a column.
    pub sort: &'static str,
    pub direction: SortDirection,
}

impl PageRequest {
    /// Parses `limit`, `offset` and `sort` (`name` or `-name` for descending) against the
    /// list's allowed sort keys; the first allowed key is the default.
    pub fn parse(
        limit: Option<u32>,
        offset: Option<u64>,
        sort: Option<&str>,
        allowed: &[&'static str],
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            errors.push(FieldError::new(
                "limit",
                "range",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let offset = offset.unwrap_or(0);
        if offset > MAX_OFFSET {
            errors.push(FieldError::new(
                "offset",
                "range",
                format!("must be between 0 and {MAX_OFFSET}"),
            ));
        }
        let (direction, key) = match sort {
            Some(s) if s.starts_with('-') => (SortDirection::Descending, &s[1..]),
            Some(s) => (SortDirection::Ascending, s),
            None => (SortDirection::Ascending, allowed[0]),
        };
        let sort = allowed.iter().copied().find(|k| *k == key);
        if sort.is_none() {
            errors.push(FieldError::new(
                "sort",
                "one-of",
                format!(
                    "must be one of {} (prefix with - for descending)",
                    allowed.join(", ")
                ),
            ));
        }
        errors.into_result()?;
        Ok(Self {
            limit,
            offset,
            sort: sort.unwrap_or(allowed[0]),
            direction,
        })
    }
}

impl PageRequest {
    /// Cuts this page from a whole list already in memory, for lists bounded by what
    /// administrators configure (domains, vaults, pools, templates, …) or by a filter the
    /// database cannot express: ordered by `order` for the page's key (`order` should end in
    /// a unique tie-break so pages never overlap), reversed when descending, then sliced.
    /// Returns the page and how many items there are over all pages.
    pub fn slice<T>(
        &self,
        mut items: Vec<T>,
        order: impl Fn(&str, &T, &T) -> std::cmp::Ordering,
    ) -> (Vec<T>, u64) {
        items.sort_by(|a, b| {
            let o = order(self.sort, a, b);
            match self.direction {
                SortDirection::Ascending => o,
                SortDirection::Descending => o.reverse(),
            }
        });
        let total = items.len() as u64;
        let start = usize::try_from(self.offset).unwrap_or(usize::MAX);
        let page = items
            .into_iter()
            .skip(start)
            .take(self.limit as usize)
            .collect();
        (page, total)
    }
}

/// Whether any of `texts` contains the search text `q`, case-insensitively (no `q`: all do).
pub fn matches(q: Option<&str>, texts: &[&str]) -> bool {
    match q {
        None => true,
        Some(q) => {
            let q = q.to_lowercase();
            texts.iter().any(|t| t.to_lowercase().contains(&q))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_defaults_and_descending_sort() {
        let p = PageRequest::parse(None, None, None, &["name", "created"]).unwrap();
        assert_eq!(
            (p.limit, p.offset, p.sort, p.direction),
            (50, 0, "name", SortDirection::Ascending)
        );
        let p =
            PageRequest::parse(Some(10), Some(20), Some("-created"), &["name", "created"]).unwrap();
        assert_eq!(
            (p.limit, p.offset, p.sort, p.direction),
            (10, 20, "created", SortDirection::Descending)
        );
    }

    #[test]
    fn refuses_unknown_sort_keys_and_bad_limits() {
        let e = PageRequest::parse(Some(0), None, Some("password"), &["name"]).unwrap_err();
        let fields: Vec<_> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["limit", "sort"]);
        assert!(PageRequest::parse(Some(501), None, None, &["name"]).is_err());
        let e = PageRequest::parse(None, Some(1 << 63), None, &["name"]).unwrap_err();
        assert_eq!(e.0[0].field, "offset");
        assert!(PageRequest::parse(None, Some(MAX_OFFSET), None, &["name"]).is_ok());
    }

    #[test]
    fn slices_a_list_in_memory_in_either_direction() {
        let items = vec![("b", 2), ("a", 3), ("c", 1)];
        let order = |key: &str, x: &(&str, i32), y: &(&str, i32)| match key {
            "n" => x.1.cmp(&y.1),
            _ => x.0.cmp(y.0),
        };
        let p = PageRequest::parse(Some(2), None, None, &["name", "n"]).unwrap();
        assert_eq!(p.slice(items.clone(), order), (vec![("a", 3), ("b", 2)], 3));
        let p = PageRequest::parse(Some(2), Some(1), Some("-n"), &["name", "n"]).unwrap();
        assert_eq!(p.slice(items.clone(), order), (vec![("b", 2), ("c", 1)], 3));
        let p = PageRequest::parse(Some(5), Some(9), None, &["name"]).unwrap();
        assert_eq!(p.slice(items, order), (vec![], 3));
    }

    #[test]
    fn matches_is_a_case_insensitive_substring_of_any_text() {
        assert!(matches(None, &["x"]));
        assert!(matches(Some("WEB"), &["other", "the web shop"]));
        assert!(!matches(Some("crm"), &["web", "shop"]));
    }
}
