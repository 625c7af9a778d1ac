//! Test harness: every test gets its own server on port 0 with its own database: a SQLite
//! file, or, when `TOKENLEDGER_TEST_POSTGRES` (or `TOKENLEDGER_TEST_MYSQL`) names a database
//! server, a fresh database on it.

use std::process::{Command, Output};
use std::sync::Arc;

use diesel::RunQueryDsl;

use jsonwebtoken::{EncodingKey, Header};
use reqwest::{Client, Response};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokenledger::config::{Secret, Settings};
use tokenledger::db::{DatabaseLocation, DbConn};
use tokenledger::startup::Application;
use tokenledger::users::{self, NewUser};

pub const SIGNING_KEY: &str = "integration-test-signing-key-of-32-bytes-or-more";
pub const ADMIN: (&str, &str) = ("admin", "admin-password");
pub const ALICE: (&str, &str) = ("alice", "correct horse battery staple");

pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub settings: Settings,
    /// Scratch files, and the SQLite database file; alive for the test's duration.
    pub dir: Arc<TempDir>,
    /// The PostgreSQL database, dropped with the last server on it.
    pub database: Option<Arc<ServerDatabase>>,
}

/// Where the whole suite runs on PostgreSQL: an admin URL such as
/// `postgres://postgres@127.0.0.1:5432/postgres`.
pub const POSTGRES_VARIABLE: &str = "TOKENLEDGER_TEST_POSTGRES";
/// Where it runs on MariaDB/MySQL (a build with `--features mysql`): an admin URL such as
/// `mysql://root@127.0.0.1:3306/mysql`.
pub const MYSQL_VARIABLE: &str = "TOKENLEDGER_TEST_MYSQL";

fn configured(variable: &str) -> Option<String> {
    std::env::var(variable).ok().filter(|url| !url.is_empty())
}

pub fn on_postgres() -> bool {
    configured(POSTGRES_VARIABLE).is_some()
}

/// The database server the suite runs against, if not SQLite.
pub fn server_admin_url() -> Option<String> {
    configured(POSTGRES_VARIABLE).or_else(|| configured(MYSQL_VARIABLE))
}

/// A database of its own for one test, created on the server the admin URL names and
/// dropped (with any connection still open to it) when the test ends.
pub struct ServerDatabase {
    pub admin_url: String,
    pub name: String,
    pub url: String,
}

fn admin_connection(admin_url: &str) -> DbConn {
    let location = DatabaseLocation::parse(admin_url).expect("a postgres:// or mysql:// URL");
    DbConn::establish_at(&location).expect("the test database server")
}

impl ServerDatabase {
    pub fn create(admin_url: &str) -> Self {
        let name = format!("tokenledger_test_{}", uuid::Uuid::new_v4().simple());
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin_connection(admin_url))
            .expect("a test database");
        let (server, _) = admin_url
            .rsplit_once('/')
            .expect("an admin URL ending in /DATABASE");
        Self {
            admin_url: admin_url.to_owned(),
            url: format!("{server}/{name}"),
            name,
        }
    }

    fn is_postgres(&self) -> bool {
        !self.admin_url.starts_with("mysql:")
    }
}

impl Drop for ServerDatabase {
    fn drop(&mut self) {
        let force = if self.is_postgres() {
            " WITH (FORCE)"
        } else {
            ""
        };
        if let Ok(location) = DatabaseLocation::parse(&self.admin_url)
            && let Ok(mut admin) = DbConn::establish_at(&location)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {}{force}", self.name))
                .execute(&mut admin);
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = server_admin_url().map(|admin| Arc::new(ServerDatabase::create(&admin)));
    let database_url = match &database {
        Some(database) => database.url.clone(),
        None => format!("sqlite://{}", dir.path().join("tokenledger.db").display()),
    };
    let mut settings = Settings {
        database_url,
        bind: "127.0.0.1:0".into(),
        signing_key: Some(Secret::new(SIGNING_KEY)),
        bootstrap_admin: Some(Secret::new(format!("{}:{}", ADMIN.0, ADMIN.1))),
        ..Settings::default()
    };
    configure(&mut settings);
    start(settings, Arc::new(dir), database)
}

fn start(settings: Settings, dir: Arc<TempDir>, database: Option<Arc<ServerDatabase>>) -> TestApp {
    let app = Application::build(settings.clone()).expect("the application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: Client::new(),
        settings,
        dir,
        database,
    }
}

impl TestApp {
    /// A second server on the same database (a restart, or another instance).
    pub fn restart(self) -> TestApp {
        let TestApp {
            settings,
            dir,
            database,
            ..
        } = self;
        start(settings, dir, database)
    }

    /// Another instance on the same database, this one still serving.
    pub fn another_instance(&self) -> TestApp {
        start(
            self.settings.clone(),
            self.dir.clone(),
            self.database.clone(),
        )
    }

