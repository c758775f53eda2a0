//! The permission matrix of SPEC §2.3 as a grid: features down, rights across. Read-only on a
//! user's page (their effective permissions) and a role's page; tick boxes in the role form,
//! each named `permissions` with the value `feature:right`, so the form sends exactly the
//! ticked ones.

use alm_core::permissions::{Feature, Permission, Right};

/// One cell: the permission it stands for and whether it is held.
#[derive(Debug, Clone)]
pub struct Cell {
    pub value: String,
    /// The tick box's id (`perm-audit-read`).
    pub id: String,
    pub held: bool,
}

/// One feature's row.
#[derive(Debug, Clone)]
pub struct Row {
    pub feature: String,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone)]
pub struct Grid {
    pub rights: Vec<&'static str>,
    pub rows: Vec<Row>,
    /// Tick boxes instead of marks.
    pub editable: bool,
}

/// A feature as people read it: "API token", "SIEM", "Managed account".
pub fn feature_label(f: Feature) -> String {
    super::label(f.as_str())
        .replace("Api ", "API ")
        .replace("Siem", "SIEM")
}

/// The grid of every feature and right, marking those in `held`.
pub fn grid(held: &[Permission], editable: bool) -> Grid {
    Grid {
        rights: Right::ALL.iter().map(|r| r.as_str()).collect(),
        rows: Feature::ALL
            .iter()
            .map(|f| Row {
                feature: feature_label(*f),
                cells: Right::ALL
                    .iter()
                    .map(|r| {
                        let p = Permission::new(*f, *r);
                        Cell {
                            value: p.to_string(),
                            id: format!("perm-{}-{}", f.as_str(), r.as_str()),
                            held: held.contains(&p),
                        }
                    })
                    .collect(),
            })
            .collect(),
        editable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acronyms_read_as_acronyms() {
        assert_eq!(feature_label(Feature::ApiToken), "API token");
        assert_eq!(feature_label(Feature::Siem), "SIEM");
        assert_eq!(feature_label(Feature::ApiClient), "API client");
        assert_eq!(feature_label(Feature::ManagedAccount), "Managed account");
    }

    #[test]
    fn every_feature_and_right_has_a_cell_and_only_held_ones_are_marked() {
        let read = Permission::new(Feature::Audit, Right::Read);
        let g = grid(&[read], false);
        assert_eq!(g.rows.len(), Feature::ALL.len());
        assert!(g.rows.iter().all(|r| r.cells.len() == Right::ALL.len()));
        let held: Vec<_> = g
            .rows
            .iter()
            .flat_map(|r| r.cells.iter())
            .filter(|c| c.held)
            .map(|c| c.value.as_str())
            .collect();
        assert_eq!(held, ["audit:read"]);
    }
}
