//! Model-based test of the rule the ledger exists for: a revoked token is never accepted
//! again while its signature and `exp` are valid, whatever happens after the revocation
//! (renewals, flushes, time passing, the user's other changes).
//!
//! In-process, against the real token service on a SQLite file, with the process's clock
//! stepped forward (`time::advance_for_tests`; this binary is a process of its own, so no other
//! test sees the clock move). proptest draws sequences of login, sliding login, refresh,
//! sliding refresh, logout, logout-all, session revoke, deactivate/activate, flush and time
//! steps; after every step each token ever issued is checked against a simple model: the set
//! of revoked jtis (refused everywhere), and live tokens well inside their lifetime
//! (accepted).

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use proptest::prelude::*;
use serde_json::Value;
use tokenledger::config::{LoginRate, Secret, Settings};
use tokenledger::ledger::{Reason, flush};
use tokenledger::startup;
use tokenledger::time;
use tokenledger::tokens::{TokenService, accounts};
use tokenledger::users::{self, NewUser, UserKey};

const LEEWAY: u64 = 5;
const ACCESS: u64 = 60;
const REFRESH: u64 = 300;
// Renewable for less than one lifetime: every renewal signs an `exp` past `refresh_exp`.
const SLIDING: u64 = 120;
const SLIDING_REFRESH: u64 = 90;
const CLIENT: &str = "127.0.0.1";

struct Service {
    tokens: TokenService,
    users: Vec<(i64, String, &'static str)>,
    _dir: tempfile::TempDir,
}

/// One service for every case (each case has users of its own): opening a database and
/// hashing its users' passwords is most of a case's cost.
fn service() -> &'static Service {
    static SERVICE: OnceLock<Service> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = Settings {
            database_url: format!("sqlite://{}", dir.path().join("model.db").display()),
            signing_key: Some(Secret::new(
                "model-based-test-signing-key-of-at-least-32-bytes",
            )),
            access_token_lifetime: Duration::from_secs(ACCESS),
            refresh_token_lifetime: Duration::from_secs(REFRESH),
            sliding_token_lifetime: Duration::from_secs(SLIDING),
            sliding_token_refresh_lifetime: Duration::from_secs(SLIDING_REFRESH),
            leeway: Duration::from_secs(LEEWAY),
            rotate_refresh_tokens: true,
            blacklist_after_rotation: true,
            // A rotated token presented again would revoke its session: off, so that checking
            // a revoked refresh token has no effect the model must follow.
            reuse_detection: false,
            auth_token_types: vec!["access".into(), "sliding".into()],
            login_throttle: LoginRate::OFF,
            login_throttle_ip: LoginRate::OFF,
            flush_interval: Duration::ZERO,
            ..Settings::default()
        };
        let tokens = startup::open_services(&settings).expect("the token service");
        let mut conn = tokens.ledger().pool().get().expect("connection");
        let users = ["ann", "ben"]
            .into_iter()
            .map(|name| {
                let user = users::create(
                    &mut conn,
                    NewUser {
                        username: name,
                        email: None,
                        password: PASSWORD,
                        is_staff: false,
                    },
                )
                .expect("a user");
                (user.id, name.to_owned(), PASSWORD)
            })
            .collect();
        drop(conn);
        Service {
            tokens,
            users,
            _dir: dir,
        }
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Access,
    Refresh,
    Sliding,
}

#[derive(Debug, Clone)]
struct Token {
    encoded: String,
    jti: String,
    kind: Kind,
    sid: String,
    user: usize,
    exp: i64,
}

#[derive(Debug, Clone)]
enum Op {
    Login(usize),
    LoginSliding(usize),
    Refresh(usize),
    RefreshSliding(usize),
    Logout(usize),
    LogoutAll(usize),
    RevokeSession(usize),
    Deactivate(usize),
    Activate(usize),
    Flush,
    Step(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let user = 0..2usize;
    let token = any::<usize>();
    prop_oneof![
        2 => user.clone().prop_map(Op::Login),
        3 => user.clone().prop_map(Op::LoginSliding),
        2 => token.prop_map(Op::Refresh),
        5 => token.prop_map(Op::RefreshSliding),
        1 => token.prop_map(Op::Logout),
        1 => user.clone().prop_map(Op::LogoutAll),
        3 => token.prop_map(Op::RevokeSession),
        1 => user.clone().prop_map(Op::Deactivate),
        2 => user.prop_map(Op::Activate),
        5 => Just(Op::Flush),
        // Mostly within a lifetime, sometimes past every one of them.
        8 => prop_oneof![
            8 => prop_oneof![Just(1u64), Just(10), Just(30), Just(45), Just(60), Just(90)],
            1 => Just(REFRESH + 10),
        ]
        .prop_map(Op::Step),
    ]
}

struct Model {
    users: Vec<(i64, String, &'static str)>,
    active: Vec<bool>,
    tokens: Vec<Token>,
    revoked: HashSet<String>,
}

const PASSWORD: &str = "model password";

impl Model {
    /// The service's two users, active again: a case starts from them as they are.
    fn new() -> Self {
        let service = service();
        for &(id, _, _) in &service.users {
            accounts::set_active(service.tokens.ledger(), UserKey::Id(id), true, None)
                .expect("the user is activated");
        }
        Self {
            users: service.users.clone(),
            active: vec![true, true],
            tokens: Vec::new(),
            revoked: HashSet::new(),
        }
    }