    /// A server on the same database with changed settings (a redeploy).
    pub fn restart_with(self, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let TestApp {
            mut settings,
            dir,
            database,
            ..
        } = self;
        configure(&mut settings);
        start(settings, dir, database)
    }

    pub fn create_user(&self, username: &str, password: &str) -> i64 {
        let pool = tokenledger::db::connect(&self.settings.database_url).expect("db");
        let mut conn = pool.get().expect("connection");
        users::create(
            &mut conn,
            NewUser {
                username,
                email: None,
                password,
                is_staff: false,
            },
        )
        .expect("user created")
        .id
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Response {
        self.client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<Vec<u8>>,
    ) -> Response {
        let mut request = self.client.post(self.url(path)).body(body.into());
        if let Some(content_type) = content_type {
            request = request.header("Content-Type", content_type);
        }
        request.send().await.expect("request")
    }

    pub async fn get_me(&self, authorization: Option<&str>) -> Response {
        let mut request = self.client.get(self.url("/api/me/"));
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        request.send().await.expect("request")
    }

    pub async fn me_with(&self, access: &str) -> Response {
        self.get_me(Some(&format!("Bearer {access}"))).await
    }

    /// Logs in and returns (refresh, access).
    pub async fn login(&self, username: &str, password: &str) -> (String, String) {
        let response = self
            .post_json(
                "/api/token/",
                json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(response.status(), 200, "login of {username}");
        let body: Value = response.json().await.expect("json");
        (
            body["refresh"].as_str().unwrap().to_owned(),
            body["access"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn obtain_sliding(&self, username: &str, password: &str) -> String {
        let response = self
            .post_json(
                "/api/token/sliding/",
                json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(response.status(), 200, "sliding login of {username}");
        body(response).await["token"]
            .as_str()
            .expect("a token")
            .to_owned()
    }

    pub async fn refresh(&self, refresh: &str) -> Response {
        self.post_json("/api/token/refresh/", json!({"refresh": refresh}))
            .await
    }

    /// Runs the CLI against this app's database and configuration.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut command = Command::new(env!("CARGO_BIN_EXE_tokenledger"));
        command
            .args(args)
            .env("TOKENLEDGER_DATABASE_URL", &self.settings.database_url)
            .env("TOKENLEDGER_SIGNING_KEY", SIGNING_KEY)
            .env("TOKENLEDGER_LOG", "warn")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().expect("the CLI runs");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().expect("the CLI finishes")
    }

    /// `tokenledger view check` passes.
    pub fn assert_view_matches_ledger(&self) {
        let output = self.cli(&["view", "check"], None);
        assert!(
            output.status.success(),
            "view check failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// A well-formed token of `token_type` for `user_id` that the service did not issue.
pub fn crafted_claims(token_type: &str, user_id: i64) -> Value {
    json!({
        "token_type": token_type, "exp": now() + 300, "iat": now(),
        "jti": tokenledger::tokens::claims::new_id(), "user_id": user_id.to_string(),
    })
}

pub fn without(mut claims: Value, claim: &str) -> Value {
    claims.as_object_mut().expect("an object").remove(claim);
    claims
}

/// The 401 body of a refused token on the token endpoints.
pub fn token_error(message: &str) -> String {
    format!(r#"{{"detail":"{message}","code":"token_not_valid"}}"#)
}

/// Signs arbitrary claims with the test key, to craft tokens the service did not issue.
pub fn sign(claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SIGNING_KEY.as_bytes()),
    )
    .expect("signed")
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The payload of a JWT, without verifying it.
pub fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("json payload")
}

pub async fn body(response: Response) -> Value {
    response.json().await.expect("a JSON body")
}

/// Asserts status and exact JSON body (key order included, as the reference's bytes).
pub async fn assert_answer(response: Response, status: u16, expected: &str) {
    let actual_status = response.status().as_u16();
    let text = response.text().await.expect("body");
    assert_eq!((actual_status, text.as_str()), (status, expected));
}

/// `POST /api/token/verify/` refuses `token` as SimpleJWT does a blacklisted one.
pub async fn assert_verify_refuses_as_blacklisted(app: &TestApp, token: &str) {
    let response = app
        .post_json("/api/token/verify/", json!({ "token": token }))
        .await;
    assert_answer(
        response,
        400,
        r#"{"non_field_errors":["Token is blacklisted"]}"#,
    )
    .await;
}

/// The server's `/metrics` page.
pub async fn metrics(app: &TestApp) -> String {
    app.client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("text")
}

/// The value of one unlabelled counter on `/metrics`.
pub async fn counter(app: &TestApp, name: &str) -> i64 {
    let prefix = format!("{name} ");
    metrics(app)
        .await
        .lines()
        .find_map(|line| line.strip_prefix(prefix.as_str())?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} on /metrics"))
}

/// The server's count of the database queries it ran for requests (`/metrics`).
pub async fn db_queries(app: &TestApp) -> i64 {
    counter(app, "tokenledger_db_queries_total").await
}
