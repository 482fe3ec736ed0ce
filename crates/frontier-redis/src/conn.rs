//! The connection: a reconnecting redis-rs connection manager, the Lua
//! scripts, and the retry rule that lets a crawl ride out a Redis restart.

use std::future::Future;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, RedisResult, Script, ServerErrorKind};
use trawl_frontier::StoreError;

/// Why the shared frontier could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The `redis://` URL is not one.
    #[error("--frontier {url}: not a Redis URL: {source}")]
    Url {
        /// The URL as given.
        url: String,
        /// The parse failure.
        source: RedisError,
    },
    /// No server answered.
    #[error("cannot reach Redis at {url}: {source}")]
    Unreachable {
        /// The URL as given.
        url: String,
        /// The failure.
        source: RedisError,
    },
    /// The crawl id cannot name keys.
    #[error(transparent)]
    CrawlId(#[from] crate::keys::BadCrawlId),
    /// The server answered but refused a setup command.
    #[error("Redis at {url} refused to set up crawl {crawl}: {source}")]
    Setup {
        /// The URL as given.
        url: String,
        /// The crawl id.
        crawl: String,
        /// The failure.
        source: RedisError,
    },
}

/// The four atomic state changes, and the page budget.
#[derive(Debug)]
pub(crate) struct Scripts {
    pub add: Script,
    pub claim: Script,
    pub ack: Script,
    pub reap: Script,
    pub budget: Script,
}

impl Scripts {
    pub fn new() -> Scripts {
        Scripts {
            add: Script::new(include_str!("lua/add.lua")),
            claim: Script::new(include_str!("lua/claim.lua")),
            ack: Script::new(include_str!("lua/ack.lua")),
            reap: Script::new(include_str!("lua/reap.lua")),
            budget: Script::new(include_str!("lua/budget.lua")),
        }
    }
}

/// `url` with any password in it replaced by `***`, for messages and logs.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// Connects to `url`, failing within about `timeout` when nothing answers
/// (never a hang at start). Later outages are ridden out by
/// [`Retrying::run`].
pub async fn connect(url: &str, timeout: Duration) -> Result<ConnectionManager, ConnectError> {
    let client = redis::Client::open(url).map_err(|source| ConnectError::Url {
        url: redacted(url),
        source,
    })?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        // A script over a large batch may take a while on a busy server;
        // a timeout is retried, and the scripts allow it.
        .set_response_timeout(Some(Duration::from_secs(10)))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(1));
    let attempt = ConnectionManager::new_with_config(client, config);
    match tokio::time::timeout(timeout * 3, attempt).await {
        Ok(Ok(manager)) => Ok(manager),
        Ok(Err(source)) => Err(ConnectError::Unreachable {
            url: redacted(url),
            source,
        }),
        Err(_) => Err(ConnectError::Unreachable {
            url: redacted(url),
            source: RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no answer",
            )),
        }),
    }
}

/// True when the error is the server being away (restarting, loading its
/// AOF, failing over) rather than a bad command: worth another try.
pub fn transient(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || error.is_unrecoverable_error()
        || matches!(
            error.kind(),
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::ClusterDown
                    | ServerErrorKind::MasterDown
            )
        )
}

/// The back-off before retry number `attempt` (0-based): 50 ms doubling
/// to 2 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(50u64.saturating_mul(1 << attempt.min(6))).min(Duration::from_secs(2))
}

/// A connection that retries transient failures for up to `patience`.
#[derive(Debug, Clone)]
pub(crate) struct Retrying {
    pub conn: ConnectionManager,
    pub patience: Duration,
    pub url: String,
}

impl Retrying {
    /// Runs `op` until it succeeds, fails for good, or Redis has been away
    /// longer than the patience. Every state change is a script that is
    /// safe to repeat (see the crate docs), so a retry after a lost answer
    /// costs at most an orphaned lease, which expires.
    pub async fn run<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, StoreError>
    where
        F: FnMut(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            match op(self.conn.clone()).await {
                Ok(value) => {
                    if attempt > 0 {
                        tracing::warn!(
                            "Redis at {} is back after {:.1} s",
                            self.url,
                            started.elapsed().as_secs_f64()
                        );
                    }
                    return Ok(value);
                }
                Err(error) if transient(&error) && started.elapsed() < self.patience => {
                    if attempt == 0 {
                        tracing::warn!(
                            "Redis at {} is unavailable ({what}: {error}); retrying for up to {} s",
                            self.url,
                            self.patience.as_secs()
                        );
                    }
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                Err(error) => {
                    return Err(StoreError(format!(
                        "Redis at {} ({what}): {error}",
                        self.url
                    )));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_retried_and_bad_commands_are_not() {
        let refused = RedisError::from(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "refused",
        ));
        assert!(transient(&refused));
        let loading =
            RedisError::from((ErrorKind::Server(ServerErrorKind::BusyLoading), "loading"));
        assert!(transient(&loading));
        let wrong = RedisError::from((
            ErrorKind::Server(ServerErrorKind::ResponseError),
            "WRONGTYPE",
        ));
        assert!(!transient(&wrong));
    }

    #[test]
    fn passwords_never_reach_a_message() {
        assert_eq!(
            redacted("redis://:s3cret@10.0.0.5:6379/0"),
            "redis://***@10.0.0.5:6379/0"
        );
        assert_eq!(redacted("redis://u:p@h/0"), "redis://***@h/0");
        assert_eq!(redacted("redis://h:6379/0"), "redis://h:6379/0");
        assert_eq!(redacted("nonsense"), "nonsense");
    }

    #[test]
    fn the_backoff_doubles_to_a_cap() {
        assert_eq!(backoff(0), Duration::from_millis(50));
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(5), Duration::from_millis(1600));
        assert_eq!(backoff(40), Duration::from_secs(2));
    }
}