    fn pick(&self, kind: Kind, index: usize) -> Option<Token> {
        let of_kind: Vec<&Token> = self.tokens.iter().filter(|t| t.kind == kind).collect();
        (!of_kind.is_empty()).then(|| of_kind[index % of_kind.len()].clone())
    }

    fn add(&mut self, encoded: String, kind: Kind, user: usize) {
        let claims = payload(&encoded);
        self.tokens.push(Token {
            jti: claims["jti"].as_str().expect("jti").to_owned(),
            sid: claims["sid"].as_str().expect("sid").to_owned(),
            exp: claims["exp"].as_i64().expect("exp"),
            encoded,
            kind,
            user,
        });
    }

    fn revoke_where(&mut self, keep: impl Fn(&Token) -> bool) {
        let jtis: Vec<String> = self
            .tokens
            .iter()
            .filter(|t| !keep(t))
            .map(|t| t.jti.clone())
            .collect();
        self.revoked.extend(jtis);
    }

    /// Well inside its lifetime: the clock runs on between the model's decision and the
    /// service's check, so "must be accepted" keeps a margin from `exp`.
    fn live(&self, token: &Token) -> bool {
        !self.revoked.contains(&token.jti) && token.exp > unix_now() + 2
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let tokens = &service().tokens;
        match *op {
            Op::Login(user) => {
                let (_, name, password) = &self.users[user];
                let outcome = tokens.obtain_pair(name, password, CLIENT);
                prop_assert_eq!(outcome.is_ok(), self.active[user], "login {:?}", outcome);
                if let Ok(pair) = outcome {
                    self.add(pair.refresh, Kind::Refresh, user);
                    self.add(pair.access, Kind::Access, user);
                }
            }
            Op::LoginSliding(user) => {
                let (_, name, password) = &self.users[user];
                let outcome = tokens.obtain_sliding(name, password, CLIENT);
                prop_assert_eq!(outcome.is_ok(), self.active[user]);
                if let Ok(sliding) = outcome {
                    self.add(sliding, Kind::Sliding, user);
                }
            }
            Op::Refresh(index) => {
                let Some(token) = self.pick(Kind::Refresh, index) else {
                    return Ok(());
                };
                let live = self.live(&token) && self.active[token.user];
                let outcome = tokens.refresh(&token.encoded);
                if self.revoked.contains(&token.jti) {
                    prop_assert!(outcome.is_err(), "a revoked refresh token refreshed");
                }
                if live {
                    prop_assert!(outcome.is_ok(), "a live refresh token refused: {outcome:?}");
                }
                if let Ok(refreshed) = outcome {
                    // Rotation: the presented token is blacklisted, a pair of the session issued.
                    self.revoked.insert(token.jti.clone());
                    self.add(refreshed.access, Kind::Access, token.user);
                    if let Some(refresh) = refreshed.refresh {
                        self.add(refresh, Kind::Refresh, token.user);
                    }
                }
            }
            Op::RefreshSliding(index) => {
                let Some(token) = self.pick(Kind::Sliding, index) else {
                    return Ok(());
                };
                let outcome = tokens.refresh_sliding(&token.encoded);
                if self.revoked.contains(&token.jti) {
                    prop_assert!(outcome.is_err(), "a revoked sliding token was renewed");
                }
                if let Ok(renewed) = outcome {
                    self.add(renewed, Kind::Sliding, token.user);
                }
            }
            Op::Logout(index) => {
                let Some(token) = self.pick(Kind::Refresh, index) else {
                    return Ok(());
                };
                let live = self.live(&token);
                let outcome = tokens.blacklist(&token.encoded);
                if self.revoked.contains(&token.jti) {
                    prop_assert!(outcome.is_err(), "a revoked refresh token logged out");
                }
                if live {
                    prop_assert!(outcome.is_ok(), "logout refused: {outcome:?}");
                }
                if outcome.is_ok() {
                    let (jti, sid) = (token.jti.clone(), token.sid.clone());
                    self.revoke_where(|t| {
                        t.jti != jti && !(t.sid == sid && t.kind == Kind::Access)
                    });
                }
            }
            Op::LogoutAll(user) => {
                let (id, _, _) = self.users[user];
                accounts::revoke_all(tokens.ledger(), UserKey::Id(id), Reason::LogoutAll, None)
                    .map_err(|err| TestCaseError::fail(err.to_string()))?;
                self.revoke_where(|t| t.user != user);
            }
            Op::RevokeSession(index) => {
                if self.tokens.is_empty() {
                    return Ok(());
                }
                let token = self.tokens[index % self.tokens.len()].clone();
                let (id, _, _) = self.users[token.user];
                tokens
                    .revoke_session(id, &token.sid, "model")
                    .map_err(|err| TestCaseError::fail(err.to_string()))?;
                self.revoke_where(|t| t.sid != token.sid);
            }
            Op::Deactivate(user) => {
                let (id, _, _) = self.users[user];
                accounts::set_active(tokens.ledger(), UserKey::Id(id), false, None)
                    .map_err(|err| TestCaseError::fail(err.to_string()))?;
                self.active[user] = false;
                self.revoke_where(|t| t.user != user);
            }
            Op::Activate(user) => {
                let (id, _, _) = self.users[user];
                accounts::set_active(tokens.ledger(), UserKey::Id(id), true, None)
                    .map_err(|err| TestCaseError::fail(err.to_string()))?;
                self.active[user] = true;
            }
            Op::Flush => {
                let cutoff = flush::cutoff(time::now(), Duration::from_secs(LEEWAY));
                flush::flush_expired(tokens.ledger(), cutoff, flush::DEFAULT_BATCH, |_| {})
                    .map_err(|err| TestCaseError::fail(err.to_string()))?;
            }
            Op::Step(seconds) => time::advance_for_tests(Duration::from_secs(seconds)),
        }
        Ok(())
    }

