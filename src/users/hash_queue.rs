//! The cap on logins waiting for a password hasher. The hashing pool bounds how many hashes
//! run at once (and so their memory, 19 MiB each); this bounds how many requests may wait
//! for it, so a flood is answered at once with 429 instead of piling up blocked threads.

use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug)]
pub struct HashQueue {
    cap: usize,
    taken: AtomicUsize,
}

/// A place in the queue (or at a hasher), given back when dropped.
#[derive(Debug)]
pub struct Place<'a> {
    queue: &'a HashQueue,
}

impl HashQueue {
    /// At most `cap` password checks waiting or running at once (0: no cap).
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            taken: AtomicUsize::new(0),
        }
    }

    /// A place, or `None` when `cap` checks are already waiting or running.
    pub fn enter(&self) -> Option<Place<'_>> {
        let taken = self.taken.fetch_add(1, Ordering::AcqRel);
        if self.cap != 0 && taken >= self.cap {
            self.taken.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Place { queue: self })
    }

    /// Checks waiting or running now.
    pub fn len(&self) -> usize {
        self.taken.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.queue.taken.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_cap_places_and_a_dropped_place_is_given_back() {
        let queue = HashQueue::new(2);
        let first = queue.enter().expect("a place");
        let _second = queue.enter().expect("a place");
        assert!(queue.enter().is_none());
        assert_eq!(queue.len(), 2);
        drop(first);
        assert!(queue.enter().is_some());
        assert_eq!(queue.len(), 1);
    }

    #[test]
    fn zero_is_no_cap() {
        let queue = HashQueue::new(0);
        let places: Vec<_> = (0..100).map(|_| queue.enter()).collect();
        assert!(places.iter().all(Option::is_some));
    }

    #[test]
    fn threads_racing_never_hold_more_than_the_cap() {
        let queue = HashQueue::new(3);
        let most = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        if let Some(_place) = queue.enter() {
                            most.fetch_max(queue.len(), Ordering::AcqRel);
                        }
                    }
                });
            }
        });
        assert!(most.load(Ordering::Acquire) <= 3);
        assert!(queue.is_empty());
    }
}
