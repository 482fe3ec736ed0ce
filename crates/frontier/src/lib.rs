//! trawl-frontier: which URL to fetch next.
//!
//! The frontier owns everything about URLs *before* they are fetched:
//!
//! - [`canon`]: the canonical form of a URL (the dedup key), host keys and
//!   64-bit fingerprints; a [`CanonicalUrl`] is canonicalised once, when it
//!   is built, and never again;
//! - [`scope`]: which hosts and patterns belong to the crawl;
//! - [`AdmissionRules`]: the checks that need only the URL (scope, depth,
//!   trap guards), shared by every store;
//! - [`FrontierStore`]: the storage seam, where the queue lives: the
//!   seen-set, per-host breadth-first queues, the page limits, and a
//!   scheduler that hands out only URLs whose host has a free concurrency
//!   slot and passes the crawler's [`HostGate`], so a slow or rate-limited
//!   host never holds up the others. It also knows when the crawl is over:
//!   nothing queued, nothing in flight, nothing held;
//! - [`LocalStore`]: the embedded store, in this process. Past a memory
//!   budget its queued URLs spill to a file ([`SpillConfig`]), the
//!   seen-set's older fingerprints move to sorted, Bloom-filtered files
//!   (`seen.rs`; a background thread merges them), and with a
//!   [`StateDir`] it journals every queued URL so an interrupted crawl can
//!   be resumed.
//!
//! It does **not** fetch, parse HTML, sleep or spawn tasks (beyond handing
//! journal writes to tokio's blocking pool, and the seen-set's merge
//! thread): the async crawler drives it,
//! and tests can drive it with any clock. Rate limits are consulted
//! through the [`HostGate`], so the limiter can live with the fetcher.
//!
//! ```
//! use std::time::Instant;
//! use trawl_frontier::{
//!     CanonicalUrl, Claim, Entry, Found, FrontierStore, Limits, LocalConfig, LocalStore, Scope,
//!     ScopeMode,
//! };
//!
//! let seed = CanonicalUrl::parse("http://example.com/").unwrap();
//! let mut scope = Scope::new(ScopeMode::Host, vec![], vec![]);
//! scope.add_seed(&seed);
//! let store = LocalStore::new(LocalConfig::new(scope, Limits::default())).unwrap();
//! let open = |_host: &str, _now: Instant| Ok(());
//!
//! let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! runtime.block_on(async {
//!     store.add(vec![Entry::seed(seed)], Found::Seed).await.unwrap();
//!     let Claim::Ready(leases) = store.claim(8, Instant::now(), &open).await.unwrap() else {
//!         panic!()
//!     };
//!     assert_eq!(leases.len(), 1);
//!     assert_eq!(leases[0].entry.url.as_str(), "http://example.com/");
//!     store.complete(leases[0].token);
//!     let after = store.claim(8, Instant::now(), &open).await.unwrap();
//!     assert!(matches!(after, Claim::Finished));
//! });
//! ```

mod admission;
pub mod canon;
mod entry;
mod local;
mod scheduler;
pub mod scope;
mod seen;
mod spill;
mod state;
mod store;

pub use admission::AdmissionRules;
pub use canon::{
    CanonError, CanonicalUrl, canonicalize, fingerprint, fingerprint_str, host_key, parse_canonical,
};
pub use entry::{Admission, Counts, Entry, Limits};
pub use local::{LocalConfig, LocalStore, OpenError};
pub use scope::{Scope, ScopeMode};
pub use spill::SpillConfig;
pub use state::{StateDir, StateError, default_state_dir};
pub use store::{
    Claim, Found, FrontierStore, HostGate, HostPace, Lease as StoreLease, LeaseToken,
    RedirectAdmission, StoreError, StoreFuture,
};