    /// Every token the model knows, against the service: a revoked one is refused on the
    /// hot path (bearer tokens) and by verify; a live one is accepted.
    fn check(&self) -> Result<(), TestCaseError> {
        let tokens = &service().tokens;
        for token in &self.tokens {
            let bearer = matches!(token.kind, Kind::Access | Kind::Sliding);
            if self.revoked.contains(&token.jti) {
                if bearer {
                    prop_assert!(
                        tokens.verify_bearer(&token.encoded).is_err(),
                        "a revoked {:?} token is accepted as a bearer token (exp in {} s)",
                        token.kind,
                        token.exp - unix_now()
                    );
                }
                prop_assert!(
                    tokens.verify(&token.encoded).is_err(),
                    "a revoked {:?} token verifies (exp in {} s)",
                    token.kind,
                    token.exp - unix_now()
                );
            } else if self.live(token) {
                if bearer {
                    prop_assert!(
                        tokens.verify_bearer(&token.encoded).is_ok(),
                        "a live {:?} token is refused",
                        token.kind
                    );
                }
                prop_assert!(tokens.verify(&token.encoded).is_ok());
            }
        }
        Ok(())
    }
}

fn unix_now() -> i64 {
    time::to_unix(time::now())
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// One sequence at a time: the sequences share the service, its users and the clock.
fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut model = Model::new();
    for op in ops {
        model.apply(op)?;
        model.check()?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 32,
        max_shrink_iters: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_revoked_token_is_ever_accepted_again(ops in prop::collection::vec(op(), 1..50)) {
        run(&ops)?;
    }
}

/// The sequence that broke before: a sliding token renewed near its `refresh_exp` outlives
/// the view row; revoked, flushed, it verified again.
#[test]
fn a_revoked_renewed_sliding_token_stays_refused_after_a_flush() {
    let ops = [
        Op::LoginSliding(0),
        Op::Step(60),
        // exp = now + 120, 90 s past refresh_exp.
        Op::RefreshSliding(0),
        Op::RevokeSession(1),
        Op::Step(60),
        Op::Step(10),
        Op::Flush,
    ];
    run(&ops).expect("the model holds");
}
