//! A crawl-wide budget for the bytes of response bodies held in memory.
//!
//! The concurrency limit counts fetches, but pages range from 2 KB to the
//! body cap: 64 fetches of 4 MB pages hold 256 MB where 64 ordinary ones
//! hold 2 MB. So a body is read only once its bytes are reserved, and the
//! reservation lives inside the body's [`Bytes`] (its owner), released when
//! the last copy of the body is dropped: after the page has waited for a
//! parser thread, been parsed, and its record been written. A fetch whose
//! body does not fit waits, holding its connection, and the server's bytes
//! wait in the socket: backpressure that the queue for the parser threads
//! and the sinks pass on, since their pages hold their reservations.
//!
//! A body is reserved for its announced length (or [`UNANNOUNCED`] bytes
//! when it has none), capped by the budget: a body larger than the whole
//! budget waits until it has the budget to itself. Reservations are served
//! in order (tokio's semaphore is fair), so a big page is never starved by
//! small ones. A body that grows past its reservation takes more if it is
//! free and otherwise goes on over budget rather than wait: two bodies each
//! waiting for the other's bytes would wait forever. New reservations wait
//! until enough of the budget is free again, so the overdraft is bounded by
//! the bodies already being read.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget is counted in units of this many bytes (tokio's semaphore
/// hands out at most `u32::MAX` permits at once).
const UNIT: usize = 1024;

/// What a body without a `Content-Length` reserves before its first byte.
pub const UNANNOUNCED: usize = 64 * 1024;

/// The default budget: trawl's default 32 fetches of 256 KiB pages at
/// once, well above an ordinary HTML page; a multi-megabyte page still
/// reads beside others, and one larger than the budget reads alone.
pub const DEFAULT_BODY_BUDGET: u64 = 8 * 1024 * 1024;

/// Bytes of bodies that may be held at once, shared by every fetch of a
/// crawl (clones share it).
#[derive(Debug, Clone)]
pub struct BodyBudget {
    permits: Arc<Semaphore>,
    units: u32,
}

impl BodyBudget {
    /// A budget of `bytes` (at least one unit of 1 KiB).
    pub fn new(bytes: u64) -> BodyBudget {
        let units = (bytes / UNIT as u64).clamp(1, u64::from(u32::MAX >> 4)) as u32;
        BodyBudget {
            permits: Arc::new(Semaphore::new(units as usize)),
            units,
        }
    }

    /// The budget in bytes.
    pub fn bytes(&self) -> u64 {
        u64::from(self.units) * UNIT as u64
    }

    /// Bytes not reserved at the moment.
    pub fn available(&self) -> u64 {
        self.permits.available_permits() as u64 * UNIT as u64
    }

    /// Waits until `bytes` (at most the whole budget) are free, then holds
    /// them.
    pub(crate) async fn reserve(&self, bytes: usize) -> Reserved {
        let units = units_for(bytes).min(self.units);
        // The semaphore is never closed.
        let permit = Arc::clone(&self.permits)
            .acquire_many_owned(units)
            .await
            .ok();
        Reserved {
            budget: self.clone(),
            permit,
            bytes: units as usize * UNIT,
        }
    }
}

impl Default for BodyBudget {
    fn default() -> Self {
        BodyBudget::new(DEFAULT_BODY_BUDGET)
    }
}

fn units_for(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX)
}

/// Bytes held for one body.
#[derive(Debug)]
pub(crate) struct Reserved {
    budget: BodyBudget,
    permit: Option<OwnedSemaphorePermit>,
    /// What the body may grow to within the reservation.
    bytes: usize,
}

impl Reserved {
    /// Makes the reservation cover `len` bytes: takes what is missing if it
    /// is free, and otherwise goes over budget without waiting.
    pub(crate) fn cover(&mut self, len: usize) {
        if len <= self.bytes {
            return;
        }
        // Growing by at least the reservation so far keeps the number of
        // calls logarithmic in the body's size.
        let wanted = units_for(len - self.bytes).max(units_for(self.bytes));
        if let Ok(more) = Arc::clone(&self.budget.permits).try_acquire_many_owned(wanted) {
            match &mut self.permit {
                Some(permit) => permit.merge(more),
                None => self.permit = Some(more),
            }
            self.bytes += wanted as usize * UNIT;
        } else {
            self.bytes = len;
        }
    }

