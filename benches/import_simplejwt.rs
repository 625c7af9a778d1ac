//! How fast `tokenledger import simplejwt` moves a SimpleJWT deployment: a Django-shaped SQLite
//! database (the tables as Django's migrations create them for `auth_user` and SimpleJWT's
//! blacklist app) with 1,000 users, 100,000 live outstanding refresh tokens and 10,000 of them
//! blacklisted, written directly with SQL, imported into a fresh tokenledger SQLite file
//! (WAL, synchronous=FULL) through the same `import::run` as the command. Then a second run,
//! which must import nothing.
//!
//! Run: `cargo bench --bench import_simplejwt`
//! (`IMPORT_BENCH_TOKENS=N` for another size; `IMPORT_BENCH_DATABASE_URL=postgres://...` to
//! import into a database server instead; it must be empty.)

use std::time::Instant;

use base64::Engine;
use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use tokenledger::db::{self, DatabaseLocation, DbConn};
use tokenledger::import::{self, Options};
use tokenledger::ledger::Ledger;
use tokenledger::tokens::claims::new_id;

const USERS: usize = 1_000;

const DJANGO_SCHEMA: &str = r#"
CREATE TABLE "auth_user" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "password" varchar(128) NOT NULL, "last_login" datetime NULL, "is_superuser" bool NOT NULL, "username" varchar(150) NOT NULL UNIQUE, "last_name" varchar(150) NOT NULL, "email" varchar(254) NOT NULL, "is_staff" bool NOT NULL, "is_active" bool NOT NULL, "date_joined" datetime NOT NULL, "first_name" varchar(150) NOT NULL);
CREATE TABLE "token_blacklist_outstandingtoken" ("token" text NOT NULL, "created_at" datetime NULL, "expires_at" datetime NOT NULL, "user_id" integer NULL REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED, "jti" varchar(255) NOT NULL UNIQUE, "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT);
CREATE INDEX "token_blacklist_outstandingtoken_user_id_83bc629a" ON "token_blacklist_outstandingtoken" ("user_id");
CREATE TABLE "token_blacklist_blacklistedtoken" ("blacklisted_at" datetime NOT NULL, "token_id" bigint NOT NULL UNIQUE REFERENCES "token_blacklist_outstandingtoken" ("id") DEFERRABLE INITIALLY DEFERRED, "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT);
"#;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn django_database(path: &str, tokens: usize) -> anyhow::Result<()> {
    let mut conn = SqliteConnection::establish(path)?;
    conn.batch_execute(DJANGO_SCHEMA)?;
    let now = chrono::Utc::now();
    let stamp = |at: chrono::DateTime<chrono::Utc>| at.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    let mut sql = String::from("BEGIN;");
    for id in 1..=USERS {
        sql.push_str(&format!(
            "INSERT INTO auth_user VALUES ({id}, 'pbkdf2_sha256$1000000$salt{id}$aGFzaA==', NULL, 0, 'user{id}', '', 'user{id}@example.com', 0, 1, '{}', '');",
            stamp(now)
        ));
    }
    conn.batch_execute(&sql)?;
    conn.batch_execute("COMMIT;")?;
    let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let exp = now + chrono::Duration::days(1);
    for chunk in (1..=tokens).collect::<Vec<_>>().chunks(5_000) {
        let mut sql = String::from("BEGIN;");
        for &id in chunk {
            let jti = new_id();
            let user = id % USERS + 1;
            let payload = format!(
                r#"{{"token_type":"refresh","exp":{},"iat":{},"jti":"{jti}","user_id":"{user}"}}"#,
                exp.timestamp(),
                now.timestamp()
            );
            let token = format!("{header}.{}.{}", b64(payload.as_bytes()), b64(&[7; 32]));
            sql.push_str(&format!(
                "INSERT INTO token_blacklist_outstandingtoken VALUES ('{token}', '{}', '{}', {user}, '{jti}', {id});",
                stamp(now),
                stamp(exp)
            ));
            if id % 10 == 0 {
                sql.push_str(&format!(
                    "INSERT INTO token_blacklist_blacklistedtoken VALUES ('{}', {id}, {});",
                    stamp(now),
                    id / 10
                ));
            }
        }
        sql.push_str("COMMIT;");
        conn.batch_execute(&sql)?;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let tokens: usize = std::env::var("IMPORT_BENCH_TOKENS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let django = dir.path().join("django.sqlite3").display().to_string();
    let started = Instant::now();
    django_database(&django, tokens)?;
    println!(
        "Django database: {USERS} users, {tokens} outstanding tokens ({} blacklisted), written in {:.1} s",
        tokens / 10,
        started.elapsed().as_secs_f64()
    );

    let target = std::env::var("IMPORT_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("tokenledger.db").display()));
    let ledger = Ledger::open(db::connect(&target)?)?;
    let mut source =
        DbConn::establish_at(&DatabaseLocation::parse(&format!("sqlite://{django}"))?)?;
    let options = Options {
        user_table: "auth_user".into(),
        dry_run: false,
    };
    for run in ["first import", "second import (nothing to do)"] {
        let started = Instant::now();
        let summary = import::run(&ledger, &mut source, &options, |_| {})?;
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{run}: {seconds:.2} s, {:.0} tokens/s",
            tokens as f64 / seconds
        );
        println!("{summary}");
    }
    Ok(())
}
