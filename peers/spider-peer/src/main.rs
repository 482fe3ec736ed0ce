//! The `spider` crate (2.53.9, default features off) as a benchmark peer:
//! crawls one start URL at a given concurrency with robots.txt obeyed,
//! and prints how many pages it received, so trawl-bench can read every
//! figure as a ratio against it in the same run.
//!
//! `spider-peer URL [CONCURRENCY] [LIMIT]` (defaults 64 and no limit). Prints `pages N` on
//! standard output; CPU and memory are measured from outside.

use spider::website::Website;

// Printing the count is this program's whole job.
#[allow(clippy::print_stdout)]
#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        eprintln!("usage: spider-peer URL [CONCURRENCY] [LIMIT]");
        std::process::exit(2);
    };
    let concurrency: usize = match args.next().map(|text| text.parse()) {
        None => 64,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("spider-peer: CONCURRENCY must be a positive number");
            std::process::exit(2);
        }
    };
    let limit: Option<u32> = match args.next().map(|text| text.parse()) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            eprintln!("spider-peer: LIMIT must be a number of pages");
            std::process::exit(2);
        }
    };
    let mut website = Website::new(&url);
    website
        .with_respect_robots_txt(true)
        .with_concurrency_limit(Some(concurrency));
    if let Some(limit) = limit {
        website.with_limit(limit);
    }
    // A small buffer, as spider's own examples use: a large one would hold
    // thousands of pages and inflate its memory.
    let mut pages = website.subscribe(16);
    let counter = tokio::spawn(async move {
        let mut count = 0u64;
        loop {
            match pages.recv().await {
                Ok(_) => count += 1,
                // A slow reader skipped some: they were still received.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => count += missed,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
        count
    });
    website.crawl().await;
    website.unsubscribe();
    let count = counter.await.unwrap_or(0);
    println!("pages {count}");
}
