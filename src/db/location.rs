//! Where a `TOKENLEDGER_DATABASE_URL` points, decided once from its scheme.

use super::StoreError;

#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    SqliteFile(String),
    SqliteMemory,
    /// The URL as libpq takes it (`postgres://` or `postgresql://`).
    Postgres(String),
    /// `mysql://` (MariaDB or MySQL), in builds with the `mysql` feature.
    #[cfg(feature = "mysql")]
    Mysql(String),
}

impl DatabaseLocation {
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        if url.starts_with("mysql://") {
            #[cfg(feature = "mysql")]
            return Ok(Self::Mysql(url.to_owned()));
            #[cfg(not(feature = "mysql"))]
            return Err(StoreError::NotBuiltWith("mysql"));
        }
        match url {
            "sqlite::memory:" | "sqlite://:memory:" => Ok(Self::SqliteMemory),
            _ => match url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
            {
                Some(path) if !path.is_empty() => Ok(Self::SqliteFile(path.to_owned())),
                _ => Err(StoreError::UnsupportedUrl(redact(url))),
            },
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }
}

/// Never prints a PostgreSQL password.
impl std::fmt::Debug for DatabaseLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SqliteFile(path) => f.debug_tuple("SqliteFile").field(path).finish(),
            Self::SqliteMemory => f.write_str("SqliteMemory"),
            Self::Postgres(url) => f.debug_tuple("Postgres").field(&redact(url)).finish(),
            #[cfg(feature = "mysql")]
            Self::Mysql(url) => f.debug_tuple("Mysql").field(&redact(url)).finish(),
        }
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_selects_the_backend() {
        assert_eq!(
            DatabaseLocation::parse("sqlite://a.db").unwrap(),
            DatabaseLocation::SqliteFile("a.db".into())
        );
        assert_eq!(
            DatabaseLocation::parse("sqlite::memory:").unwrap(),
            DatabaseLocation::SqliteMemory
        );
        assert!(
            DatabaseLocation::parse("postgresql://h/db")
                .unwrap()
                .is_postgres()
        );
        assert_eq!(
            DatabaseLocation::parse("mysql://h/db").is_ok(),
            cfg!(feature = "mysql")
        );
        assert!(DatabaseLocation::parse("sqlite://").is_err());
    }

    #[test]
    fn passwords_never_reach_a_log_line() {
        let location = DatabaseLocation::parse("postgres://app:hunter2@db:5432/tl").unwrap();
        let shown = format!("{location:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("app:***@db:5432/tl"), "{shown}");
    }
}
