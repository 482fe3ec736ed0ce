//! Crash safety: kill -9 at several points, resume each time, and nothing
//! is lost, nothing recorded twice, every line whole. Plus the guard rails
//! around state folders and a full disk.

mod common;

use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

use common::{
    RUN_LIMIT, Site, line_count, parse_lines, send_signal, trawl, trawl_command, urls,
    wait_bounded, wait_for_lines, workdir, write_seeds,
};
use trawl_testsite::SiteConfig;

const CRAWL: &[&str] = &[
    "crawl",
    "-o",
    "out/crawl.jsonl",
    "--per-host-rate",
    "0",
    "--delay-factor",
    "0",
    "-c",
    "8",
    "--per-host-concurrency",
    "8",
    "--quiet",
];

fn with(extra: &[&'static str]) -> Vec<&'static str> {
    CRAWL.iter().chain(extra).copied().collect()
}

#[test]
fn killed_crawls_resume_without_loss_or_duplicates() {
    let site = Site::start(SiteConfig {
        pages: 1500,
        links_per_page: 8,
        // Slow enough that every round passes its kill point before the
        // crawl could finish between two 1-second flushes.
        latency: Duration::from_millis(20),
        ..SiteConfig::default()
    });
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let output = dir.path().join("out/crawl.jsonl");
    for (round, kill_at) in [60, 400, 900].into_iter().enumerate() {
        let args = if round == 0 {
            with(&[])
        } else {
            with(&["--resume"])
        };
        let mut child = trawl_command(dir.path(), &args)
            .spawn()
            .expect("spawn trawl");
        wait_for_lines(&output, kill_at, &mut child);
        send_signal(child.id(), "KILL");
        let run = wait_bounded(child, RUN_LIMIT);
        assert!(!run.status.success(), "killed");
        assert!(
            dir.path().join("out/crawl.state/queue.tsv").exists(),
            "state survives a kill"
        );
    }
    let run = trawl(dir.path(), &with(&["--resume"]));
    assert!(run.status.success(), "final resume: {}", run.stderr);
    let text = std::fs::read_to_string(&output).unwrap();
    assert!(text.ends_with('\n'));
    let records = parse_lines(&text);
    let recorded = urls(&records);
    let unique: HashSet<&String> = recorded.iter().collect();
    assert_eq!(
        unique.len(),
        recorded.len(),
        "a URL was recorded twice across kills"
    );
    let expected: HashSet<String> = site.site.reachable().keys().cloned().collect();
    let got: HashSet<String> = recorded.into_iter().collect();
    assert_eq!(
        got, expected,
        "the union of all runs covers every reachable page"
    );
    assert!(
        !dir.path().join("out/crawl.state").exists(),
        "a finished crawl leaves no state behind"
    );
    // URLs in flight or not yet flushed at a kill are fetched again
    // (at-least-once), but a resume never starts the crawl over.
    let pages = site
        .site
        .requests()
        .iter()
        .filter(|r| r.path != "/robots.txt")
        .count();
    assert!(
        pages < expected.len() * 3 / 2,
        "{pages} requests for {} pages",
        expected.len()
    );
}

#[test]
fn existing_state_needs_resume_or_fresh() {
    let site = Site::start(SiteConfig {
        pages: 3000,
        links_per_page: 8,
        latency: Duration::from_millis(20),
        ..SiteConfig::default()
    });
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let output = dir.path().join("out/crawl.jsonl");
    let mut child = trawl_command(dir.path(), &with(&[])).spawn().unwrap();
    wait_for_lines(&output, 10, &mut child);
    send_signal(child.id(), "KILL");
    wait_bounded(child, RUN_LIMIT);
    let before = std::fs::read(&output).unwrap();

    let run = trawl(dir.path(), &with(&[]));
    assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("--resume") && run.stderr.contains("--fresh"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read(&output).unwrap(),
        before,
        "refusing must not touch the output"
    );

    let run = trawl(dir.path(), &with(&["--fresh", "--max-pages", "5"]));
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(line_count(&output), 5, "--fresh starts over");

    let run = trawl(dir.path(), &with(&["--resume"]));
    assert_eq!(run.status.code(), Some(2));
    assert!(run.stderr.contains("nothing to resume"), "{}", run.stderr);
}

#[test]
fn state_from_another_version_is_a_clear_error() {
    let dir = workdir();
    write_seeds(dir.path(), &["http://127.0.0.1:9/"]);
    let state = dir.path().join("out/crawl.state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(
        state.join("meta.json"),
        r#"{"format":"trawl-state","version":0}"#,
    )
    .unwrap();
    let run = trawl(dir.path(), &with(&["--resume"]));
    assert_eq!(run.status.code(), Some(2));
    assert!(run.stderr.contains("another version"), "{}", run.stderr);
    std::fs::write(state.join("meta.json"), "\u{0}\u{1}garbage").unwrap();
    let run = trawl(dir.path(), &with(&["--resume"]));
    assert_eq!(run.status.code(), Some(2));
    assert!(run.stderr.contains("corrupt"), "{}", run.stderr);
}

#[test]
fn a_full_disk_is_a_clear_error_and_leaves_whole_lines() {
    let site = Site::start(SiteConfig {
        pages: 2000,
        links_per_page: 8,
        ..SiteConfig::default()
    });
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    // A 64 KiB file-size limit stands in for a full disk; SIGXFSZ is
    // ignored so writes fail with EFBIG as they would with ENOSPC.
    let script = format!(
        "trap '' XFSZ; ulimit -f 64; exec '{}' crawl -o out/crawl.jsonl --per-host-rate 0 --delay-factor 0 -c 8 --per-host-concurrency 8 --quiet",
        env!("CARGO_BIN_EXE_trawl")
    );
    let mut command = Command::new("bash");
    // As trawl_command does: CI's TEST_WARCIO, TEST_CHROMIUM, ... are
    // not settings, and trawl refuses unknown TRAWL_* variables.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TRAWL_") {
            command.env_remove(name);
        }
    }
    let child = command
        .arg("-c")
        .arg(script)
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let run = wait_bounded(child, RUN_LIMIT);
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("cannot write"), "{}", run.stderr);
    let text = std::fs::read_to_string(dir.path().join("out/crawl.jsonl")).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "no half-written line"
    );
    let records = parse_lines(&text);
    assert!(records.len() < site.site.reachable().len());
}
