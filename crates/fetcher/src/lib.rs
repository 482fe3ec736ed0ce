//! trawl-fetcher: getting bytes from the web, politely and safely.
//!
//! - [`Fetcher`]: one shared, pooled `reqwest::Client` (keep-alive, gzip,
//!   brotli, zstd, deflate, connect/read/overall timeouts) and
//!   [`Fetcher::fetch`], which follows redirects itself, asking the caller
//!   about each hop (scope, dedup), and streams the body into memory up to a
//!   cap counted on decompressed bytes, so a gzip bomb stops at the cap.
//! - [`ErrorKind`]: the fixed, documented set of failure kinds. A fetch never
//!   returns `Err`: failures are data in [`Fetched::error`].
//! - [`classify`] and [`backoff_delay`]: the pure retry policy.
//! - [`HostRateLimiter`]: per-host rate limits (governor), asked without
//!   waiting so a resting host never blocks the others.
//!
//! It does **not** decide scope or dedup (the caller's redirect callback
//! does), parse HTML, schedule URLs, retry by itself or write output.

mod client;
mod error;
mod limiter;
mod retry;

pub use client::{Fetched, Fetcher, FetcherConfig, RedirectVerdict, ResponseFacts, StopReason};
pub use error::{BuildError, ErrorKind, FetchError};
pub use limiter::HostRateLimiter;
pub use retry::{Retry, backoff_delay, classify, parse_retry_after};
