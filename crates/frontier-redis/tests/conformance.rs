//! The frontier conformance suite (trawl-frontier's `tests/cases`) on the
//! Redis store: every case gets its own `redis-server` on a free loopback
//! port, without persistence, killed by PID when the case ends. A missing
//! `redis-server` fails every case.

use std::time::Duration;

#[macro_use]
#[path = "../../frontier/tests/cases/mod.rs"]
mod cases;

use cases::*;
use trawl_frontier_redis::server::TestServer;
use trawl_frontier_redis::{RedisConfig, RedisStore};

/// The server and its folder, dropped after the store.
struct Guard {
    _server: TestServer,
    _dir: tempfile::TempDir,
}

fn redis(setup: &Setup) -> Driver {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).expect("a redis-server for the conformance suite");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = setup.config();
    let mut config = RedisConfig::new(&server.url(), "conformance", local.scope, local.limits);
    config.lease_time = setup.lease_time;
    config.default_gap = Duration::ZERO;
    let store = runtime
        .block_on(RedisStore::connect(config))
        .expect("the store connects");
    let guard = Guard {
        _server: server,
        _dir: dir,
    };
    Driver::with_runtime(runtime, Box::new(store), Some(Box::new(guard)))
}

conformance!(redis);
