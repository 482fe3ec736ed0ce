//! The `spider` crate (2.53.9, default features off) as a benchmark peer:
//! crawls one start URL at a given concurrency with robots.txt obeyed,
//! so trawl-bench can read every figure as a ratio against it in the same
//! run.
//!
//! `spider-peer URL [CONCURRENCY] [LIMIT] [JSONL]` (defaults 64, no limit,
//! no file; a LIMIT of 0 is none). Prints `pages N` on standard output;
//! with JSONL, also writes one `{"url":…,"status":null,"error":null}` line
//! per page visited (spider keeps no status with them), the shape
//! trawl-bench reads from trawl's output.
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
    // Pages are counted from the visited set after the crawl, not through
    // `subscribe`: its ring buffer keeps the last CAPACITY pages (bodies
    // included) alive, and a small one drops pages a busy reader missed.
    website.crawl().await;
    let visited = website.get_links();
    let count = visited.len() as u64;
    if let Some(out) = jsonl.as_mut() {
        for url in &visited {
            let url = url.as_ref().replace('\\', "\\\\").replace('"', "\\\"");
            // spider's visited set has no status; the bench counts URLs.
            let _ = writeln!(out, "{{\"url\":\"{url}\",\"status\":null,\"error\":null}}");
        }
    }
    if let Some(mut out) = jsonl {
        let _ = out.flush();
    }
    println!("pages {count}");
}
