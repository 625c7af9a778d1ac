// Portable types only (BigInt, Text, Bool, Timestamp): the same schema serves every backend.

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        email -> Nullable<Text>,
        password_hash -> Text,
        is_active -> Bool,
        is_staff -> Bool,
        date_joined -> Timestamp,
        last_login -> Nullable<Timestamp>,
    }
}

diesel::table! {
    token_ledger (seq) {
        seq -> BigInt,
        at -> Timestamp,
        event -> Text,
        jti -> Text,
        token_type -> Text,
        user_id -> BigInt,
        sid -> Text,
        parent_jti -> Nullable<Text>,
        reason -> Nullable<Text>,
        actor -> Nullable<Text>,
        expires_at -> Timestamp,
        hash -> Text,
    }
}

diesel::table! {
    token_view (jti) {
        jti -> Text,
        token_type -> Text,
        user_id -> BigInt,
        sid -> Text,
        parent_jti -> Nullable<Text>,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        state -> Text,
        rotated_at -> Nullable<Timestamp>,
        blacklisted_at -> Nullable<Timestamp>,
        reason -> Nullable<Text>,
        last_seq -> BigInt,
    }
}

diesel::table! {
    service_secrets (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        algorithm -> Text,
        public_jwk -> Text,
        first_used_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    ledger_compactions (id) {
        id -> BigInt,
        at -> Timestamp,
        up_to_seq -> BigInt,
        up_to_hash -> Text,
        removed -> BigInt,
        export_sha256 -> Text,
    }
}

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        at -> Timestamp,
        username -> Text,
        client -> Text,
        user_id -> Nullable<BigInt>,
        outcome -> Text,
    }
}

diesel::table! {
    webhook_cursors (endpoint) {
        endpoint -> Text,
        position -> BigInt,
        holder -> Nullable<Text>,
        lease_until_ms -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    users,
    login_failures,
    token_ledger,
    token_view,
    service_secrets,
    signing_keys,
    ledger_compactions,
    webhook_cursors
);
