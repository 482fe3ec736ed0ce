//! `--metrics`: the OpenMetrics endpoint, scraped while a crawl runs and
//! held to a strict parser (the Python `prometheus_client` OpenMetrics
//! parser: `TEST_PYTHON`, which `.ci/run` points at its virtual
//! environment, or a `python3` that has it).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Site, pause, trawl_command, workdir, write_seeds};
use trawl_testsite::SiteConfig;

fn scrape(addr: &str) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: trawl\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{head}"
    );
    Some(body.to_owned())
}

/// A Python with `prometheus_client`, if there is one.
fn python() -> Option<String> {
    if let Ok(python) = std::env::var("TEST_PYTHON") {
        return Some(python);
    }
    Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|_| "python3".to_owned())
}

#[test]
fn metrics_are_served_while_the_crawl_runs() {
    let site = Site::start(SiteConfig {
        pages: 150,
        links_per_page: 4,
        latency: Duration::from_millis(20),
        ..SiteConfig::default()
    });
    let dir = workdir();
    write_seeds(
        dir.path(),
        &[&site.url("/"), &site.url("/fault/status/404")],
    );
    let mut child = trawl_command(
        dir.path(),
        &[
            "crawl",
            "seeds.txt",
            "-o",
            "crawl.jsonl",
            "--metrics",
            "127.0.0.1:0",
            "--per-host-rate",
            "0",
            "--delay-factor",
            "0",
            "-c",
            "2",
            "--per-host-concurrency",
            "2",
        ],
    )
    .spawn()
    .expect("spawn trawl");
    let stderr = child.stderr.take().expect("stderr piped");
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let addr = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("trawl says where the metrics are");
        if let Some(rest) = line.strip_prefix("trawl: metrics at http://") {
            break rest.trim_end_matches("/metrics").to_owned();
        }
    };
    // Scrape until the first pages are counted (bounded: 60 s).
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        if let Some(text) = scrape(&addr)
            && text.contains("trawl_pages_total{class=\"2xx\"}")
        {
            break text;
        }
        assert!(Instant::now() < deadline, "no page counted within 60 s");
        pause(Duration::from_millis(50));
    };
    let still_running = child.try_wait().expect("poll trawl").is_none();
    assert!(still_running, "scraped mid-crawl");
    for family in [
        "# TYPE trawl_pages counter",
        "# TYPE trawl_body_bytes counter",
        "# TYPE trawl_fetch_duration_seconds histogram",
        "# TYPE trawl_queued_urls gauge",
        "# TYPE trawl_in_flight_urls gauge",
        "# TYPE trawl_hosts_known gauge",
        "# TYPE trawl_hosts_active gauge",
        "# TYPE trawl_robots_fetches counter",
        "# TYPE trawl_retries counter",
        "# TYPE trawl_start_time_seconds gauge",
    ] {
        assert!(text.contains(family), "{family} missing:\n{text}");
    }
    assert!(text.ends_with("# EOF\n"));
    assert!(!text.contains(&site.url("/")), "no per-URL labels");
    if let Some(python) = python() {
        let mut parser = Command::new(python)
            .args([
                "-c",
                "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families\nfamilies = list(text_string_to_metric_families(sys.stdin.read()))\nprint(len(families))",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run python");
        parser
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let output = parser.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "the OpenMetrics parser refused the text: {}\n{text}",
            String::from_utf8_lossy(&output.stderr)
        );
    } else {
        eprintln!(
            "prometheus_client not found: set TEST_PYTHON (as .ci/run does) to check the format strictly"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll trawl") {
            break status;
        }
        assert!(Instant::now() < deadline, "the crawl did not finish");
        pause(Duration::from_millis(50));
    };
    assert!(status.success());
}
