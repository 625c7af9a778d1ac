//! The login throttle's rate: `LOGIN_THROTTLE_RATE` and its per-client sibling. Read from
//! the settings by `config::lenient`, as every lenient setting is.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// `N/DURATION`: at most N failures in any window of DURATION (`5/15m`); `off` (or `0`)
/// throttles nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginRate {
    pub failures: u32,
    pub window: Duration,
}

impl LoginRate {
    pub const OFF: LoginRate = LoginRate {
        failures: 0,
        window: Duration::ZERO,
    };

    pub fn is_off(&self) -> bool {
        self.failures == 0 || self.window.is_zero()
    }
}

impl fmt::Display for LoginRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_off() {
            return f.write_str("off");
        }
        write!(f, "{}/{}s", self.failures, self.window.as_secs())
    }
}

impl Serialize for LoginRate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
