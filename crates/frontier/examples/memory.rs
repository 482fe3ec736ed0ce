//! Memory benchmark (not a test): enqueues N synthetic URLs over H hosts,
//! then drains them, and reports peak RSS and bytes per URL.
//!
//! `cargo run --release -p trawl-frontier --example memory -- [URLS] [HOSTS] [spill|memory] [SEEN]`
//! (defaults 10,000,000, 10,000, `spill` and 3,500,000: queued URLs beyond
//! 100,000 spill to a file in the temp folder and seen-set fingerprints
//! beyond SEEN move to disk, as `trawl crawl` does; SEEN `all` keeps the
//! whole seen-set in memory). Linux only: it reads VmHWM/VmRSS from
//! /proc/self/status.

use std::sync::Arc;
use std::time::Instant;

use trawl_frontier::{
    CanonicalUrl, Claim, Entry, Found, FrontierStore, Limits, LocalConfig, LocalStore, Scope,
    ScopeMode, SpillConfig,
};

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|value| value.parse().ok())
        })
        .unwrap_or(0)
}

// Printing the measurements is this program's whole job.
#[allow(clippy::print_stdout)]
fn main() {
    let mut args = std::env::args().skip(1);
    let urls: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let hosts: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let baseline_kib = status_kib("VmRSS:");
    let limits = Limits {
        per_host_concurrency: u32::MAX,
        ..Limits::default()
    };
    let spill = args.next().as_deref() != Some("memory");
    let seen_hot_budget = match args.next().as_deref() {
        Some("all") => None,
        Some(text) => Some(text.parse().expect("SEEN is a number or `all`")),
        None => Some(3_500_000),
    };
    let scope = Scope::new(ScopeMode::Any, Vec::new(), Vec::new());
    let mut config = LocalConfig::new(scope, limits);
    if spill {
        config.spill = Some(SpillConfig {
            dir: std::env::temp_dir(),
            hot_budget: 100_000,
            chunk_entries: 4096,
            seen_hot_budget,
        });
    }
    let store = LocalStore::new(config).expect("spill file in the temp folder");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    let started = Instant::now();
    let mut parents: Vec<Arc<str>> = (0..hosts)
        .map(|h| Arc::from(format!("http://host{h}.example/")))
        .collect();
    runtime.block_on(async {
        for i in 0..urls {
            let host = i % hosts;
            let url = CanonicalUrl::parse(&format!(
                "http://host{host}.example/section/{}/page-{i}.html?ref=list",
                i % 97
            ))
            .expect("synthetic URL");
            let entry = Entry::link(url, 1, &parents[host as usize]);
            store.add(vec![entry], Found::Link).await.expect("add");
        }
    });
    parents.clear();
    let enqueue_secs = started.elapsed().as_secs_f64();
    let counts = store.counts();
    let peak_after_enqueue = status_kib("VmHWM:");
    let started = Instant::now();
    let now = std::time::Instant::now();
    let open = |_: &str, _: std::time::Instant| Ok(());
    let mut drained = 0u64;
    let mut spill_error = None;
    runtime.block_on(async {
        loop {
            match store.claim(64, now, &open).await {
                Ok(Claim::Ready(leases)) => {
                    for lease in leases {
                        store.complete(lease.token);
                        drained += 1;
                    }
                }
                Ok(_) => break,
                Err(error) => {
                    spill_error = Some(error);
                    break;
                }
            }
        }
    });
    let drain_secs = started.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM:");
    let per_url = (peak_after_enqueue.saturating_sub(baseline_kib) * 1024) as f64 / urls as f64;
    println!(
        "mode             {}",
        if spill {
            "spill (100,000 URLs in memory)"
        } else {
            "all in memory"
        }
    );
    println!(
        "seen-set         {}",
        match (spill, seen_hot_budget) {
            (true, Some(budget)) => format!("{budget} in memory, the rest on disk"),
            _ => "all in memory".to_owned(),
        }
    );
    println!("urls queued      {}", counts.queued);
    println!("hosts            {}", counts.hosts);
    println!(
        "enqueue          {enqueue_secs:.1} s ({:.2} M URLs/s)",
        urls as f64 / enqueue_secs / 1e6
    );
    println!("drain            {drain_secs:.1} s ({drained} popped)");
    if let Some(error) = spill_error {
        println!("spill error      {error}");
    }
    println!("peak RSS         {:.0} MiB", peak as f64 / 1024.0);
    println!("bytes per URL    {per_url:.0} (peak RSS growth while queued / URLs)");
}
