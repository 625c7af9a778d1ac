//! The CLI of contract section 1, run as a separate process on the app's database.

use serde_json::json;

use crate::helpers::*;

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[actix_web::test]
async fn user_create_prints_the_id_and_refuses_a_taken_name() {
    let app = spawn_app().await;
    let created = app.cli(
        &["user", "create", "bob", "--staff", "--password-stdin"],
        Some("bob's password\n"),
    );
    assert!(created.status.success());
    let id: i64 = stdout(&created)
        .trim()
        .parse()
        .expect("the id alone on a line");
    let (_, access) = app.login("bob", "bob's password").await;
    let me = body(app.me_with(&access).await).await;
    assert_eq!(me, json!({"id": id, "username": "bob", "is_staff": true}));

    let again = app.cli(&["user", "create", "bob", "--password-stdin"], Some("x\n"));
    assert_eq!(again.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(stderr.lines().count(), 1, "one clear sentence: {stderr}");
}

#[actix_web::test]
async fn set_password_changes_the_login_and_revokes_every_token() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, _) = app.login(ALICE.0, ALICE.1).await;
    assert!(
        app.cli(
            &["user", "set-password", ALICE.0, "--password-stdin"],
            Some("brand new\n")
        )
        .status
        .success()
    );
    assert_eq!(
        app.post_json(
            "/api/token/",
            json!({"username": ALICE.0, "password": ALICE.1})
        )
        .await
        .status(),
        401
    );
    app.login(ALICE.0, "brand new").await;
    assert_eq!(app.refresh(&refresh).await.status(), 401);
    app.assert_view_matches_ledger();
}

#[actix_web::test]
async fn deactivate_revokes_and_activate_lets_the_user_back_in() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (refresh, _) = app.login(ALICE.0, ALICE.1).await;
    assert!(
        app.cli(&["user", "deactivate", ALICE.0], None)
            .status
            .success()
    );
    assert_eq!(app.refresh(&refresh).await.status(), 401);
    assert_eq!(
        app.post_json(
            "/api/token/",
            json!({"username": ALICE.0, "password": ALICE.1})
        )
        .await
        .status(),
        401
    );
    assert!(
        app.cli(&["user", "activate", ALICE.0], None)
            .status
            .success()
    );
    app.login(ALICE.0, ALICE.1).await;
}

#[actix_web::test]
async fn usage_errors_exit_2_and_failures_exit_1() {
    let app = spawn_app().await;
    assert_eq!(app.cli(&["no-such-command"], None).status.code(), Some(2));
    assert_eq!(
        app.cli(&["user", "deactivate", "nobody"], None)
            .status
            .code(),
        Some(1)
    );
    assert_eq!(app.cli(&["migrate"], None).status.code(), Some(0));
}

#[actix_web::test]
async fn a_bad_configuration_is_one_sentence_and_exit_1() {
    let app = spawn_app().await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tokenledger"))
        .args(["migrate"])
        .env("TOKENLEDGER_DATABASE_URL", &app.settings.database_url)
        .env("TOKENLEDGER_ACCESS_TOKEN_LIFETIME", "soon")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr).to_ascii_lowercase();
    assert!(
        stderr.contains("access_token_lifetime") && stderr.lines().count() == 1,
        "{stderr}"
    );
}

#[actix_web::test]
async fn a_config_file_is_read_and_the_environment_wins() {
    let app = spawn_app().await;
    let file = app.dir.path().join("tokenledger.toml");
    std::fs::write(&file, "access_token_lifetime = \"90s\"\nlog = \"warn\"\n").unwrap();
    let mut settings = tokenledger::config::Settings::load(Some(&file)).unwrap();
    assert_eq!(settings.access_token_lifetime.as_secs(), 90);
    settings.leeway = std::time::Duration::ZERO;
    assert_eq!(settings.log, "warn");
}
