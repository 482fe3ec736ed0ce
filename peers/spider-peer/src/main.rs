//! The `spider` crate (2.53.9, default features off) as a benchmark peer:
//! crawls one start URL at a given concurrency with robots.txt obeyed,
//! so trawl-bench can read every figure as a ratio against it in the same
//! run.
//!
//! `spider-peer URL [CONCURRENCY] [LIMIT] [JSONL]` (defaults 64, no limit,
//! no file; a LIMIT of 0 is none). Prints `pages N` on standard output;
//! with JSONL, also writes one `{"url":…,"status":…,"error":null}` line
//! per page received, the shape trawl-bench reads from trawl's output.
//! CPU and memory are measured from outside.

use std::io::Write;

use spider::website::Website;

// Printing the count is this program's whole job.
#[allow(clippy::print_stdout)]
#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        eprintln!("usage: spider-peer URL [CONCURRENCY] [LIMIT] [JSONL]");
        std::process::exit(2);
    };
    let number = |text: Option<String>, what: &str| -> Option<u64> {
        text.map(|text| {
            text.parse().unwrap_or_else(|_| {
                eprintln!("spider-peer: {what} must be a number, not {text:?}");
                std::process::exit(2);
            })
        })
    };
    let concurrency = number(args.next(), "CONCURRENCY").unwrap_or(64).max(1) as usize;
    let limit = number(args.next(), "LIMIT").filter(|&limit| limit > 0);
    let mut jsonl = args.next().map(|path| {
        std::io::BufWriter::new(std::fs::File::create(&path).unwrap_or_else(|error| {
            eprintln!("spider-peer: cannot write {path}: {error}");
            std::process::exit(1);
        }))
    });
    let mut website = Website::new(&url);
    website
        .with_respect_robots_txt(true)
        .with_concurrency_limit(Some(concurrency));
    if let Some(limit) = limit {
        website.with_limit(u32::try_from(limit).unwrap_or(u32::MAX));
    }
    // A small buffer, as spider's own examples use: a large one would hold
    // thousands of pages and inflate its memory.
    let mut pages = website.subscribe(16);
    let counter = tokio::spawn(async move {
        let mut count = 0u64;
        loop {
            match pages.recv().await {
                Ok(page) => {
                    count += 1;
                    if let Some(out) = jsonl.as_mut() {
                        let url = page.get_url().replace('\\', "\\\\").replace('"', "\\\"");
                        let status = page.status_code.as_u16();
                        let _ = writeln!(
                            out,
                            "{{\"url\":\"{url}\",\"status\":{status},\"error\":null}}"
                        );
                    }
                }
                // A slow reader skipped some: they were still received.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => count += missed,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
        if let Some(mut out) = jsonl {
            let _ = out.flush();
        }
        count
    });
    website.crawl().await;
    website.unsubscribe();
    let count = counter.await.unwrap_or(0);
    println!("pages {count}");
}
