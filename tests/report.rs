//! `trawl report`: a crawl of the test site made into a page, the page
//! rendered by headless Chromium, its DOM and screenshot checked.
//!
//! Chromium is `$TEST_CHROMIUM` (CI sets it; then any failure of the
//! browser fails the test) or `/usr/bin/chromium`; with neither, the
//! browser half is skipped with a loud message.

mod common;

use std::collections::HashSet;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{FAST, Site, trawl, workdir, write_seeds};
use trawl_testsite::SiteConfig;

/// No browser run may take longer.
const BROWSER_LIMIT: Duration = Duration::from_secs(90);

const CHARTS: [&str; 8] = [
    "chart-status",
    "chart-errors",
    "chart-depth",
    "chart-hosts",
    "chart-types",
    "chart-sizes",
    "chart-latency",
    "chart-time",
];

/// A title that would mark the page if any of it ran (on the largest and
/// slowest record, so it is listed).
const HOSTILE_TITLE: &str = "<script>document.body.setAttribute('data-pwned','1')</script>\
     <img src=x onerror=\"document.body.setAttribute('data-pwned','2')\">";

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TEST_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let default = Path::new("/usr/bin/chromium");
    if default.exists() {
        return Some(default.to_owned());
    }
    eprintln!(
        "\n!!!!!!!! SKIPPING the browser half of tests/report.rs: no TEST_CHROMIUM and no \
         /usr/bin/chromium (apt-get install chromium; CI sets TEST_CHROMIUM) !!!!!!!!\n"
    );
    None
}

struct BrowserRun {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs headless Chromium on `page` with `extra` flags, in its own process
/// group (killed whole after `BROWSER_LIMIT`), with a fresh profile and
/// every background fetch it knows of turned off; host names resolve to
/// nothing, so even a stray reference could not reach the network.
fn browse(binary: &Path, page: &Path, extra: &[String]) -> BrowserRun {
    let profile = tempfile::tempdir().expect("profile dir");
    let url = url::Url::from_file_path(page).expect("absolute path");
    let mut command = Command::new(binary);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--disable-dev-shm-usage",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--window-size=1200,3000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url.as_str())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = command
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()));
    let group = child.id();
    let readers = [
        child.stdout.take().map(box_reader),
        child.stderr.take().map(box_reader),
    ]
    .map(|pipe| {
        let mut pipe = pipe.expect("piped");
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    });
    let (done, timer) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let late = timer.recv_timeout(BROWSER_LIMIT).is_err();
        if late {
            kill_group(group);
        }
        late
    });
    let status = child.wait().expect("wait for chromium");
    let _ = done.send(());
    let late = watchdog.join().unwrap_or(false);
    // Helpers the browser left behind would hold the pipes open.
    kill_group(group);
    let [stdout, stderr] = readers.map(|reader| reader.join().unwrap_or_default());
    assert!(
        !late,
        "chromium ran longer than {BROWSER_LIMIT:?} and was killed; stderr:\n{stderr}"
    );
    BrowserRun {
        success: status.success(),
        stdout,
        stderr,
    }
}

fn box_reader(pipe: impl Read + Send + 'static) -> Box<dyn Read + Send> {
    Box::new(pipe)
}

fn kill_group(group: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{group}")])
        .stderr(Stdio::null())
        .status();
}

/// Tags that could make the browser load something: any `src`, `srcset`,
/// an `href` outside `<a>`, `<script>`, `<link>`, `<img>` and friends, CSS
/// `url(` and `@import`.
fn loading_references(page: &str) -> Vec<String> {
    let mut found = Vec::new();
    let lower = page.to_ascii_lowercase();
    for (at, _) in lower.match_indices('<') {
        let end = lower[at..]
            .find('>')
            .map_or(lower.len(), |end| at + end + 1);
        let tag = &lower[at..end];
        let name: String = tag[1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if matches!(
            name.as_str(),
            "script" | "link" | "img" | "iframe" | "object" | "embed" | "image" | "use" | "base"
        ) || tag.contains(" src=")
            || tag.contains("srcset=")
            || (tag.contains("href=") && name != "a")
        {
            found.push(tag.to_owned());
        }
    }
    for css in ["url(", "@import"] {
        if lower.contains(css) {
            found.push(css.to_owned());
        }
    }
    found
}

/// The markup of one chart, `<svg id=ID ...>...</svg>`.
fn chart<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom
        .find(&format!("<svg id=\"{id}\""))
        .unwrap_or_else(|| panic!("no <svg id=\"{id}\"> in the rendered DOM"));
    let end = dom[start..].find("</svg>").expect("closed svg") + start;
    &dom[start..end]
}

