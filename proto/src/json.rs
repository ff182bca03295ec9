//! Reading proto3 JSON numbers: a field of an integer or floating-point type takes a JSON number
//! or a string holding one (`"unixMs": "1763700000000"`), as the mapping allows.
//!
//! The generated serde impls call this in place of `pbjson::private::NumberDeserialize` (see
//! `build.rs`). That one reads the value into a buffer, tries it as a string, and then as a
//! number, which builds and drops an error value (a formatted message) for every number in a
//! batch: a few percent of the ingest's CPU on JSON bodies. This one visits the value once and
//! accepts exactly what that one accepts.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::{self, Visitor};

/// A number read from a JSON number or a string.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumberDeserialize<T>(pub T);

/// The numeric types of proto3 fields. Integers take JSON integers in range (not `1.0`), as
/// serde's own impls do; floats take any JSON number.
pub trait ProtoNumber: FromStr + Sized {
    fn from_i64(value: i64) -> Option<Self>;
    fn from_u64(value: u64) -> Option<Self>;
    fn from_f64(value: f64) -> Option<Self>;
}

macro_rules! integer {
    ($($ty:ty),*) => {$(
        impl ProtoNumber for $ty {
            fn from_i64(value: i64) -> Option<Self> {
                Self::try_from(value).ok()
            }
            fn from_u64(value: u64) -> Option<Self> {
                Self::try_from(value).ok()
            }
            fn from_f64(_: f64) -> Option<Self> {
                None
            }
        }
    )*};
}
integer!(i32, u32, i64, u64);

macro_rules! float {
    ($($ty:ty),*) => {$(
        impl ProtoNumber for $ty {
            fn from_i64(value: i64) -> Option<Self> {
                Some(value as $ty)
            }
            fn from_u64(value: u64) -> Option<Self> {
                Some(value as $ty)
            }
            fn from_f64(value: f64) -> Option<Self> {
                Some(value as $ty)
            }
        }
    )*};
}
float!(f32, f64);

struct NumberVisitor<T>(PhantomData<T>);

impl<T> Visitor<'_> for NumberVisitor<T>
where
    T: ProtoNumber,
    <T as FromStr>::Err: fmt::Display,
{
    type Value = NumberDeserialize<T>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "a {} as a JSON number or a string",
            std::any::type_name::<T>()
        )
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        T::from_i64(value)
            .map(NumberDeserialize)
            .ok_or_else(|| E::invalid_value(de::Unexpected::Signed(value), &self))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        T::from_u64(value)
            .map(NumberDeserialize)
            .ok_or_else(|| E::invalid_value(de::Unexpected::Unsigned(value), &self))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        T::from_f64(value)
            .map(NumberDeserialize)
            .ok_or_else(|| E::invalid_type(de::Unexpected::Float(value), &self))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        value.parse().map(NumberDeserialize).map_err(E::custom)
    }
}

impl<'de, T> serde::Deserialize<'de> for NumberDeserialize<T>
where
    T: ProtoNumber,
    <T as FromStr>::Err: fmt::Display,
{
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NumberVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::NumberDeserialize;

    fn read<T>(json: &str) -> Result<T, String>
    where
        NumberDeserialize<T>: serde::de::DeserializeOwned,
    {
        serde_json::from_str::<NumberDeserialize<T>>(json)
            .map(|n| n.0)
            .map_err(|e| e.to_string())
    }

    /// What `pbjson::private::NumberDeserialize` accepts and refuses, value for value.
    fn same_as_pbjson<T>(json: &str)
    where
        T: std::fmt::Debug,
        NumberDeserialize<T>: serde::de::DeserializeOwned,
        pbjson::private::NumberDeserialize<T>: serde::de::DeserializeOwned,
    {
        let ours = read::<T>(json).ok();
        let theirs = serde_json::from_str::<pbjson::private::NumberDeserialize<T>>(json)
            .ok()
            .map(|n| n.0);
        // Compared as printed, so that NaN matches NaN.
        assert_eq!(
            format!("{ours:?}"),
            format!("{theirs:?}"),
            "{json} as {}",
            std::any::type_name::<T>()
        );
    }

    #[test]
    fn numbers_and_strings_read_as_pbjson_reads_them() {
        let inputs = [
            "0",
            "1",
            "-1",
            "42",
            "\"42\"",
            "\"-7\"",
            "1.5",
            "\"1.5\"",
            "1.0",
            "1e3",
            "2147483647",
            "2147483648",
            "4294967295",
            "4294967296",
            "-2147483649",
            "9223372036854775807",
            "18446744073709551615",
            "\"18446744073709551615\"",
            "\"NaN\"",
            "\"Infinity\"",
            "\"-Infinity\"",
            "\"\"",
            "\"abc\"",
            "true",
            "null",
            "[]",
            "{}",
        ];
        for json in inputs {
            same_as_pbjson::<i32>(json);
            same_as_pbjson::<u32>(json);
            same_as_pbjson::<i64>(json);
            same_as_pbjson::<u64>(json);
            same_as_pbjson::<f32>(json);
            same_as_pbjson::<f64>(json);
        }
    }

    #[test]
    fn refusals_say_what_was_expected() {
        let message = read::<u32>("-1").unwrap_err();
        assert!(message.contains("u32"), "{message}");
        let message = read::<i32>("true").unwrap_err();
        assert!(message.contains("boolean"), "{message}");
        assert_eq!(read::<i64>("\"1763700000000\""), Ok(1_763_700_000_000));
    }
}
