//! Deserializers that accept what people type into environment variables and TOML alike.

use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serializer};

use crate::users::login_rate::LoginRate;

#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl Scalar {
    fn into_text(self) -> String {
        match self {
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Text(s) => s,
        }
    }
}

/// Any scalar as text: a numeric-looking secret is still a string.
pub fn string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Scalar::deserialize(deserializer).map(Scalar::into_text)
}

pub fn optional_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(Option::<Scalar>::deserialize(deserializer)?
        .map(Scalar::into_text)
        .filter(|text| !text.is_empty()))
}

pub fn boolean<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    match Scalar::deserialize(deserializer)? {
        Scalar::Bool(b) => Ok(b),
        Scalar::Int(0) => Ok(false),
        Scalar::Int(1) => Ok(true),
        Scalar::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" => Ok(false),
            other => Err(de::Error::custom(format!(
                "expected a boolean, got {other:?}"
            ))),
        },
        _ => Err(de::Error::custom("expected a boolean")),
    }
}

pub mod duration {
    use super::*;

    /// Plain seconds or a humantime string (`90s`, `5m`, `1d`).
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        match Scalar::deserialize(deserializer)? {
            Scalar::Int(secs) if secs >= 0 => Ok(Duration::from_secs(secs as u64)),
            Scalar::Float(secs) if secs >= 0.0 && secs.is_finite() => {
                Ok(Duration::from_secs_f64(secs))
            }
            Scalar::Text(text) => parse(&text).map_err(de::Error::custom),
            _ => Err(de::Error::custom(
                "expected a duration such as 90s, 5m or 1d",
            )),
        }
    }

    pub fn parse(text: &str) -> Result<Duration, String> {
        let text = text.trim();
        if let Ok(secs) = text.parse::<u64>() {
            return Ok(Duration::from_secs(secs));
        }
        humantime::parse_duration(text)
            .map_err(|err| format!("{text:?} is not a duration such as 90s, 5m or 1d: {err}"))
    }

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(value.as_secs())
    }
}

pub mod comma_list {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<String>, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = Vec<String>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a comma-separated string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(text
                    .split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_owned)
                    .collect())
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(items)
            }
        }
        deserializer.deserialize_any(ListVisitor)
    }

    pub fn serialize<S: Serializer>(value: &[String], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.join(","))
    }
}

pub mod byte_size {
    use super::*;

    /// Plain bytes or a size with a unit: `64KiB`, `1MiB`, `64KB`, `512B`.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
        match Scalar::deserialize(deserializer)? {
            Scalar::Int(bytes) if bytes > 0 => Ok(bytes as usize),
            Scalar::Text(text) => parse(&text).map_err(de::Error::custom),
            _ => Err(de::Error::custom("expected a size such as 64KiB")),
        }
    }

    pub fn parse(text: &str) -> Result<usize, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let number: usize = number
            .parse()
            .map_err(|_| format!("{text:?} is not a size"))?;
        let scale = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kib" | "k" => 1024,
            "kb" => 1000,
            "mib" | "m" => 1024 * 1024,
            "mb" => 1_000_000,
            _ => return Err(format!("{text:?}: unknown unit (use B, KiB, MiB)")),
        };
        Ok(number * scale)
    }

    pub fn serialize<S: Serializer>(value: &usize, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(*value as u64)
    }
}

/// `N/DURATION` (`5/15m`), or `off` / `0`.
impl LoginRate {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") || text == "0" {
            return Ok(Self::OFF);
        }
        let (failures, window) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not a rate such as 5/15m"))?;
        let failures = failures
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not a rate such as 5/15m"))?;
        let window = duration::parse(window)?;
        Ok(Self { failures, window })
    }
}

impl<'de> Deserialize<'de> for LoginRate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = string(deserializer)?;
        LoginRate::parse(&text).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::{byte_size, duration};
    use std::time::Duration;

    #[test]
    fn durations_accept_humantime_and_plain_seconds() {
        assert_eq!(duration::parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration::parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(duration::parse("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(duration::parse("42"), Ok(Duration::from_secs(42)));
        assert!(duration::parse("soon").is_err());
    }

    #[test]
    fn sizes_accept_units() {
        assert_eq!(byte_size::parse("64KiB"), Ok(65_536));
        assert_eq!(byte_size::parse("1MiB"), Ok(1_048_576));
        assert_eq!(byte_size::parse("100"), Ok(100));
        assert!(byte_size::parse("lots").is_err());
    }
}
