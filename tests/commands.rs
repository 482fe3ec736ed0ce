//! `trawl demo`, `trawl completions` and `trawl man`.

mod common;

use common::{read_records, trawl, workdir};

#[test]
fn the_demo_serves_its_site_and_crawls_it_in_one_command() {
    let dir = workdir();
    let run = trawl(dir.path(), &["demo", "--pages", "60"]);
    assert!(run.status.success(), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("trawl: demo: serving 60 pages at http://127.0.0.1:"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("per-host rate is lifted"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Next, try:"), "{}", run.stderr);
    let page = std::fs::read_to_string(dir.path().join("output/crawl.html"))
        .expect("the demo writes its report");
    assert!(page.contains("<svg"), "the report has its charts");
    let records = read_records(&dir.path().join("output/crawl.jsonl"));
    assert!(records.len() > 30, "{} records", records.len());
    assert!(records.iter().all(|record| record["status"] == 200));
    let urls = common::unique_urls(&records);
    assert!(urls.iter().all(|url| url.starts_with("http://127.0.0.1:")));
    // A second demo starts over instead of refusing the old state.
    let again = trawl(dir.path(), &["demo", "--pages", "60", "--quiet"]);
    assert!(again.status.success(), "{}", again.stderr);
    assert_eq!(
        read_records(&dir.path().join("output/crawl.jsonl")).len(),
        records.len()
    );
}

#[test]
fn completions_for_every_shell_know_the_flags() {
    let dir = workdir();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = trawl(dir.path(), &["completions", shell]);
        assert!(run.status.success(), "{shell}: {}", run.stderr);
        for word in ["per-host-rate", "warc", "demo"] {
            assert!(run.stdout.contains(word), "{shell} completions lack {word}");
        }
    }
    // bash reads the script without a syntax error.
    let script = dir.path().join("trawl.bash");
    std::fs::write(&script, trawl(dir.path(), &["completions", "bash"]).stdout).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("run bash -n");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let run = trawl(dir.path(), &["completions", "tcsh"]);
    assert_eq!(
        run.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn the_man_page_is_roff_from_the_same_definitions_as_help() {
    let dir = workdir();
    let run = trawl(dir.path(), &["man"]);
    assert!(run.status.success(), "{}", run.stderr);
    assert!(
        run.stdout.contains(".TH trawl 1"),
        "{}",
        &run.stdout[..200.min(run.stdout.len())]
    );
    for word in ["crawl", "demo", "completions"] {
        assert!(run.stdout.contains(word), "the man page lacks {word}");
    }
    // Every option of `trawl crawl`, in its own section.
    assert!(run.stdout.contains(".SH \"CRAWL OPTIONS\""));
    for flag in ["per\\-host\\-rate", "save\\-cookies", "proxy", "frontier"] {
        assert!(run.stdout.contains(flag), "the man page lacks --{flag}");
    }
    // groff, with every warning on, has nothing to say about it.
    let page = dir.path().join("trawl.1");
    std::fs::write(&page, &run.stdout).unwrap();
    let lint = std::process::Command::new("groff")
        .args(["-man", "-ww", "-z"])
        .arg(&page)
        .output()
        .expect("run groff (Debian's groff-base)");
    assert!(lint.status.success());
    assert_eq!(String::from_utf8_lossy(&lint.stderr), "", "groff warnings");
}
