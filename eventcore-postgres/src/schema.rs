//! The schema the tables live in, and the SQL text that names them.

use eventcore::{InputError, StoreError};

/// A validated PostgreSQL schema name, with its quoted form for SQL text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Schema {
    name: String,
    quoted: String,
}

impl Schema {
    /// Validates `name`: 1–63 bytes, no NUL.
    pub(crate) fn new(name: &str) -> Result<Self, StoreError> {
        if name.is_empty() {
            return Err(InputError::EmptyId {
                what: "schema name",
            }
            .into());
        }
        if name.len() > 63 {
            return Err(InputError::IdTooLong {
                what: "schema name",
                len: name.len(),
                max: 63,
            }
            .into());
        }
        if name.contains('\0') {
            return Err(InputError::NulInId {
                what: "schema name",
            }
            .into());
        }
        Ok(Self {
            name: name.to_owned(),
            quoted: format!("\"{}\"", name.replace('"', "\"\"")),
        })
    }

    /// The name as given.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The schema-qualified, quoted name of an eventcore table, e.g. `"app".eventcore_events`.
    pub(crate) fn table(&self, table: &str) -> String {
        format!("{}.{table}", self.quoted)
    }

    /// The quoted schema name.
    pub(crate) fn quoted(&self) -> &str {
        &self.quoted
    }

    /// The first half of this store's write-gate keys: every event-writing transaction takes
    /// the shared advisory lock `(gate, its backend pid)` (two-`INT` form, so it never meets a stream
    /// lock's single `BIGINT` key; one key per session, so writers never contend for it)
    /// before it gets its id. Readers bound their reads by the gate holders' ids.
    pub(crate) fn gate(&self) -> i32 {
        (fnv1a(&self.name) & 0x7fff_ffff) as i32
    }

    /// The LISTEN/NOTIFY channel of this schema's log. Channel names are limited to 63
    /// bytes, so a long schema name is replaced by a hash of it.
    pub(crate) fn channel(&self) -> String {
        let plain = format!("eventcore_events:{}", self.name);
        if plain.len() <= 63 {
            return plain;
        }
        format!("eventcore_events:{:016x}", fnv1a(&self.name))
    }
}

/// FNV-1a: stable across processes and builds, unlike std's randomly keyed hasher.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_schema_names_are_quoted_not_injected() {
        let schema = Schema::new(r#"a"; DROP TABLE x; --"#).unwrap();
        assert_eq!(
            schema.table("eventcore_events"),
            r#""a""; DROP TABLE x; --".eventcore_events"#
        );
        assert!(Schema::new("").is_err());
        assert!(Schema::new(&"s".repeat(64)).is_err());
        assert!(Schema::new("a\0b").is_err());
    }

    #[test]
    fn channel_names_fit_postgres_limit() {
        assert_eq!(
            Schema::new("shop").unwrap().channel(),
            "eventcore_events:shop"
        );
        let long = Schema::new(&"s".repeat(63)).unwrap().channel();
        assert!(long.len() <= 63, "{long}");
        assert_ne!(long, Schema::new(&"t".repeat(63)).unwrap().channel());
    }
}
