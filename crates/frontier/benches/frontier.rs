//! Frontier micro-benchmarks: canonicalising URLs, and queueing then
//! handing out 100,000 URLs over 1,000 hosts.
//!
//! `cargo bench -p trawl-frontier --bench frontier` (add `-- --quick` for a
//! fast look). Reported as URLs (elements) per second.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use trawl_frontier::{Admission, Frontier, Limits, Pop, Scope, ScopeMode, parse_canonical};
use url::Url;

const URLS: usize = 100_000;
const HOSTS: usize = 1_000;

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
fn links() -> Vec<Url> {
    (0..URLS)
        .map(|i| {
            Url::parse(&format!(
                "http://host{}.example.com/p/{}",
                i % HOSTS,
                i / HOSTS
            ))
            .unwrap()
        })
        .collect()
}

fn new_frontier() -> Frontier {
    Frontier::new(
        Scope::new(ScopeMode::Any, vec![], vec![]),
        Limits {
            per_host_concurrency: u32::MAX,
            ..Limits::default()
        },
    )
}

fn filled(seed: &Url, links: &[Url], parent: &Arc<str>) -> Frontier {
    let mut frontier = new_frontier();
    frontier.add_seed(seed);
    for url in links {
        let admission = frontier.add_link(url, 1, parent);
        debug_assert!(matches!(admission, Admission::Queued));
    }
    frontier
}

fn drain(frontier: &mut Frontier) -> usize {
    let mut done = 0;
    while let Pop::Ready(lease) = frontier.pop(Instant::now(), &mut |_| Ok(())) {
        frontier.complete(black_box(lease));
        done += 1;
    }
    done
}

fn push_pop(c: &mut Criterion) {
    let seed = Url::parse("http://seed.example.com/").unwrap();
    let parent: Arc<str> = Arc::from(seed.as_str());
    let links = links();

    // Sanity: every URL is queued once and handed out once.
    let mut frontier = filled(&seed, &links, &parent);
    assert_eq!(frontier.counts().queued, URLS as u64 + 1);
    assert_eq!(drain(&mut frontier), URLS + 1);
    assert_eq!(frontier.counts().handed_out, URLS as u64 + 1);
    assert!(matches!(
        frontier.pop(Instant::now(), &mut |_| Ok(())),
        Pop::Finished
    ));

    let mut group = c.benchmark_group("frontier_100k_urls_1000_hosts");
    group.sample_size(10);
    group.throughput(Throughput::Elements(URLS as u64));
    group.bench_function("add_link", |b| {
        b.iter(|| filled(&seed, black_box(&links), &parent))
    });
    group.bench_function("pop_complete", |b| {
        b.iter_batched(
            || filled(&seed, &links, &parent),
            |mut frontier| drain(&mut frontier),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("add_link_pop_complete", |b| {
        b.iter(|| {
            let mut frontier = filled(&seed, black_box(&links), &parent);
            drain(&mut frontier)
        })
    });
    group.finish();
}

criterion_group!(benches, canonical, push_pop);
criterion_main!(benches);
