//! Moving from SimpleJWT: a real Django + djangorestframework-simplejwt 5.5.1 database
//! (`tests/fixtures/django`, its `seed` command issuing tokens the way SimpleJWT's views do),
//! imported with `tokenledger import simplejwt`, then used over HTTP. The Django side needs
//! python3 with venv and pip and PyPI (`tests/fixtures/django/setup.sh` builds the venv once
//! in target/django-venv), or `TOKENLEDGER_TEST_DJANGO_PYTHON` naming a python that has the
//! packages of its requirements.txt. Without them the test fails: it never skips.

use std::path::{Path, PathBuf};
use std::process::Command;

use diesel::prelude::*;
use serde_json::{Value, json};
use tokenledger::db::schema::{token_ledger, users};
use tokenledger::ledger::{TokenState, view};

use crate::helpers::*;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/django");

fn django_python() -> PathBuf {
    if let Ok(python) = std::env::var("TOKENLEDGER_TEST_DJANGO_PYTHON")
        && !python.is_empty()
    {
        return python.into();
    }
    let output = Command::new("bash")
        .arg(Path::new(FIXTURE).join("setup.sh"))
        .output()
        .expect("bash runs tests/fixtures/django/setup.sh");
    assert!(
        output.status.success(),
        "the Django venv could not be set up (needs python3 with venv and pip, and PyPI):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// Runs `manage.py` of the fixture project on the Django database `url`.
fn manage(url: &str, args: &[&str]) -> String {
    let output = Command::new(django_python())
        .arg(Path::new(FIXTURE).join("manage.py"))
        .args(args)
        .current_dir(FIXTURE)
        .env("DJANGO_DATABASE_URL", url)
        .env("DJANGO_SIGNING_KEY", SIGNING_KEY)
        .env("PYTHONWARNINGS", "ignore")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("the Django project runs");
    assert!(
        output.status.success(),
        "manage.py {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A migrated Django database at `url`, seeded: what `seed` printed.
fn seeded(url: &str) -> Value {
    manage(url, &["migrate", "-v0"]);
    serde_json::from_str(&manage(url, &["seed"])).expect("seed prints JSON")
}

fn conn(app: &TestApp) -> tokenledger::db::PooledConn {
    tokenledger::db::connect(&app.settings.database_url)
        .expect("the app's database")
        .get()
        .expect("a connection")
}

fn ledger_events(app: &TestApp) -> i64 {
    token_ledger::table
        .count()
        .get_result(&mut *conn(app))
        .expect("count")
}

fn user_count(app: &TestApp) -> i64 {
    users::table
        .count()
        .get_result(&mut *conn(app))
        .expect("count")
}

fn stored_hash(app: &TestApp, id: i64) -> String {
    users::table
        .find(id)
        .select(users::password_hash)
        .first(&mut *conn(app))
        .expect("the user")
}

fn import(app: &TestApp, from: &str, extra: &[&str]) -> String {
    let mut args = vec!["import", "simplejwt", "--from", from];
    args.extend_from_slice(extra);
    let output = app.cli(&args, None);
    assert!(
        output.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn token<'a>(seed: &'a Value, name: &str) -> &'a str {
    seed["tokens"][name].as_str().expect("a token")
}

fn jti(token: &str) -> String {
    claims_of(token)["jti"].as_str().expect("a jti").to_owned()
}

async fn refresh_status(app: &TestApp, refresh: &str) -> (u16, Value) {
    let response = app.refresh(refresh).await;
    (response.status().as_u16(), body(response).await)
}

/// Everything the issue asks. The Django database is on the suite's PostgreSQL server when it
/// runs on one (`TOKENLEDGER_TEST_POSTGRES`, Django through psycopg), else a SQLite file; the
/// tokenledger side runs on whichever backend the suite runs on.
#[actix_web::test]
async fn import_simplejwt_moves_users_and_tokens_without_logging_anyone_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    let postgres = std::env::var(POSTGRES_VARIABLE)
        .ok()
        .filter(|url| !url.is_empty())
        .map(|admin| ServerDatabase::create(&admin));
    let django_url = match &postgres {
        Some(database) => database.url.clone(),
        None => format!("sqlite://{}", dir.path().join("django.sqlite3").display()),
    };
    let seed = seeded(&django_url);
    the_import_keeps_everyone_logged_in(&django_url, &seed).await;
}

async fn the_import_keeps_everyone_logged_in(django_url: &str, seed: &Value) {
    let app = spawn_app().await;
    let password = seed["password"].as_str().expect("the password");
    let users_before = user_count(&app);

    // A dry run tells what it would do and writes nothing.
    let dry = import(&app, django_url, &["--dry-run"]);
    assert!(dry.contains("dry run"), "{dry}");
    assert!(dry.contains("users: 5 created, 0 already present"), "{dry}");
    assert!(
        dry.contains("would import 6 outstanding and 3 blacklisted"),
        "{dry}"
    );
    assert_eq!(ledger_events(&app), 0);
    assert_eq!(user_count(&app), users_before);

    let imported = import(&app, django_url, &[]);
    assert!(
        imported.contains("users: 5 created, 0 already present"),
        "{imported}"
    );
    // 4 live refresh tokens, the rotation's successor and a sliding token; the logged-out,
    // the rotated and a sliding token blacklisted; 2 expired and one of a deleted user left.
    assert!(
        imported.contains("12 read; imported 6 outstanding and 3 blacklisted"),
        "{imported}"
    );
    assert!(
        imported.contains("2 expired, 1 without a user; 12 ledger events"),
        "{imported}"
    );
    assert_eq!(ledger_events(&app), 12);
    app.assert_view_matches_ledger();

    // Users keep their ids, names, emails, flags and times.
    for expected in seed["users"].as_array().expect("users") {
        let id = expected["id"].as_i64().expect("an id");
        let user = tokenledger::users::find(&mut conn(&app), id)
            .expect("query")
            .expect("the imported user");
        assert_eq!(user.username, expected["username"].as_str().unwrap());
        let email = expected["email"].as_str().unwrap();
        assert_eq!(user.email.as_deref(), Some(email).filter(|e| !e.is_empty()));
        assert_eq!(user.is_staff, expected["is_staff"].as_bool().unwrap());
        assert_eq!(user.is_active, expected["is_active"].as_bool().unwrap());
        assert_eq!(
            user.last_login.map(|t| t.and_utc().timestamp()),
            expected["last_login"].as_i64()
        );
        assert_eq!(
            user.date_joined.and_utc().timestamp(),
            expected["date_joined"].as_i64().unwrap()
        );
    }

    // An access token Django issued works on /api/me/ until it expires, as it did there.
    let me = app.me_with(token(seed, "access")).await;
    assert_eq!(me.status(), 200);
    assert_eq!(
        body(me).await,
        json!({"id": 101, "username": "pat", "is_staff": true})
    );

    // Django's refresh tokens refresh here; the session is the imported token's own.
    for name in ["pat", "ada", "bea"] {
        let refresh = seed["tokens"]["live_refresh"][name].as_str().unwrap();
        assert_eq!(
            claims_of(refresh)["user_id"],
            json!(claims_of(refresh)["user_id"].as_str().unwrap()),
            "SimpleJWT 5.5.1 puts user_id as a string"
        );
        let (status, answer) = refresh_status(&app, refresh).await;
        assert_eq!(status, 200, "{name}: {answer}");
        let access = answer["access"].as_str().expect("an access token");
        let sid = format!("imported-{}", jti(refresh));
        assert_eq!(claims_of(access)["sid"], json!(sid));
        assert_eq!(
            claims_of(answer["refresh"].as_str().unwrap())["sid"],
            json!(sid)
        );
        assert_eq!(app.me_with(access).await.status(), 200);
        // Rotated here, so presenting it again is refused.
        let (status, _) = refresh_status(&app, refresh).await;
        assert_eq!(status, 401);
    }
    // The successor of a rotation done in Django refreshes; what Django blacklisted does not.
    assert_eq!(refresh_status(&app, token(seed, "successor")).await.0, 200);
    for blacklisted in ["rotated", "logged_out"] {
        assert_answer(
            app.refresh(token(seed, blacklisted)).await,
            401,
            &token_error("Token is blacklisted"),
        )
        .await;
    }
    // An inactive account's token stays refused.
    let inactive = seed["tokens"]["live_refresh"]["ina"].as_str().unwrap();
    assert_eq!(refresh_status(&app, inactive).await.0, 401);

    // Expired tokens are not resurrected: not in the view, refused as expired.
    for expired in ["expired", "expired_blacklisted"] {
        let found = view::find(&mut conn(&app), &jti(token(seed, expired))).expect("query");
        assert_eq!(found, None, "{expired}");
        assert_eq!(refresh_status(&app, token(seed, expired)).await.0, 401);
    }

    // Sliding tokens came over as sliding, in their state.
    let sliding = view::find(&mut conn(&app), &jti(token(seed, "sliding")))
        .expect("query")
        .expect("the sliding token");
    assert_eq!(sliding.token_type.as_str(), "sliding");
    assert_eq!(sliding.state, TokenState::Outstanding);
    let renewed = app
        .post_json(
            "/api/token/sliding/refresh/",
            json!({"token": token(seed, "sliding")}),
        )
        .await;
    assert_eq!(renewed.status(), 200);
    assert_answer(
        app.post_json(
            "/api/token/sliding/refresh/",
            json!({"token": token(seed, "sliding_blacklisted")}),
        )
        .await,
        401,
        &token_error("Token is blacklisted"),
    )
    .await;

    // Each Django hash logs in, and is replaced by argon2id in that same login.
    for expected in seed["users"].as_array().unwrap() {
        let (id, username) = (
            expected["id"].as_i64().unwrap(),
            expected["username"].as_str().unwrap(),
        );
        if expected["password_prefix"] == "!" || expected["is_active"] == false {
            continue;
        }
        let before = stored_hash(&app, id);
        assert!(
            before.starts_with(expected["password_prefix"].as_str().unwrap()),
            "{username}"
        );
        let wrong = app
            .post_json(
                "/api/token/",
                json!({"username": username, "password": "not it"}),
            )
            .await;
        assert_eq!(wrong.status(), 401, "{username}");
        assert_eq!(
            stored_hash(&app, id),
            before,
            "a failed login changes nothing"
        );
        let (_, access) = app.login(username, password).await;
        assert_eq!(body(app.me_with(&access).await).await["id"], json!(id));
        assert!(
            stored_hash(&app, id).starts_with("$argon2id$"),
            "{username}"
        );
        app.login(username, password).await;
    }
    // An unusable Django password never logs in.
    for attempt in [password, "!", "una"] {
        let refused = app
            .post_json(
                "/api/token/",
                json!({"username": "una", "password": attempt}),
            )
            .await;
        assert_eq!(refused.status(), 401);
    }

    // Re-running imports nothing twice, and leaves the upgraded hashes alone.
    let events = ledger_events(&app);
    let again = import(&app, django_url, &[]);
    assert!(
        again.contains("users: 0 created, 5 already present"),
        "{again}"
    );
    assert!(
        again.contains(
            "imported 0 outstanding and 0 blacklisted, 0 newly blacklisted, 9 already imported"
        ),
        "{again}"
    );
    assert_eq!(ledger_events(&app), events);
    assert!(stored_hash(&app, 101).starts_with("$argon2id$"));

    // New users get ids past the imported ones.
    let created = app.cli(
        &["user", "create", "newcomer", "--password-stdin"],
        Some("pw\n"),
    );
    assert!(created.status.success());
    let id: i64 = String::from_utf8_lossy(&created.stdout)
        .trim()
        .parse()
        .expect("an id");
    assert!(id > 105, "id {id} collides with an imported one");

    app.assert_view_matches_ledger();
}

/// A tokenledger user in the way of a Django one stops the import before anything is written;
/// a bad source is one sentence and exit 1.
#[actix_web::test]
async fn import_simplejwt_refuses_collisions_and_bad_sources() {
    let dir = tempfile::tempdir().expect("temp dir");
    let django_url = format!("sqlite://{}", dir.path().join("django.sqlite3").display());
    seeded(&django_url);
    let app = spawn_app().await;
    app.create_user("ada", "someone else");
    let events = ledger_events(&app);
    let users_before = user_count(&app);
    let output = app.cli(&["import", "simplejwt", "--from", &django_url], None);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("\"ada\"") && stderr.lines().count() == 1,
        "{stderr}"
    );
    assert_eq!(
        (ledger_events(&app), user_count(&app)),
        (events, users_before)
    );

    let missing = dir.path().join("missing.sqlite3");
    let missing_url = format!("sqlite://{}", missing.display());
    for from in [
        missing_url.as_str(),
        "ftp://nowhere",
        "postgres://nobody@127.0.0.1:1/none",
    ] {
        let output = app.cli(&["import", "simplejwt", "--from", from], None);
        assert_eq!(output.status.code(), Some(1), "{from}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "one sentence: {stderr}");
    }
    assert!(!missing.exists(), "the source is never created");
}
