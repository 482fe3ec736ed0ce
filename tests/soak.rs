//! The kill -9 soak: a crawl of two thousand pages, archived, SIGKILLed
//! at ten random moments and resumed each time. Afterwards every page has
//! exactly one record, every line parses, and the archive is whole.
//!
//! The kill points come from `TEST_SOAK_SEED` (printed, so a failure can
//! be replayed) or, without it, from the clock.

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::time::Duration;

use common::{
    RUN_LIMIT, Site, parse_lines, send_signal, trawl, trawl_command, urls, wait_bounded,
    wait_for_lines, workdir, write_seeds,
};
use trawl_testsite::SiteConfig;

const PAGES: usize = 2000;
const KILLS: usize = 10;

/// A small deterministic generator (SplitMix64): the soak's randomness
/// must be replayable from its seed.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[test]
fn ten_kills_lose_nothing_and_duplicate_nothing() {
    let seed = std::env::var("TEST_SOAK_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |since| since.as_nanos() as u64)
        });
    eprintln!("soak: TEST_SOAK_SEED={seed}");
    let mut random = SplitMix(seed);
    let site = Site::start(SiteConfig {
        pages: PAGES,
        links_per_page: 6,
        // About 200 pages a second with 4 in flight: after the last kill
        // point (at most 80% of the site) seconds of crawl remain, more
        // than a 1-second flush writes at once, so every kill lands
        // mid-crawl.
        latency: Duration::from_millis(20),
        ..SiteConfig::default()
    });
    let reachable = site.site.reachable().len();
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let output = dir.path().join("crawl.jsonl");
    let base = [
        "crawl",
        "-o",
        "crawl.jsonl",
        "--warc",
        "crawl.warc.gz",
        "--quiet",
        "-c",
        "4",
        "--per-host-concurrency",
        "4",
        "--per-host-rate",
        "0",
        "--delay-factor",
        "0",
        // The queue and the seen-set live mostly on disk, so every kill
        // lands with scratch files open.
        "--max-queue-in-memory",
        "50",
        "--max-seen-in-memory",
        "100",
    ];
    // Ten increasing kill points, spread over the crawl.
    let mut points: Vec<usize> = (0..KILLS)
        .map(|_| 1 + (random.next() % (reachable as u64 * 8 / 10)) as usize)
        .collect();
    points.sort_unstable();
    points.dedup();
    for (round, kill_at) in points.iter().enumerate() {
        let mut args = base.to_vec();
        if round > 0 {
            args.push("--resume");
        }
        let mut child = trawl_command(dir.path(), &args)
            .spawn()
            .expect("spawn trawl");
        wait_for_lines(&output, *kill_at, &mut child);
        send_signal(child.id(), "KILL");
        let run = wait_bounded(child, RUN_LIMIT);
        assert!(!run.status.success(), "round {round}: killed (seed {seed})");
        assert_only_state_files(&dir.path().join("crawl.state"), round, seed);
    }
    let mut args = base.to_vec();
    args.push("--resume");
    let run = trawl(dir.path(), &args);
    assert!(
        run.status.success(),
        "final resume (seed {seed}): {}",
        run.stderr
    );

    let text = std::fs::read_to_string(&output).unwrap();
    assert!(text.ends_with('\n'), "whole lines only (seed {seed})");
    let records = parse_lines(&text);
    let recorded = urls(&records);
    let unique: BTreeSet<&String> = recorded.iter().collect();
    assert_eq!(
        unique.len(),
        recorded.len(),
        "a URL recorded twice (seed {seed})"
    );
    assert_eq!(unique.len(), reachable, "every page recorded (seed {seed})");

    // The archive decodes member by member to its end and has one
    // warcinfo; warcio checks every digest where it is available.
    let warc = dir.path().join("crawl.warc.gz");
    let mut archive = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(&warc).unwrap())
        .read_to_string(&mut archive)
        .unwrap_or_else(|error| panic!("the archive is torn (seed {seed}): {error}"));
    assert_eq!(archive.matches("WARC-Type: warcinfo").count(), 1);
    for record in &records {
        let uri = format!(
            "WARC-Target-URI: {}\r\n",
            record["final_url"].as_str().unwrap()
        );
        assert!(archive.contains(&uri), "{uri} not archived (seed {seed})");
    }
    if let Some(warcio) = std::env::var_os("TEST_WARCIO") {
        let check = std::process::Command::new(warcio)
            .arg("check")
            .arg(&warc)
            .output()
            .expect("run warcio");
        assert!(
            check.status.success(),
            "warcio check (seed {seed}): {}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
}

/// The spill file and the seen-set's runs have no names, so a SIGKILL
/// leaves nothing in the state folder but the state itself.
fn assert_only_state_files(state: &std::path::Path, round: usize, seed: u64) {
    let names: BTreeSet<String> = std::fs::read_dir(state)
        .unwrap_or_else(|error| panic!("round {round}: {}: {error}", state.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let own = ["meta.json", "queue.tsv", "cookies.txt"];
    let strays: Vec<&String> = names
        .iter()
        .filter(|name| !own.contains(&name.as_str()))
        .collect();
    assert!(
        strays.is_empty(),
        "round {round}: left in {} after SIGKILL: {strays:?} (seed {seed})",
        state.display()
    );
}
