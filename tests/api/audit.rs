//! Contract section 6: the ledger query with its filters and seq paging, and the flush
//! endpoint.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

async fn ledger(app: &TestApp, token: &str, query: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/admin/ledger/?{query}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("ledger query")
}

async fn events(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let response = ledger(app, token, query).await;
    assert_eq!(response.status(), 200, "{query}");
    body(response).await["events"]
        .as_array()
        .expect("events")
        .clone()
}

/// Alice logs in twice, rotates once and logs out; returns the first session's refresh token.
async fn some_history(app: &TestApp) -> String {
    app.create_user(ALICE.0, ALICE.1);
    let (first, _) = app.login(ALICE.0, ALICE.1).await;
    let (second, _) = app.login(ALICE.0, ALICE.1).await;
    let rotated = body(app.refresh(&second).await).await;
    let logout = app
        .post_json(
            "/api/token/blacklist/",
            json!({"refresh": rotated["refresh"]}),
        )
        .await;
    assert_eq!(logout.status(), 200);
    first
}

#[actix_web::test]
async fn paging_by_seq_walks_every_event_once_oldest_first() {
    let app = spawn_app().await;
    some_history(&app).await;
    let (_, admin) = app.login(ADMIN.0, ADMIN.1).await;
    let everything = events(&app, &admin, "limit=1000").await;
    assert!(everything.len() > 10);

    let mut walked = Vec::new();
    let mut after: Option<i64> = None;
    loop {
        let query = match after {
            Some(seq) => format!("limit=3&after={seq}"),
            None => "limit=3".to_owned(),
        };
        let page = body(ledger(&app, &admin, &query).await).await;
        let page_events = page["events"].as_array().expect("events");
        assert!(page_events.len() <= 3);
        walked.extend(page_events.iter().cloned());
        match page["next"].as_i64() {
            Some(next) => {
                assert_eq!(
                    Some(next),
                    page_events.last().and_then(|e| e["seq"].as_i64())
                );
                after = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(walked, everything);
    let seqs: Vec<i64> = walked.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]));
    let fields: Vec<&String> = walked[0].as_object().unwrap().keys().collect();
    assert_eq!(
        fields,
        [
            "seq",
            "at",
            "event",
            "jti",
            "token_type",
            "user_id",
            "sid",
            "parent_jti",
            "reason",
            "actor",
            "expires_at",
            "hash"
        ]
    );
}

#[actix_web::test]
async fn every_filter_narrows_to_what_it_names() {
    let app = spawn_app().await;
    let first_refresh = some_history(&app).await;
    let first = claims_of(&first_refresh);
    let (_, admin) = app.login(ADMIN.0, ADMIN.1).await;
    let alice_id = first["user_id"].as_str().unwrap().parse::<i64>().unwrap();

    let of_alice = events(&app, &admin, &format!("user_id={alice_id}")).await;
    assert!(of_alice.iter().all(|e| e["user_id"] == alice_id));
    let all = events(&app, &admin, "limit=1000").await;
    assert!(
        of_alice.len() < all.len(),
        "the admin's login is not alice's"
    );

    let rotations = events(&app, &admin, "event=blacklisted&reason=rotation").await;
    assert_eq!(rotations.len(), 1);
    // The logout's refresh token and its session's two access tokens (login, refresh).
    let logouts = events(&app, &admin, "reason=logout").await;
    assert_eq!(logouts.len(), 3);
    assert!(logouts.iter().all(|e| e["event"] == "blacklisted"));
    assert_eq!(events(&app, &admin, "event=rotated").await.len(), 1);

    let of_token = events(
        &app,
        &admin,
        &format!("jti={}", first["jti"].as_str().unwrap()),
    )
    .await;
    assert_eq!(of_token.len(), 1);
    assert_eq!(of_token[0]["event"], "issued");
    let of_session = events(
        &app,
        &admin,
        &format!("sid={}", first["sid"].as_str().unwrap()),
    )
    .await;
    assert_eq!(
        of_session.len(),
        2,
        "the first login: its refresh and access token"
    );

    assert!(
        events(&app, &admin, "since=2999-01-01T00:00:00Z")
            .await
            .is_empty()
    );
    assert!(
        events(&app, &admin, "until=2000-01-01T00:00:00Z")
            .await
            .is_empty()
    );
    assert_eq!(
        events(
            &app,
            &admin,
            "since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00%2B02:00&limit=1000"
        )
        .await,
        all
    );
}

