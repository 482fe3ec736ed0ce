//! trawl-frontier: which URL to fetch next.
//!
//! The frontier owns everything about URLs *before* they are fetched:
//!
//! - [`canon`]: the canonical form of a URL (the dedup key), host keys and
//!   64-bit fingerprints;
//! - [`scope`]: which hosts and patterns belong to the crawl;
//! - [`Frontier`]: the seen-set, per-host breadth-first queues, the depth and
//!   page limits, and a scheduler that hands out only URLs whose host has a
//!   free concurrency slot and is not resting, so a slow or rate-limited
//!   host never holds up the others. It also knows when the crawl is over:
//!   nothing queued and nothing in flight.
//!
//! - [`SpillConfig`]: past a memory budget, queued URLs spill to a file a
//!   chunk at a time, so memory stays flat as the queue grows.
//!
//! It does **not** fetch, parse HTML, sleep or spawn tasks: it is a plain
//! synchronous structure that the async crawler drives (and that tests can
//! drive with any clock). Rate limits are consulted through a gate closure
//! passed to [`Frontier::pop`], so the limiter can live with the fetcher.
//!
//! ```
//! use std::time::Instant;
//! use trawl_frontier::{Frontier, Limits, Pop, Scope, ScopeMode};
//! use url::Url;
//!
//! let seed = Url::parse("http://example.com/").unwrap();
//! let mut scope = Scope::new(ScopeMode::Host, vec![], vec![]);
//! scope.add_seed(&seed);
//! let mut frontier = Frontier::new(scope, Limits::default());
//! frontier.add_seed(&seed);
//! let Pop::Ready(lease) = frontier.pop(Instant::now(), &mut |_host| Ok(())) else { panic!() };
//! assert_eq!(lease.entry.url.as_str(), "http://example.com/");
//! frontier.complete(lease);
//! assert!(matches!(frontier.pop(Instant::now(), &mut |_| Ok(())), Pop::Finished));
//! ```

pub mod canon;
mod frontier;
pub mod scope;
mod spill;
mod store;

pub use canon::{
    CanonError, CanonicalUrl, canonicalize, fingerprint, fingerprint_str, host_key, parse_canonical,
};
pub use frontier::{Admission, Counts, Entry, Frontier, Lease, Limits, Pop};
pub use scope::{Scope, ScopeMode};
pub use spill::SpillConfig;
pub use store::{
    Claim, Found, FrontierStore, HostGate, Lease as StoreLease, LeaseToken, RedirectAdmission,
    StoreError, StoreFuture,
};
