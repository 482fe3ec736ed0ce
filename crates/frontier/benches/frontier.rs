//! Frontier micro-benchmarks: canonicalising URLs, and queueing then
//! handing out 100,000 URLs over 1,000 hosts through the embedded store
//! (links added a page of 100 at a time, claimed 64 at a time, as the
//! crawler does; the store's futures are ready at once, so the runtime
//! adds next to nothing).
//!
//! `cargo bench -p trawl-frontier --bench frontier` (add `-- --quick` for a
//! fast look). Reported as URLs (elements) per second.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use trawl_frontier::{
    Admission, CanonicalUrl, Claim, Entry, Found, FrontierStore, Limits, LocalConfig, LocalStore,
    Scope, ScopeMode, parse_canonical,
};

const URLS: usize = 100_000;
const HOSTS: usize = 1_000;
const LINKS_PER_PAGE: usize = 100;
const CLAIM: usize = 64;

/// URLs as pages spell them: mixed case, default ports, dot segments,
/// fragments, escapes, queries, IDNA, long paths.
fn url_mix() -> Vec<String> {
    let shapes: [fn(usize) -> String; 10] = [
        |i| format!("http://example.com/p/{i}"),
        |i| format!("HTTPS://WWW.Example.COM:443/Articles/{i}/Index.html"),
        |i| format!("http://example.com:80/a/b/../c/./d/{i}#section-{i}"),
        |i| format!("https://shop.example.org/search?q=red+shoes&page={i}&sort=price"),
        |i| format!("https://example.net/%7euser/%41%42c/{i}?"),
        |i| format!("http://bücher.example/kategorie/{i}"),
        |i| format!("  https://cdn{}.example.com/static/img/{i}.png  ", i % 8),
        |i| {
            format!(
                "https://example.com/blog/2024/05/17/a-rather-long-slug-for-post-number-{i}/comments/page/2"
            )
        },
        |i| format!("http://127.0.0.1:8080/p/{i}"),
        |i| format!("https://user:pass@example.com/private/{i}?token=abc%2fdef"),
    ];
    (0..1_000).map(|i| shapes[i % shapes.len()](i)).collect()
}

fn canonical(c: &mut Criterion) {
    let urls = url_mix();
    let mut group = c.benchmark_group("parse_canonical");
    group.throughput(Throughput::Elements(urls.len() as u64));
    group.bench_function("mix_1000", |b| {
        b.iter(|| {
            for url in &urls {
                let _ = black_box(parse_canonical(black_box(url)));
            }
        })
    });
    group.finish();
}

/// 100,000 distinct URLs spread round-robin over 1,000 hosts, pre-parsed.
fn links() -> Vec<CanonicalUrl> {
    (0..URLS)
        .map(|i| {
            CanonicalUrl::parse(&format!(
                "http://host{}.example.com/p/{}",
                i % HOSTS,
                i / HOSTS
            ))
            .unwrap()
        })
        .collect()
}

fn new_store() -> LocalStore {
    let config = LocalConfig::new(
        Scope::new(ScopeMode::Any, vec![], vec![]),
        Limits {
            per_host_concurrency: u32::MAX,
            ..Limits::default()
        },
    );
    LocalStore::new(config).unwrap()
}

fn filled(
    runtime: &Runtime,
    seed: &CanonicalUrl,
    links: &[CanonicalUrl],
    parent: &Arc<str>,
) -> LocalStore {
    let store = new_store();
    runtime.block_on(async {
        store
            .add(vec![Entry::seed(seed.clone())], Found::Seed)
            .await
            .unwrap();
        for page in links.chunks(LINKS_PER_PAGE) {
            let entries = page
                .iter()
                .map(|url| Entry::link(url.clone(), 1, parent))
                .collect();
            let admissions = store.add(entries, Found::Link).await.unwrap();
            debug_assert!(admissions.iter().all(|a| matches!(a, Admission::Queued)));
        }
    });
    store
}

fn drain(runtime: &Runtime, store: &LocalStore) -> usize {
    let open = |_: &str, _: Instant| Ok(());
    runtime.block_on(async {
        let mut done = 0;
        while let Claim::Ready(leases) = store.claim(CLAIM, Instant::now(), &open).await.unwrap() {
            for lease in leases {
                store.complete(black_box(lease).token);
                done += 1;
            }
        }
        done
    })
}

fn push_pop(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let seed = CanonicalUrl::parse("http://seed.example.com/").unwrap();
    let parent: Arc<str> = Arc::from(seed.as_str());
    let links = links();

    // Sanity: every URL is queued once and handed out once.
    let store = filled(&runtime, &seed, &links, &parent);
    assert_eq!(store.counts().queued, URLS as u64 + 1);
    assert_eq!(drain(&runtime, &store), URLS + 1);
    assert_eq!(store.counts().handed_out, URLS as u64 + 1);
    let open = |_: &str, _: Instant| Ok(());
    assert!(matches!(
        runtime
            .block_on(store.claim(CLAIM, Instant::now(), &open))
            .unwrap(),
        Claim::Finished
    ));

    let mut group = c.benchmark_group("frontier_100k_urls_1000_hosts");
    group.sample_size(10);
    group.throughput(Throughput::Elements(URLS as u64));
    group.bench_function("add_link", |b| {
        b.iter(|| filled(&runtime, &seed, black_box(&links), &parent))
    });
    group.bench_function("pop_complete", |b| {
        b.iter_batched(
            || filled(&runtime, &seed, &links, &parent),
            |store| drain(&runtime, &store),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("add_link_pop_complete", |b| {
        b.iter(|| {
            let store = filled(&runtime, &seed, black_box(&links), &parent);
            drain(&runtime, &store)
        })
    });
    group.finish();
}

criterion_group!(benches, canonical, push_pop);
criterion_main!(benches);
