//! Query strings and urlencoded forms: one decoder for the API and the console. The last
//! value given for a name wins, as with Django's `QueryDict.get`; whether a value is trimmed is
//! said at each use (the API's filters take values as sent, as DRF does; the console trims what
//! a person typed).

use actix_web::HttpRequest;
use chrono::{DateTime, NaiveDateTime};
use serde_json::json;

use super::error::{ApiError, FieldErrors};

/// Pairs as sent; a query or body that does not decode counts as empty.
pub struct Pairs(Vec<(String, String)>);

impl Pairs {
    pub fn query(req: &HttpRequest) -> Self {
        Self(serde_urlencoded::from_str(req.query_string()).unwrap_or_default())
    }

    pub fn form(body: &[u8]) -> Self {
        Self(serde_urlencoded::from_bytes(body).unwrap_or_default())
    }

    fn last(&self, name: &str, present: impl Fn(&str) -> bool) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(key, value)| key == name && present(value))
            .map(|(_, value)| value.as_str())
    }

    /// The last non-empty value of `name`, as sent (DRF filters ignore only empty values).
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.last(name, |value| !value.is_empty())
    }

    /// The last non-blank value of `name`, trimmed (what a person typed into a form).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.last(name, |value| !value.trim().is_empty())
            .map(str::trim)
    }

    /// [`get`](Self::get), or empty.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_owned()
    }
}

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1_000;

/// Query parameters checked one by one, collecting every field's error as DRF does.
pub struct Params {
    pairs: Pairs,
    errors: FieldErrors,
}

impl Params {
    pub fn of(req: &HttpRequest) -> Self {
        Self {
            pairs: Pairs::query(req),
            errors: FieldErrors::new(),
        }
    }

    /// The last value given for `name`, if non-empty (DRF filters ignore empty values).
    pub fn raw(&self, name: &str) -> Option<String> {
        self.pairs.raw(name).map(str::to_owned)
    }

    fn parsed<T>(&mut self, name: &str, parse: impl Fn(&str) -> Result<T, String>) -> Option<T> {
        let raw = self.raw(name)?;
        match parse(&raw) {
            Ok(value) => Some(value),
            Err(message) => {
                self.errors.insert(name.into(), json!([message]));
                None
            }
        }
    }

    pub fn integer(&mut self, name: &str) -> Option<i64> {
        self.parsed(name, |raw| {
            raw.trim()
                .parse()
                .map_err(|_| "A valid integer is required.".to_owned())
        })
    }

    pub fn choice<T: std::str::FromStr>(&mut self, name: &str) -> Option<T> {
        self.parsed(name, |raw| {
            raw.parse()
                .map_err(|_| format!("\"{raw}\" is not a valid choice."))
        })
    }

    pub fn datetime(&mut self, name: &str) -> Option<NaiveDateTime> {
        self.parsed(name, |raw| {
            DateTime::parse_from_rfc3339(raw)
                .map(|at| at.naive_utc())
                .map_err(|_| {
                    "Datetime has wrong format. Use one of these formats instead: \
                     YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
                        .to_owned()
                })
        })
    }

    pub fn limit(&mut self) -> i64 {
        let limit = self.integer("limit").unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            self.errors.insert(
                "limit".into(),
                json!([format!("Ensure this value is between 1 and {MAX_LIMIT}.")]),
            );
        }
        limit
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Fields(self.errors))
        }
    }
}
