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

// ------------------------------------------- Redis-only: ack on record

/// With `ack_on_record`, `complete` frees the host's slot but the URL is
/// finished only by `recorded`; a released lease that expires is queued
/// again without freeing its slot twice.
#[test]
fn a_released_lease_frees_its_slot_and_finishes_only_when_recorded() {
    use std::time::Instant;
    use trawl_frontier::{Claim, Entry, Found, FrontierStore};

    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).expect("a redis-server");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let seeds = vec![page(0, 0), page(0, 1), page(0, 2)];
    let local = Setup::new(&seeds, wide(1)).config();
    let mut config = RedisConfig::new(&server.url(), "two-phase", local.scope, local.limits);
    config.ack_on_record = true;
    config.lease_time = Some(Duration::from_secs(10));
    let store = runtime.block_on(RedisStore::connect(config)).unwrap();
    let add = |urls: &[trawl_frontier::CanonicalUrl]| {
        let entries = urls.iter().cloned().map(Entry::seed).collect();
        runtime.block_on(store.add(entries, Found::Seed)).unwrap()
    };
    add(&seeds[..2]);
    let open = |_: &str, _: Instant| Ok::<(), Instant>(());
    let now = Instant::now();
    let claim = |at: Instant| runtime.block_on(store.claim(4, at, &open)).unwrap();
    let one = |at: Instant| match claim(at) {
        Claim::Ready(mut leases) if leases.len() == 1 => leases.pop().unwrap(),
        other => panic!("expected one lease (a cap of 1), got {other:?}"),
    };
    let first = one(now);
    store.complete(first.token);
    let second = one(now);
    assert_ne!(second.entry, first.entry, "the released slot is free again");
    store.complete(second.token);
    store.recorded(&[second.token]);
    assert!(
        matches!(claim(now), Claim::WaitUntil(_)),
        "the first record is not durable yet: not finished"
    );
    // The first worker "dies": its released lease expires and comes back.
    let later = now + Duration::from_secs(10);
    assert_eq!(runtime.block_on(store.requeue_expired(later)).unwrap(), 1);
    let again = one(later);
    assert_eq!(again.entry, first.entry);
    add(&seeds[2..]);
    assert!(
        !matches!(claim(later), Claim::Ready(_)),
        "its slot was freed once, not twice: the new seed waits for the cap of 1"
    );
    store.complete(again.token);
    store.recorded(&[again.token]);
    let third = one(later);
    assert_eq!(third.entry.url, page(0, 2));
    store.complete(third.token);
    store.recorded(&[third.token]);
    assert!(matches!(claim(later), Claim::Finished));
}
