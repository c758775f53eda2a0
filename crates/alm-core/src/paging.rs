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
}