    /// `body` as `Bytes` that give the reservation back when the last copy
    /// of them is dropped.
    pub(crate) fn into_bytes(self, body: Vec<u8>) -> Bytes {
        if body.is_empty() {
            return Bytes::new();
        }
        Bytes::from_owner(Held { body, _held: self })
    }
}

/// A body and its reservation, dropped together.
struct Held {
    body: Vec<u8>,
    _held: Reserved,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const MIB: usize = 1024 * 1024;

    #[tokio::test]
    async fn a_body_holds_its_bytes_until_its_last_copy_is_dropped() {
        let budget = BodyBudget::new(4 * MIB as u64);
        let reserved = budget.reserve(MIB).await;
        assert_eq!(budget.available(), 3 * MIB as u64);
        let body = reserved.into_bytes(vec![7; MIB]);
        let copy = body.slice(10..20);
        drop(body);
        assert_eq!(budget.available(), 3 * MIB as u64, "a slice keeps it");
        assert_eq!(&copy[..], &[7; 10]);
        drop(copy);
        assert_eq!(budget.available(), 4 * MIB as u64);
    }

    #[tokio::test(start_paused = true)]
    async fn a_reservation_waits_for_room_and_bigger_than_all_waits_for_all() {
        let budget = BodyBudget::new(4 * MIB as u64);
        let first = budget.reserve(3 * MIB).await;
        let waiting = {
            let budget = budget.clone();
            tokio::spawn(async move { budget.reserve(100 * MIB).await })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(
            !waiting.is_finished(),
            "room for it only when the first is gone"
        );
        drop(first);
        let whole = waiting.await.expect("reservation task");
        assert_eq!(
            budget.available(),
            0,
            "a body bigger than the budget takes all of it"
        );
        drop(whole);
        assert_eq!(budget.available(), 4 * MIB as u64);
    }

    #[tokio::test(start_paused = true)]
    async fn reservations_are_served_in_order() {
        let budget = BodyBudget::new(4 * MIB as u64);
        let held = budget.reserve(3 * MIB).await;
        let big = {
            let budget = budget.clone();
            tokio::spawn(async move { budget.reserve(2 * MIB).await })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        // A small one that would fit now queues behind the big one.
        let small = {
            let budget = budget.clone();
            tokio::spawn(async move { budget.reserve(UNIT).await })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!big.is_finished() && !small.is_finished());
        drop(held);
        let (big, small) = (big.await.expect("big"), small.await.expect("small"));
        assert_eq!(budget.available(), 2 * MIB as u64 - UNIT as u64);
        drop((big, small));
    }

    #[tokio::test]
    async fn growth_takes_free_bytes_and_overdraws_rather_than_wait() {
        let budget = BodyBudget::new(4 * MIB as u64);
        let mut growing = budget.reserve(UNANNOUNCED).await;
        growing.cover(2 * MIB);
        assert!(budget.available() <= 2 * MIB as u64);
        let other = budget.reserve(2 * MIB).await;
        assert_eq!(budget.available(), 0);
        // No room left: it goes on anyway (returns at once).
        growing.cover(3 * MIB);
        drop(other);
        let body = growing.into_bytes(vec![0; 3 * MIB]);
        drop(body);
        assert_eq!(
            budget.available(),
            4 * MIB as u64,
            "what it took comes back"
        );
    }

    #[test]
    fn tiny_and_huge_budgets_are_clamped() {
        assert_eq!(BodyBudget::new(0).bytes(), UNIT as u64);
        assert!(
            BodyBudget::new(u64::MAX).bytes() >= 255 << 30,
            "about 256 GiB"
        );
    }
}
