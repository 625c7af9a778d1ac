//! What the console's pages are made of: filter checks whose problems show on the page, times
//! and ids as shown, paging links, notices and selects.

use std::convert::Infallible;
use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest};
use chrono::{DateTime, NaiveDateTime};

use super::Fields;

/// A page's filters, from its query string (an extractor), checked one by one: bad values
/// become messages on the page, never a 500.
pub struct Filters {
    pub fields: Fields,
    problems: Vec<String>,
}

impl FromRequest for Filters {
    type Error = Infallible;
    type Future = Ready<Result<Self, Infallible>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self {
            fields: Fields::query(req),
            problems: Vec::new(),
        }))
    }
}

impl Filters {
    /// The value as typed (trimmed), or empty.
    pub fn text(&self, name: &str) -> String {
        self.fields.text(name)
    }

    /// The value as typed (trimmed), if not blank.
    pub fn given(&self, name: &str) -> Option<String> {
        self.fields.get(name).map(str::to_owned)
    }

    pub fn choice<T: std::str::FromStr>(&mut self, name: &str) -> Option<T> {
        self.parsed(name, "is not a valid choice.", |raw| raw.parse().ok())
    }

    pub fn integer(&mut self, name: &str) -> Option<i64> {
        self.parsed(name, "is not an integer.", |raw| raw.parse().ok())
    }

    /// RFC 3339, or what a `datetime-local` input sends (`2026-11-30T14:22[:05]`), as UTC.
    pub fn instant(&mut self, name: &str) -> Option<NaiveDateTime> {
        self.parsed(
            name,
            "is not a time (use 2026-11-30T14:22 in UTC, or RFC 3339).",
            |raw| {
                DateTime::parse_from_rfc3339(raw)
                    .map(|at| at.naive_utc())
                    .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
                    .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M"))
                    .ok()
            },
        )
    }

    /// `limit`: `default` when not given, and between 1 and `max`.
    pub fn limit(&mut self, default: i64, max: i64) -> i64 {
        let limit = self.integer("limit").unwrap_or(default);
        if !(1..=max).contains(&limit) {
            self.problem(format!("limit: between 1 and {max}."));
        }
        limit
    }

    fn parsed<T>(
        &mut self,
        name: &str,
        complaint: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let raw = self.fields.get(name)?;
        let value = parse(raw);
        if value.is_none() {
            self.problems.push(format!("{name}: \"{raw}\" {complaint}"));
        }
        value
    }

    /// A problem found beyond the fields' own syntax (an unknown user, say).
    pub fn problem(&mut self, message: String) {
        self.problems.push(message);
    }

    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn problems(&self) -> Vec<String> {
        self.problems.clone()
    }

    pub fn status(&self) -> StatusCode {
        if self.is_ok() {
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
