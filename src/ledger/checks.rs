//! Where verify meets the follower. A verify of a valid token needs a check of the database
//! that began after the request arrived (`Revocations::is_current_since`). Rather than sleep
//! until the follower's next turn, the request asks for a check (`want`), which wakes the
//! follower at once (`wait`), and it is woken itself when a check completes (`completed`).
//! Requests that arrive while a check runs share the next one.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

#[derive(Debug, Default)]
pub struct Checks {
    wanted: Mutex<bool>,
    wake: Condvar,
    completed: Notify,
}

impl Checks {
    /// A request waits for a check that begins from now.
    pub fn want(&self) {
        *self
            .wanted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = true;
        self.wake.notify_one();
    }

    /// The follower's pause between turns: `pause`, or less if a check is wanted. Returns
    /// whether one was.
    pub fn wait(&self, pause: Duration) -> bool {
        let mut wanted = self
            .wanted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !*wanted {
            wanted = self
                .wake
                .wait_timeout(wanted, pause)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        std::mem::take(&mut *wanted)
    }

    /// Woken whenever a check confirms the state current.
    pub fn completed(&self) -> &Notify {
        &self.completed
    }

    pub(super) fn complete(&self) {
        self.completed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;

    #[test]
    fn a_wanted_check_cuts_the_pause_short() {
        let checks = Arc::new(Checks::default());
        let asker = checks.clone();
        let started = Instant::now();
        let wanting = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            asker.want();
        });
        assert!(checks.wait(Duration::from_secs(30)));
        assert!(started.elapsed() < Duration::from_secs(10));
        wanting.join().unwrap();
        // The want was taken: the next pause runs its course.
        assert!(!checks.wait(Duration::from_millis(1)));
    }

    #[actix_rt::test]
    async fn a_completed_check_wakes_every_waiter() {
        let checks = Arc::new(Checks::default());
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let checks = checks.clone();
                actix_rt::spawn(async move {
                    let completed = checks.completed().notified();
                    tokio::time::timeout(Duration::from_secs(30), completed).await
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        checks.complete();
        for waiter in waiters {
            assert!(waiter.await.unwrap().is_ok(), "woken, not timed out");
        }
    }
}
