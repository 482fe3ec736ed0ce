//! The real-pages mode (`--dir PATH`): a folder of real HTML (the Rust
//! documentation, say) served by the test site's [`DirSite`] in this
//! process, on a two-thread runtime of its own (the synthetic site is a
//! process of its own for the same reason: on this process's
//! current-thread runtime it would be a one-thread server), crawled from
//! `--start` with a page limit by trawl, the
//! baseline and the peer, in rounds. There is no ground truth, so no
//! coverage; duplicates are counted in each crawler's output and the
//! server's request counts. The ceiling replays the requests trawl's first
//! crawl made (from the server's log) over keep-alive connections.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use trawl_testsite::DirSite;

use crate::cli::Options;
use crate::loadgen;
use crate::report::{self, Row};
use crate::run;

/// The rows of a real-pages run (the median round of each) and the number
/// of distinct paths trawl's first crawl requested.
pub async fn measure(options: &Options, dir: &Path) -> Result<(Vec<Row>, usize)> {
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("trawl-bench-dir-site")
        .enable_all()
        .build()
        .context("starting the folder server's runtime")?;
    let site = server
        .spawn(DirSite::start(dir.to_owned(), 0))
        .await
        .context("the folder server's start")?
        .with_context(|| format!("serving {}", dir.display()))?;
    let measured = rounds(options, dir, &site).await;
    drop(site);
    // Dropping a runtime would block this async context; its threads end
    // on their own.
    server.shutdown_background();
    measured
}

/// The measured rounds against `site`.
async fn rounds(options: &Options, dir: &Path, site: &DirSite) -> Result<(Vec<Row>, usize)> {
    let addr = site.addr();
    let none = HashSet::new();
    let mut paths: Option<Arc<Vec<String>>> = None;
    let mut rounds = Vec::new();
    for round in 1..=options.rounds {
        let mut crawls = Vec::new();
        for (name, binary) in crate::binaries(options) {
            eprintln!(
                "trawl-bench: round {round}: crawling {} with {}",
                dir.display(),
                binary.display()
            );
            let before = site.hits();
            let connections = site.connections();
            let crawl = run::crawl(binary, addr, &none, options)
                .await
                .with_context(|| format!("the {name} run ({})", binary.display()))?;
            report_connections(name, site.connections() - connections);
            if paths.is_none() {
                let after = site.hits();
                let requested: Vec<String> = after
                    .keys()
                    .filter(|path| after[*path] > before.get(*path).copied().unwrap_or(0))
                    .cloned()
                    .collect();
                paths = Some(Arc::new(requested));
            }
            crawls.push((name, crawl));
        }
        if let Some(peer) = &options.peer {
            eprintln!(
                "trawl-bench: round {round}: crawling with {}",
                peer.display()
            );
            let connections = site.connections();
            let crawl = run::crawl_peer(peer, addr, &none, options)
                .await
                .with_context(|| format!("the peer run ({})", peer.display()))?;
            report_connections("spider", site.connections() - connections);
            crawls.push(("spider", crawl));
        }
        let replay = paths.clone().unwrap_or_default();
        let load = tokio::time::timeout(
            options.timeout,
            loadgen::run(addr, Arc::clone(&replay), options.concurrency),
        )
        .await
        .context("the raw ceiling run timed out")?
        .context("the raw ceiling run failed")?;
        let raw = Row::raw(&load);
        let mut rows = vec![raw.clone()];
        rows.extend(
            crawls
                .iter()
                .map(|(name, crawl)| Row::crawl(name, crawl, raw.per_sec)),
        );
        rounds.push(rows);
    }
    let requested = paths.map_or(0, |paths| paths.len());
    Ok((report::median_rows(rounds), requested))
}

/// How many connections a crawler opened: crawlers at the same concurrency
/// may keep more or fewer, which moves their memory (each keeps a read
/// buffer) and the site's work.
fn report_connections(name: &str, opened: u64) {
    eprintln!("trawl-bench: {name} opened {opened} connections");
}
