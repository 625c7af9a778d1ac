//! Which field a login names the user by (`USERNAME_FIELD`).

use serde::{Deserialize, Serialize};

/// The column a login's name is looked up in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UsernameField {
    Username,
    Email,
}

impl UsernameField {
    pub fn as_str(self) -> &'static str {
        match self {
            UsernameField::Username => "username",
            UsernameField::Email => "email",
        }
    }
}
