//! How metadata values are stored in SQLite, as `ToSql`/`FromSql` newtypes.
//!
//! - [`Id`]: a UUID as lowercase hyphenated TEXT (sorts like PostgreSQL's `uuid`).
//! - [`Micros`]: a timestamp as INTEGER microseconds since the Unix epoch, UTC, truncated the
//!   way PostgreSQL truncates (towards its 2000-01-01 epoch), so both stores give back the
//!   same instant for the same input.
//! - [`Json`]: any serde value (text arrays, settings, conditions) as JSON TEXT.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

#[derive(Debug, Clone, Copy)]
pub struct Id(pub Uuid);

impl ToSql for Id {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0.hyphenated().to_string()))
    }
}

impl FromSql for Id {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        Uuid::parse_str(text)
            .map(Id)
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

/// PostgreSQL's epoch, 2000-01-01T00:00:00Z, in Unix microseconds.
const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;
const PG_EPOCH: OffsetDateTime = time::macros::datetime!(2000-01-01 0:00 UTC);

#[derive(Debug, Clone, Copy)]
pub struct Micros(pub OffsetDateTime);

impl Micros {
    /// The stored integer.
    pub fn value(self) -> rusqlite::Result<i64> {
        i64::try_from((self.0 - PG_EPOCH).whole_microseconds())
            .ok()
            .and_then(|m| m.checked_add(PG_EPOCH_UNIX_MICROS))
            .ok_or_else(|| rusqlite::Error::ToSqlConversionFailure("timestamp out of range".into()))
    }

    /// Now, at the precision it is stored with.
    pub fn now() -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
            .unwrap_or(now)
    }
}

impl ToSql for Micros {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.value()?))
    }
}

impl FromSql for Micros {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let micros = value.as_i64()?;
        PG_EPOCH
            .checked_add(Duration::microseconds(micros - PG_EPOCH_UNIX_MICROS))
            .map(Micros)
            .ok_or(FromSqlError::OutOfRange(micros))
    }
}

#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

impl<T: Serialize> ToSql for Json<T> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        serde_json::to_string(&self.0)
            .map(ToSqlOutput::from)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
    }
}

impl<T: DeserializeOwned> FromSql for Json<T> {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        serde_json::from_str(value.as_str()?)
            .map(Json)
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

/// Nullable columns of the newtypes.
pub fn opt_id(value: Option<Uuid>) -> Option<Id> {
    value.map(Id)
}

pub fn opt_micros(value: Option<OffsetDateTime>) -> Option<Micros> {
    value.map(Micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_truncate_to_microseconds_like_postgres() {
        let t = time::macros::datetime!(2024-05-06 7:08:09.123_456_789 UTC);
        let stored = Micros(t).value().unwrap();
        assert_eq!(stored, 1_714_979_289_123_456);
        let back = Micros::column_result(ValueRef::Integer(stored)).unwrap().0;
        assert_eq!(
            back,
            time::macros::datetime!(2024-05-06 7:08:09.123_456 UTC)
        );
        // Before 2000, PostgreSQL truncates towards its epoch, i.e. upwards.
        let old = time::macros::datetime!(1999-12-31 23:59:59.000_000_5 UTC);
        let back = Micros::column_result(ValueRef::Integer(Micros(old).value().unwrap()))
            .unwrap()
            .0;
        assert_eq!(
            back,
            time::macros::datetime!(1999-12-31 23:59:59.000_001 UTC)
        );
    }
}