/// `data-value`s of the bars in a chart's markup.
fn bar_values(svg: &str) -> Vec<u64> {
    svg.split("class=\"bar ")
        .skip(1)
        .map(|rest| {
            let value = rest
                .split("data-value=\"")
                .nth(1)
                .and_then(|v| v.split('"').next())
                .expect("a bar has a data-value");
            value.parse().expect("numeric data-value")
        })
        .collect()
}

fn hostile_record(site: &Site) -> String {
    serde_json::json!({
        "url": site.url("/hostile?\"><script>alert(1)</script>"),
        "final_url": site.url("/hostile"), "depth": 1, "parent": site.url("/"),
        "status": 200, "content_type": "text/html", "bytes": 9_000_000, "elapsed_ms": 40_000,
        "fetched_at": "2026-11-25T07:00:00.000Z", "title": HOSTILE_TITLE,
        "links": [], "nofollow_links": [], "redirects": [], "error": null,
        "charset": "UTF-8", "canonical": null, "noindex": false, "nofollow": false,
        "location": null, "attempts": 1
    })
    .to_string()
}

#[test]
fn a_crawl_report_renders_in_chromium_with_every_chart_and_loads_nothing() {
    let site = Site::start(SiteConfig {
        pages: 80,
        ..SiteConfig::default()
    });
    let dir = workdir();
    let not_found = site.url("/fault/status/404");
    let seeds = [
        site.url("/"),
        site.url(&format!("/fault/link-to?url={not_found}")),
        site.url("/fault/status/500"),
        site.url("/fault/reset"),
        site.url("/fault/gzip-page"),
        site.url("/fault/latin1?declared=header"),
        site.url("/fault/binary-as-html"),
        site.url("/fault/huge?bytes=300000"),
        site.url("/fault/slow-headers?ms=300"),
    ];
    let seed_refs: Vec<&str> = seeds.iter().map(String::as_str).collect();
    write_seeds(dir.path(), &seed_refs);
    let mut args = vec!["crawl", "seeds.txt", "--retries", "0"];
    args.extend_from_slice(FAST);
    let crawl = trawl(dir.path(), &args);
    assert!(crawl.status.success(), "{}", crawl.stderr);

    // A hostile record and two unreadable lines join the crawl's own.
    let jsonl = dir.path().join("output/crawl.jsonl");
    let records = common::line_count(&jsonl);
    assert!(records > 60, "{records} records");
    let mut text = std::fs::read_to_string(&jsonl).unwrap();
    text += &(hostile_record(&site) + "\nthis is not JSON\n{\"url\": \"no other field\"}\n");
    std::fs::write(&jsonl, text).unwrap();

    let report = trawl(dir.path(), &["report", "output/crawl.jsonl"]);
    assert!(report.status.success(), "{}", report.stderr);
    let page_path = dir.path().join("output/crawl.html");
    assert!(
        report.stderr.contains(&format!(
            "trawl: report: {} records from output/crawl.jsonl written to output/crawl.html",
            records + 1
        )),
        "{}",
        report.stderr
    );
    assert!(
        report.stderr.contains(&format!(
            "trawl: warning: 2 lines could not be read, first at line {}",
            records + 2
        )),
        "{}",
        report.stderr
    );
    let page = std::fs::read_to_string(&page_path).unwrap();
    assert_eq!(loading_references(&page), Vec::<String>::new());
    assert!(!page.to_ascii_lowercase().contains("<script"));
    assert!(page.contains(&format!(
        "2 lines could not be read, first at line {}",
        records + 2
    )));
    let base = site.url("/");
    for href in page.split("href=\"").skip(1) {
        let href = href.split('"').next().unwrap();
        assert!(
            href.starts_with(&base)
                || href.starts_with("http://outside.invalid/")
                || href.starts_with("https://outside.invalid/"),
            "a link to something not crawled: {href}"
        );
    }

    let Some(browser) = chromium() else {
        return;
    };
    let dom = browse(&browser, &page_path, &["--dump-dom".to_owned()]);
    assert!(
        dom.success,
        "chromium --dump-dom failed: {}\n{}",
        dom.stderr, dom.stdout
    );
    let dom = dom.stdout;
    assert!(dom.contains("<h1>Crawl report</h1>"), "{dom}");
    for id in CHARTS {
        let values = bar_values(chart(&dom, id));
        assert!(
            values.iter().any(|&value| value > 0),
            "{id} has no bar with data: {values:?}"
        );
    }
    let statuses = chart(&dom, "chart-status");
    for label in ["200", "404", "500", "no response"] {
        assert!(
            statuses.contains(&format!("data-label=\"{label}\"")),
            "{label}: {statuses}"
        );
    }
    assert!(chart(&dom, "chart-errors").contains("data-label=\"http\""));
    assert!(chart(&dom, "chart-time").contains("<path class=\"cumulative\""));
    // The hostile title is text: nothing ran, nothing was added.
    assert!(!dom.to_ascii_lowercase().contains("<script"));
    assert!(!dom.contains("<img"));
    assert!(!dom.contains("data-pwned=\""), "the title's script ran");
    assert!(
        dom.contains("&lt;script&gt;document.body.setAttribute('data-pwned','1')&lt;/script&gt;")
    );
    // The broken link names the page that linked it.
    let broken = dom.split("id=\"broken\"").nth(1).expect("broken links");
    assert!(broken.contains(&not_found));
    assert!(broken.contains("link-to?url="));

    let shot = dir.path().join("report.png");
    let run = browse(
        &browser,
        &page_path,
        &[format!("--screenshot={}", shot.display())],
    );
    assert!(run.success, "chromium --screenshot failed: {}", run.stderr);
    let (width, height, colours, inked) = png_facts(&shot);
    assert_eq!((width, height), (1200, 3000));
    assert!(
        colours >= 64,
        "only {colours} distinct colours: a blank page?"
    );
    assert!(
        inked > 0.03,
        "only {:.1}% of the pixels are not the background",
        inked * 100.0
    );
}

