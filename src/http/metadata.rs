//! `OPTIONS` answers: the metadata Django REST framework describes each view with, recorded
//! from the reference so clients that introspect the endpoints see the same description.

pub const PARSES: &str =
    r#"["application/json","application/x-www-form-urlencoded","multipart/form-data"]"#;

fn view(name: &str, description: &str, post_fields: Option<&str>) -> String {
    let actions = post_fields
        .map(|fields| format!(r#","actions":{{"POST":{fields}}}"#))
        .unwrap_or_default();
    format!(
        r#"{{"name":{},"description":{},"renders":["application/json"],"parses":{PARSES}{actions}}}"#,
        serde_json::Value::from(name),
        serde_json::Value::from(description),
    )
}

const CREDENTIALS: &str = r#"{"username":{"type":"string","required":true,"read_only":false,"label":"Username"},"password":{"type":"string","required":true,"read_only":false,"label":"Password"}}"#;
const TOKEN: &str =
    r#"{"token":{"type":"string","required":true,"read_only":false,"label":"Token"}}"#;

pub fn obtain_pair() -> String {
    view(
        "Token Obtain Pair",
        "Takes a set of user credentials and returns an access and refresh JSON web\ntoken pair to prove the authentication of those credentials.",
        Some(CREDENTIALS),
    )
}

pub fn refresh() -> String {
    view(
        "Token Refresh",
        "Takes a refresh type JSON web token and returns an access type JSON web\ntoken if the refresh token is valid.",
        Some(
            r#"{"refresh":{"type":"string","required":true,"read_only":false,"label":"Refresh"},"access":{"type":"string","required":false,"read_only":true,"label":"Access"}}"#,
        ),
    )
}

pub fn verify() -> String {
    view(
        "Token Verify",
        "Takes a token and indicates if it is valid.  This view provides no\ninformation about a token's fitness for a particular use.",
        Some(TOKEN),
    )
}

pub fn blacklist() -> String {
    view(
        "Token Blacklist",
        "Takes a token and blacklists it. Must be used with the\n`rest_framework_simplejwt.token_blacklist` app installed.",
        Some(
            r#"{"refresh":{"type":"string","required":true,"read_only":false,"label":"Refresh"}}"#,
        ),
    )
}

pub fn obtain_sliding() -> String {
    view(
        "Token Obtain Sliding",
        "Takes a set of user credentials and returns a sliding JSON web token to\nprove the authentication of those credentials.",
        Some(CREDENTIALS),
    )
}

pub fn refresh_sliding() -> String {
    view(
        "Token Refresh Sliding",
        "Takes a sliding JSON web token and returns a new, refreshed version if the\ntoken's refresh period has not expired.",
        Some(TOKEN),
    )
}

pub fn me() -> String {
    view("Me", "", None)
}
