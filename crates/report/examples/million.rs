//! Measurement (not a test): writes a synthetic crawl of N records (default
//! 1,000,000) as JSONL, makes its report, and prints the time and the peak
//! RSS of the report alone.
//!
//! `cargo run --release -p trawl-report --example million -- [RECORDS] [JSONL]`
//!
//! The file goes to JSONL (default: the temp folder, removed afterwards;
//! given a path, it is kept, and reused if it exists, e.g. for
//! `/usr/bin/time -v trawl report JSONL`). The records look like a big
//! crawl: 1,000 hosts, 8–23 links each (some to every host's home page,
//! many to one-off URLs), statuses and errors in realistic shares, sizes
//! and latencies over several orders of magnitude, an hour of fetch times.
//! Linux only: peak RSS is VmHWM from /proc/self/status, reset through
//! /proc/self/clear_refs once the file is written.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

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

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn write_crawl(path: &std::path::Path, records: u64) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = trawl_report::parse_utc_millis("2026-11-25T07:00:00Z").unwrap_or(0);
    let mut line = String::with_capacity(4096);
    for i in 0..records {
        line.clear();
        let host = rng.below(1000);
        let url = format!("https://h{host}.example/p/{i}");
        let roll = rng.below(1000);
        let (status, error, content_type) = match roll {
            0..=9 => (
                "null",
                r#"{"kind":"timeout","message":"deadline passed"}"#,
                "null",
            ),
            10..=29 => (
                "null",
                r#"{"kind":"robots_disallowed","message":"robots.txt"}"#,
                "null",
            ),
            30..=69 => (
                "404",
                r#"{"kind":"http","message":"404"}"#,
                r#""text/html""#,
            ),
            70..=79 => (
                "503",
                r#"{"kind":"http","message":"503"}"#,
                r#""text/html""#,
            ),
            80..=99 => ("301", "null", "null"),
            100..=129 => ("200", "null", r#""application/pdf""#),
            130..=159 => ("200", "null", r#""image/png""#),
            _ => ("200", "null", r#""text/html""#),
        };
        let bytes = if status == "200" {
            (1u64 << rng.below(20)) + rng.below(4096)
        } else {
            rng.below(512)
        };
        let elapsed = (1u64 << rng.below(12)) + rng.below(50);
        let at = start + (i as i64 * 3_600_000) / records.max(1) as i64;
        let title = serde_json::to_string(&format!("Page {i} <of> h{host} & \"friends\""))
            .unwrap_or_default();
        let _ = write!(
            line,
            r#"{{"url":"{url}","final_url":"{url}","depth":{},"parent":"https://h{host}.example/p/{}","status":{status},"content_type":{content_type},"bytes":{bytes},"elapsed_ms":{elapsed},"fetched_at":"{}Z","title":{title},"links":["#,
            rng.below(12),
            i / 2,
            trawl_report::format_utc_millis(at).replace(' ', "T"),
        );
        let links = 8 + rng.below(16);
        for link in 0..links {
            if link > 0 {
                line.push(',');
            }
            match rng.below(4) {
                0 => {
                    let _ = write!(line, r#""https://h{}.example/""#, rng.below(1000));
                }
                1 => {
                    let _ = write!(
                        line,
                        r#""https://h{host}.example/p/{}""#,
                        rng.below(1 << 20)
                    );
                }
                _ => {
                    let _ = write!(line, r#""https://h{host}.example/p/{}""#, rng.next());
                }
            }
        }
        let _ = write!(
            line,
            r#"],"nofollow_links":[],"redirects":[],"error":{error},"charset":"UTF-8","canonical":null,"noindex":false,"nofollow":false,"location":null,"attempts":1}}"#
        );
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    out.into_inner()
        .map_err(|error| error.into_error())?
        .sync_all()
}

// Printing the measurements is this program's whole job.
#[allow(clippy::print_stdout)]
fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let records: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let kept = args.next().map(PathBuf::from);
    let path = kept.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("trawl-million-{}.jsonl", std::process::id()))
    });
    if kept.is_none() || !path.exists() {
        let started = Instant::now();
        write_crawl(&path, records)?;
        println!(
            "wrote {records} records to {} in {:.1} s",
            path.display(),
            started.elapsed().as_secs_f64()
        );
    }
    let size = std::fs::metadata(&path)?.len();
    // Forget the peak of writing the file: measure the report alone.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_kib("VmHWM:");
    let output = path.with_extension("html");
    let started = Instant::now();
    let report = trawl_report::generate(&path, &output, trawl_report::Limits::default())
        .map_err(std::io::Error::other)?;
    let seconds = started.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM:");
    println!(
        "report of {} records ({} unreadable lines), {:.0} MiB of JSONL: {seconds:.2} s \
         ({:.0} records/s, {:.0} MiB/s), peak RSS {:.1} MiB (before reading: {:.1} MiB), \
         page {} KiB",
        report.records(),
        report.bad_lines(),
        size as f64 / 1048576.0,
        report.records() as f64 / seconds,
        size as f64 / 1048576.0 / seconds,
        peak as f64 / 1024.0,
        before as f64 / 1024.0,
        std::fs::metadata(&output)?.len() / 1024,
    );
    if kept.is_none() {
        std::fs::remove_file(&path)?;
        std::fs::remove_file(&output)?;
    }
    Ok(())
}
