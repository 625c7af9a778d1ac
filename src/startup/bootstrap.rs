//! The first staff user of an empty database (contract section 2).

use rand::RngCore;

use super::StartupError;
use crate::config::{ConfigError, Settings};
use crate::db::StoreError;
use crate::tokens::TokenService;
use crate::users::{self, NewUser};

/// With no users at all, creates the bootstrap staff user (contract section 2).
pub fn bootstrap_admin(tokens: &TokenService, settings: &Settings) -> Result<(), StartupError> {
    let mut conn = tokens.ledger().pool().get().map_err(StoreError::from)?;
    if users::count(&mut conn)? > 0 {
        return Ok(());
    }
    let (username, password, generated) = match &settings.bootstrap_admin {
        Some(pair) => match pair.expose().split_once(':') {
            Some((user, password)) if !user.is_empty() && !password.is_empty() => {
                (user.to_owned(), password.to_owned(), false)
            }
            _ => {
                return Err(ConfigError::Invalid(
                    "bootstrap_admin must be USERNAME:PASSWORD".into(),
                )
                .into());
            }
        },
        None => {
            let mut bytes = [0u8; 18];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            ("admin".to_owned(), hex::encode(bytes), true)
        }
    };
    let user = users::create(
        &mut conn,
        NewUser {
            username: &username,
            email: None,
            password: &password,
            is_staff: true,
        },
    )?;
    tracing::info!(user_id = user.id, username = %user.username, "created the bootstrap staff user");
    if generated {
        // Shown once, on the terminal only: never through the log pipeline.
        eprintln!(
            "Created staff user \"admin\" with password: {password}\n\
             It is not shown again; change it with `tokenledger user set-password admin`."
        );
    }
    Ok(())
}