#[actix_web::test]
async fn bad_parameters_are_400_with_every_field_named() {
    let app = spawn_app().await;
    let (_, admin) = app.login(ADMIN.0, ADMIN.1).await;
    assert_answer(
        ledger(&app, &admin, "user_id=abc&event=nope&since=yesterday&limit=0").await,
        400,
        concat!(
            r#"{"user_id":["A valid integer is required."],"event":["\"nope\" is not a valid choice."],"#,
            r#""since":["Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."],"#,
            r#""limit":["Ensure this value is between 1 and 1000."]}"#
        ),
    )
    .await;
}

#[actix_web::test]
async fn the_ledger_is_for_staff_only() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (_, alice) = app.login(ALICE.0, ALICE.1).await;
    assert_answer(
        ledger(&app, &alice, "").await,
        403,
        r#"{"detail":"You do not have permission to perform this action."}"#,
    )
    .await;
    let anonymous = app
        .client
        .get(app.url("/api/admin/ledger/"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[actix_web::test]
async fn the_flush_endpoint_expires_ended_tokens_once() {
    // Alice's access token has surely ended after the sleep; the admin's, signed after it,
    // lives at least 2 s more (exp is whole seconds), through both flushes.
    let app = spawn_app_with(|s| s.access_token_lifetime = Duration::from_secs(3)).await;
    app.create_user(ALICE.0, ALICE.1);
    app.login(ALICE.0, ALICE.1).await;
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    let (_, admin) = app.login(ADMIN.0, ADMIN.1).await;
    let flush = || {
        app.client
            .post(app.url("/api/admin/maintenance/flush-expired/"))
            .bearer_auth(&admin)
            .send()
    };
    assert_answer(flush().await.unwrap(), 200, r#"{"expired":1}"#).await;
    assert_answer(flush().await.unwrap(), 200, r#"{"expired":0}"#).await;
    assert_eq!(events(&app, &admin, "event=expired").await.len(), 1);
    app.assert_view_matches_ledger();
}

async fn get(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
}

fn jtis(tokens: &Value) -> Vec<String> {
    tokens
        .as_array()
        .expect("tokens")
        .iter()
        .map(|token| token["jti"].as_str().expect("jti").to_owned())
        .collect()
}

#[actix_web::test]
async fn the_view_lists_by_state_user_and_type_with_a_cursor() {
    let app = spawn_app().await;
    some_history(&app).await;
    let (_, admin) = app.login(ADMIN.0, ADMIN.1).await;
    let all = body(get(&app, &admin, "/api/admin/tokens/?limit=1000").await).await;
    let all_jtis = jtis(&all["results"]);
    assert!(all_jtis.len() >= 8);
    assert_eq!(all["next"], Value::Null);
    let first = &all["results"][0];
    let fields: Vec<&String> = first.as_object().unwrap().keys().collect();
    assert_eq!(
        fields[..9],
        [
            "jti",
            "token_type",
            "user_id",
            "sid",
            "issued_at",
            "expires_at",
            "state",
            "blacklisted_at",
            "reason"
        ]
    );

    let mut walked = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = body(
            get(
                &app,
                &admin,
                &format!("/api/admin/tokens/?limit=3&cursor={cursor}"),
            )
            .await,
        )
        .await;
        walked.extend(jtis(&page["results"]));
        match page["next"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(walked, all_jtis);

    let blacklisted = body(get(&app, &admin, "/api/admin/tokens/?state=blacklisted").await).await;
    let blacklisted = blacklisted["results"].as_array().unwrap().clone();
    // The rotated refresh token, the logged-out one and its session's two access tokens.
    assert_eq!(blacklisted.len(), 4);
    assert!(
        blacklisted
            .iter()
            .all(|t| t["state"] == "blacklisted" && t["blacklisted_at"].is_string())
    );
    let refresh = body(
        get(
            &app,
            &admin,
            "/api/admin/tokens/?token_type=refresh&user_id=1",
        )
        .await,
    )
    .await;
    let refresh = refresh["results"].as_array().unwrap().clone();
    assert_eq!(refresh.len(), 1, "the admin's own login");
    assert!(
        refresh
            .iter()
            .all(|t| t["token_type"] == "refresh" && t["user_id"] == 1)
    );

    assert_answer(
        get(&app, &admin, "/api/admin/tokens/?state=gone&token_type=bearer").await,
        400,
        r#"{"state":["\"gone\" is not a valid choice."],"token_type":["\"bearer\" is not a valid choice."]}"#,
    )
    .await;
}

#[actix_web::test]
async fn an_admin_blacklists_one_token_once_and_it_is_refused_at_once() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (_, access) = app.login(ALICE.0, ALICE.1).await;
    let jti = claims_of(&access)["jti"].as_str().unwrap().to_owned();
    let (_, admin) = app.login(ADMIN.0, ADMIN.1).await;
    let blacklist = || {
        app.client
            .post(app.url(&format!("/api/admin/tokens/{jti}/blacklist/")))
            .bearer_auth(&admin)
            .send()
    };
    for _ in 0..2 {
        let response = blacklist().await.unwrap();
        assert_eq!(response.status(), 200);
        let token = body(response).await;
        assert_eq!(
            (&token["jti"], &token["state"], &token["reason"]),
            (&json!(jti), &json!("blacklisted"), &json!("admin"))
        );
    }
    let recorded = events(&app, &admin, &format!("jti={jti}&event=blacklisted")).await;
    assert_eq!(recorded.len(), 1, "idempotent: no second event");
    assert_eq!(recorded[0]["actor"], "admin:1");
    let refused = body(app.me_with(&access).await).await;
    assert_eq!(refused["messages"][0]["message"], "Token is blacklisted");

    let unknown = app
        .client
        .post(app.url("/api/admin/tokens/0123456789abcdef0123456789abcdef/blacklist/"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_answer(unknown, 404, r#"{"detail":"Not found."}"#).await;
}

#[actix_web::test]
async fn history_shows_a_tokens_events_and_its_whole_rotation_chain() {
    let app = spawn_app().await;
    app.create_user(ALICE.0, ALICE.1);
    let (r1, a1) = app.login(ALICE.0, ALICE.1).await;
    let second = body(app.refresh(&r1).await).await;
    let r2 = second["refresh"].as_str().unwrap().to_owned();
    let a2 = second["access"].as_str().unwrap().to_owned();
    let third = body(app.refresh(&r2).await).await;
    let r3 = third["refresh"].as_str().unwrap().to_owned();
    let jti = |token: &str| claims_of(token)["jti"].as_str().unwrap().to_owned();
    let (_, admin) = app.login(ADMIN.0, ADMIN.1).await;

    let history = body(
        get(
            &app,
            &admin,
            &format!("/api/admin/tokens/{}/history/", jti(&r2)),
        )
        .await,
    )
    .await;
    assert_eq!(history["jti"], jti(&r2));
    let kinds: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["issued", "rotated", "blacklisted"]);
    let lineage = jtis(&history["lineage"]);
    // Its ancestor r1, itself, its successor r3, and the access token minted by presenting it.
    // The access tokens minted by r1 (a1 at login, a2 at the first refresh) are r2's siblings.
    let third_access = jti(third["access"].as_str().unwrap());
    assert_eq!(lineage.len(), 4);
    for member in [jti(&r1), jti(&r2), jti(&r3), third_access] {
        assert!(lineage.contains(&member), "{member} in the lineage");
    }
    assert!(!lineage.contains(&jti(&a1)) && !lineage.contains(&jti(&a2)));
    assert_eq!(lineage[0], jti(&r1), "oldest first");

    let unknown = get(&app, &admin, "/api/admin/tokens/nope/history/").await;
    assert_answer(unknown, 404, r#"{"detail":"Not found."}"#).await;
}

#[actix_web::test]
async fn a_users_tokens_at_an_instant_are_replayed_from_the_ledger() {
    let rfc3339 = || chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let pause = || tokio::time::sleep(Duration::from_millis(20));
    let app = spawn_app().await;
    let alice = app.create_user(ALICE.0, ALICE.1);
    let before_login = rfc3339();
    pause().await;
    let (_, access) = app.login(ALICE.0, ALICE.1).await;
    pause().await;
    let logged_in = rfc3339();
    pause().await;
    let all = app
        .client
        .post(app.url("/api/logout/all/"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(all.status(), 200);
    let (_, admin) = app.login(ADMIN.0, ADMIN.1).await;
    let at = |instant: &str| {
        let path = format!(
            "/api/admin/users/{alice}/tokens/?at={}",
            instant.replace('+', "%2B")
        );
        let app = &app;
        let admin = admin.clone();
        async move { body(get(app, &admin, &path).await).await }
    };
    assert_eq!(at(&before_login).await["tokens"], json!([]));
    let then = at(&logged_in).await;
    assert_eq!(then["tokens"].as_array().unwrap().len(), 2);
    assert!(
        then["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["state"] == "outstanding")
    );
    let now = at(&rfc3339()).await;
    assert_eq!(now["tokens"].as_array().unwrap().len(), 2);
    assert!(
        now["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["state"] == "blacklisted" && t["reason"] == "logout_all")
    );

    assert_answer(
        get(&app, &admin, &format!("/api/admin/users/{alice}/tokens/?at=noon")).await,
        400,
        r#"{"at":["Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."]}"#,
    )
    .await;
}

#[actix_web::test]
async fn the_ledger_command_prints_the_same_events_as_json_lines_csv_and_a_table() {
    let app = spawn_app().await;
    some_history(&app).await;
    let (_, admin) = app.login(ADMIN.0, ADMIN.1).await;
    let over_http = events(&app, &admin, "limit=1000").await;
    let stdout = |args: &[&str]| {
        let output = app.cli(args, None);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8")
    };

    let json: Vec<Value> = stdout(&["ledger", "--format", "json"])
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    assert_eq!(json, over_http);

    let csv = stdout(&["ledger", "--format", "csv"]);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("seq,at,event,jti,token_type,user_id,sid,parent_jti,reason,actor,expires_at,hash")
    );
    assert_eq!(lines.count(), over_http.len());

    let table = stdout(&["ledger"]);
    let mut rows = table.lines();
    let header: Vec<&str> = rows.next().expect("a header").split_whitespace().collect();
    assert_eq!(header[..3], ["seq", "at", "event"]);
    assert_eq!(rows.count(), over_http.len());

    let rotated = stdout(&["ledger", "--event", "rotated", "--format", "json"]);
    assert_eq!(rotated.lines().count(), 1);
    assert_eq!(
        stdout(&["ledger", "--limit", "2", "--after", "3", "--format", "json"])
            .lines()
            .count(),
        2
    );
    let bad = app.cli(&["ledger", "--event", "nope"], None);
    assert_eq!(bad.status.code(), Some(2));
}

#[actix_web::test]
async fn serve_flushes_on_its_own_schedule_and_zero_turns_it_off() {
    let short = |s: &mut tokenledger::config::Settings| {
        s.access_token_lifetime = Duration::from_secs(1);
        s.sliding_token_lifetime = Duration::from_secs(1);
    };
    let scheduled = spawn_app_with(|s| {
        short(s);
        s.flush_interval = Duration::from_secs(1);
    })
    .await;
    let off = spawn_app_with(|s| {
        short(s);
        s.flush_interval = Duration::ZERO;
    })
    .await;
    for app in [&scheduled, &off] {
        app.create_user(ALICE.0, ALICE.1);
        app.login(ALICE.0, ALICE.1).await;
    }
    // Read from the database, not through an admin login: its own 1 s tokens would expire
    // (and be flushed) on a slow machine. The scheduled flush comes within a few intervals.
    let expired = |app: &TestApp| {
        crate::rotation::ledger_events(app)
            .into_iter()
            .filter(|event| event.event.as_str() == "expired")
            .count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while expired(&scheduled) < 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the scheduled flush never ran"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(expired(&scheduled), 1, "alice's access token, once");
    // Longer than the scheduled server needed, and more than one interval.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(expired(&off), 0, "no flush when the interval is zero");
}
