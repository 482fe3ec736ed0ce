//! trawl-frontier-redis: one crawl shared by many crawler processes, its
//! frontier in Redis (or Valkey: only commands both have are used).
//!
//! [`RedisStore`] implements trawl's [`FrontierStore`] seam, so the crawler
//! runs unchanged on it. What it keeps in Redis, per crawl id:
//!
//! - an **exact seen-set** of 64-bit URL fingerprints, bucketed into small
//!   integer sets (about 9 bytes per URL while a bucket stays under
//!   `set-max-intset-entries`);
//! - a **FIFO queue per host**, and per shard a **ready-host sorted set**
//!   scored by the host's next allowed request time, so rate,
//!   `Crawl-delay`, adaptive pacing and 429/503 pauses hold over all
//!   workers, as does the per-host in-flight cap;
//! - **leases** with deadlines instead of pops: a worker that dies loses
//!   its leases after the lease time, a live one renews them, and a late
//!   ack from a worker whose lease was taken back is ignored (the lease
//!   member is the token);
//! - **monotonic counters** (created, finished) from which every worker
//!   detects the end of the crawl without an idle timeout, and a
//!   crawl-wide page budget that makes `max_pages` global.
//!
//! Every state change that must be atomic is one Lua script run with
//! EVALSHA (reloaded on NOSCRIPT after a restart): `add` (links if unseen),
//! `claim` (batched), `ack` (with pacing news) and `reap` (expired leases
//! back to the front of their queue). All keys of a host share a hash tag
//! (`{crawl/shard}`), so each script touches one Redis Cluster slot. Every
//! script may be repeated after a lost answer: a repeated add finds its
//! URLs seen, a repeated ack finds its lease gone, a repeated claim leaves
//! a lease nobody holds, which expires.
//!
//! # Layout
//!
//! - [`keys`]: key names, shards, seen-set buckets, the queue item format,
//!   the shared millisecond clock (pure);
//! - `conn`: the reconnecting connection, the scripts, the retry rule that
//!   rides out a Redis restart;
//! - `store`: [`RedisStore`], the [`FrontierStore`]; `store/claim.rs`
//!   (claims, the gate, the page budget, the end of the crawl) and
//!   `store/upkeep.rs` (acks, reaping, renewal, heartbeats, the background
//!   task);
//! - `admin`: [`status`] and [`clear`] for `trawl status` and `--fresh`;
//! - [`server`]: a throwaway `redis-server` for tests and the benchmark.
//!
//! It does **not** fetch, parse or decide politeness: the crawler's
//! `HostPolicy` computes each host's gap and reports it with
//! [`FrontierStore::pace`]; this crate only keeps the clocks.
//!
//! [`FrontierStore`]: trawl_frontier::FrontierStore
//! [`FrontierStore::pace`]: trawl_frontier::FrontierStore::pace

mod admin;
mod conn;
pub mod keys;
pub mod server;
mod store;

pub use admin::{CrawlStatus, clear, share_seeds, status};
pub use conn::{ConnectError, redacted};
pub use store::{RedisConfig, RedisStore};