/// Width, height, distinct colours and the share of pixels unlike the
/// top-left one (the page's background).
fn png_facts(path: &Path) -> (u32, u32, usize, f64) {
    let file = std::fs::File::open(path)
        .unwrap_or_else(|error| panic!("no screenshot at {}: {error}", path.display()));
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a sane size")];
    let frame = reader.next_frame(&mut pixels).expect("a frame");
    let channels = frame.color_type.samples();
    let pixels = &pixels[..frame.buffer_size()];
    let background = &pixels[..channels];
    let mut colours = HashSet::new();
    let mut inked = 0usize;
    for pixel in pixels.chunks_exact(channels) {
        colours.insert(pixel.to_vec());
        if pixel != background {
            inked += 1;
        }
    }
    let total = (frame.width * frame.height) as f64;
    (
        frame.width,
        frame.height,
        colours.len(),
        inked as f64 / total,
    )
}

#[test]
fn report_errors_are_clear_and_the_output_can_go_anywhere() {
    let dir = workdir();
    let missing = trawl(dir.path(), &["report", "nothing.jsonl"]);
    assert_eq!(missing.status.code(), Some(1), "{}", missing.stderr);
    assert!(
        missing
            .stderr
            .starts_with("trawl: error: cannot read nothing.jsonl: "),
        "{}",
        missing.stderr
    );
    std::fs::write(dir.path().join("empty.jsonl"), "").unwrap();
    let run = trawl(
        dir.path(),
        &["report", "empty.jsonl", "-o", "deep/er/r.html", "--quiet"],
    );
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.stderr, "");
    let page = std::fs::read_to_string(dir.path().join("deep/er/r.html")).unwrap();
    assert!(page.contains("no data"));
    // A folder where the page should go: an error, not a panic.
    std::fs::create_dir(dir.path().join("taken.html")).unwrap();
    let taken = trawl(dir.path(), &["report", "empty.jsonl", "-o", "taken.html"]);
    assert_eq!(taken.status.code(), Some(1), "{}", taken.stderr);
    assert!(
        taken.stderr.contains("cannot write taken.html"),
        "{}",
        taken.stderr
    );
}
