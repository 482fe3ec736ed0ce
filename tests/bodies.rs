//! `--save-bodies`: every body saved once under its SHA-256, named in its
//! record.

mod common;

use std::collections::BTreeSet;

use sha2::Digest;

use common::{FAST, Site, read_records, trawl, workdir, write_seeds};
use trawl_testsite::SiteConfig;

#[test]
fn bodies_are_saved_once_each_under_their_hash() {
    let site = Site::start(SiteConfig {
        pages: 20,
        links_per_page: 2,
        ..SiteConfig::default()
    });
    let dir = workdir();
    let seeds = [
        site.url("/"),
        // Two URLs, one body.
        site.url("/fault/huge?bytes=5000"),
        site.url("/fault/huge?bytes=5000&again=1"),
        site.url("/fault/gzip-page"),
    ];
    let seed_refs: Vec<&str> = seeds.iter().map(String::as_str).collect();
    write_seeds(dir.path(), &seed_refs);
    let args: Vec<&str> = [
        "crawl",
        "seeds.txt",
        "-o",
        "crawl.jsonl",
        "--save-bodies",
        "bodies",
    ]
    .into_iter()
    .chain(FAST.iter().copied())
    .collect();
    let run = trawl(dir.path(), &args);
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("crawl.jsonl"));
    let mut paths = BTreeSet::new();
    for record in &records {
        let bytes = record["bytes"].as_u64().unwrap();
        if bytes == 0 {
            assert!(record.get("body_path").is_none(), "{record}");
            continue;
        }
        let sha = record["body_sha256"].as_str().expect("a body's hash");
        let path = record["body_path"].as_str().expect("a body's path");
        assert_eq!(
            std::path::Path::new(path),
            std::path::Path::new("bodies")
                .join(&sha[..2])
                .join(&sha[2..]),
            "content-addressed, not named after the URL"
        );
        let saved = std::fs::read(dir.path().join(path)).expect("the saved body");
        assert_eq!(saved.len() as u64, bytes, "{path}");
        let digest: String = sha2::Sha256::digest(&saved)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert_eq!(digest, sha, "{path}");
        paths.insert(path.to_owned());
    }
    let same = |query: &str| {
        records
            .iter()
            .find(|record| record["url"] == site.url(query).as_str())
            .unwrap()["body_path"]
            .clone()
    };
    assert_eq!(
        same("/fault/huge?bytes=5000"),
        same("/fault/huge?bytes=5000&again=1")
    );
    // One file per distinct body, nothing half-written left behind.
    let mut files = 0;
    for shard in std::fs::read_dir(dir.path().join("bodies")).unwrap() {
        for file in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            let name = file.unwrap().file_name();
            assert!(!name.to_string_lossy().starts_with(".tmp"), "{name:?}");
            files += 1;
        }
    }
    assert_eq!(files, paths.len());
}
