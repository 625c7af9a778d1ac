//! What the console's pages are made of: filter checks whose problems show on the page, times
//! and ids as shown, paging links, notices and selects.

use actix_web::http::StatusCode;
use chrono::{DateTime, NaiveDateTime};

use super::Fields;

/// Filters checked one by one: bad values become messages on the page, never a 500.
#[derive(Default)]
pub struct Problems(pub Vec<String>);

impl Problems {
    pub fn choice<T: std::str::FromStr>(&mut self, fields: &Fields, name: &str) -> Option<T> {
        let raw = fields.get(name)?;
        match raw.parse() {
            Ok(value) => Some(value),
            Err(_) => {
                self.0
                    .push(format!("{name}: \"{raw}\" is not a valid choice."));
                None
            }
        }
    }

    pub fn integer(&mut self, fields: &Fields, name: &str) -> Option<i64> {
        let raw = fields.get(name)?;
        match raw.parse() {
            Ok(value) => Some(value),
            Err(_) => {
                self.0.push(format!("{name}: \"{raw}\" is not an integer."));
                None
            }
        }
    }

    /// RFC 3339, or what a `datetime-local` input sends (`2026-11-30T14:22[:05]`), as UTC.
    pub fn instant(&mut self, fields: &Fields, name: &str) -> Option<NaiveDateTime> {
        let raw = fields.get(name)?;
        let parsed = DateTime::parse_from_rfc3339(raw)
            .map(|at| at.naive_utc())
            .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
            .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M"));
        match parsed {
            Ok(at) => Some(at),
            Err(_) => {
                self.0.push(format!(
                    "{name}: \"{raw}\" is not a time (use 2026-11-30T14:22 in UTC, or RFC 3339)."
                ));
                None
            }
        }
    }

    pub fn status(&self) -> StatusCode {
        if self.0.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        }
    }
}

/// A time as the console shows it: UTC, to the second.
pub fn when(at: &NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The value of a `datetime-local` input for this time.
pub fn input_time(at: &NaiveDateTime) -> String {
    at.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// The first characters of a jti or sid, enough to tell them apart on a page.
pub fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

/// A query string of the non-empty pairs, for paging links that keep the filters.
pub fn query_string(pairs: &[(&str, String)]) -> String {
    let kept: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| (*key, value.as_str()))
        .collect();
    serde_urlencoded::to_string(kept).unwrap_or_default()
}

/// Messages a redirect may ask a page to show (never text from the request itself).
pub fn notice(fields: &Fields) -> Option<&'static str> {
    Some(match fields.get("notice")? {
        "blacklisted" => "The token is blacklisted.",
        "activated" => "The user is active.",
        "deactivated" => "The user is deactivated and every token of it is revoked.",
        "revoked" => "Every token of the user is revoked.",
        "signed_out" => "You are signed out; the console's session is revoked.",
        _ => return None,
    })
}

/// A `<select>` of a filter: its options, the chosen one marked.
pub struct Select {
    pub name: &'static str,
    pub label: &'static str,
    pub options: Vec<(&'static str, bool)>,
}

impl Select {
    pub fn new(
        name: &'static str,
        label: &'static str,
        values: impl IntoIterator<Item = &'static str>,
        fields: &Fields,
    ) -> Self {
        let chosen = fields.get(name);
        Self {
            name,
            label,
            options: values
                .into_iter()
                .map(|value| (value, chosen == Some(value)))
                .collect(),
        }
    }
}
