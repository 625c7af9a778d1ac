//! The user fields `token_claims` may copy into access and sliding tokens.

/// A user field `token_claims` may copy into access and sliding tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserClaim {
    Username,
    Email,
    IsStaff,
}

impl UserClaim {
    pub const ALL: [UserClaim; 3] = [UserClaim::Username, UserClaim::Email, UserClaim::IsStaff];

    pub fn as_str(self) -> &'static str {
        match self {
            UserClaim::Username => "username",
            UserClaim::Email => "email",
            UserClaim::IsStaff => "is_staff",
        }
    }
}
