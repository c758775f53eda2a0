//! Typed identifiers, so a user id can never be passed where a role id is expected.
//!
//! Ids are UUIDv7 (time-ordered, so indexes stay compact) and travel as their hyphenated text.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// A UUIDv7 for the instant `at` (from the injected clock, never the wall clock).
pub fn uuid_v7_at(at: time::OffsetDateTime) -> Uuid {
    let nanos = at.unix_timestamp_nanos().max(0);
    let secs = (nanos / 1_000_000_000) as u64;
    let subsec = (nanos % 1_000_000_000) as u32;
    Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, secs, subsec))
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh id. Uses UUIDv7 so ids sort by creation time.
            pub fn new_v7(at: time::OffsetDateTime) -> Self {
                Self(uuid_v7_at(at))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

typed_id!(
    /// A person or automation identity known to alm.
    UserId
);
typed_id!(
    /// An alm group (not a directory group).
    GroupId
);
typed_id!(
    /// A role: a named set of permissions.
    RoleId
);
typed_id!(
    /// An API token (the id, never the secret).
    TokenId
);
typed_id!(
    /// A login session (the id, never the cookie value).
    SessionId
);
typed_id!(
    /// A directory domain alm connects to.
    DomainId
);
typed_id!(
    /// A vault alm keeps credentials in.
    VaultId
);
typed_id!(
    /// A pool of engines serving domains and vaults.
    PoolId
);
typed_id!(
    /// An engine (in-process or remote).
    EngineId
);
typed_id!(
    /// A job in the engine queue.
    JobId
);

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn ids_sort_by_creation_time_and_round_trip_as_text() {
        let a = UserId::new_v7(datetime!(2026-01-01 00:00 UTC));
        let b = UserId::new_v7(datetime!(2026-01-01 00:00:01 UTC));
        assert!(a < b);
        assert_eq!(a.to_string().parse::<UserId>().unwrap(), a);
        assert!("not-a-uuid".parse::<UserId>().is_err());
    }
}
