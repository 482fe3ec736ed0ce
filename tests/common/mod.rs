//! Shared harness for the end-to-end tests: start the test site on
//! 127.0.0.1 (or another loopback address), run the real `trawl` binary against it, read its JSONL.

#![allow(dead_code)]

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use trawl_testsite::{SiteConfig, TestSite};

/// No single crawl in the suite may run longer than this; a hang fails the
/// test instead of stalling CI.
pub const RUN_LIMIT: Duration = Duration::from_secs(180);

/// The test site with the runtime that serves it.
pub struct Site {
    pub site: TestSite,
    runtime: tokio::runtime::Runtime,
}

impl Site {
    pub fn start(config: SiteConfig) -> Site {
        Site::serve(TestSite::start(config))
    }

    /// [`Site::start`] on another loopback address (e.g. 127.0.0.2).
    pub fn start_at(config: SiteConfig, ip: std::net::IpAddr) -> Site {
        Site::serve(TestSite::start_at(config, ip))
    }

    /// [`Site::start`] over HTTPS with a CA made for it
    /// ([`TestSite::start_tls`]).
    pub fn start_tls(config: SiteConfig, tls: trawl_testsite::TlsConfig) -> Site {
        Site::serve(TestSite::start_tls(config, tls))
    }

    /// Runs `starting` on a runtime of the site's own, which then serves it.
    fn serve(starting: impl std::future::Future<Output = std::io::Result<TestSite>>) -> Site {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("test runtime");
        let site = runtime.block_on(starting).expect("start test site");
        Site { site, runtime }
    }

    pub fn url(&self, path: &str) -> String {
        self.site.url(path)
    }

    /// A forward proxy on loopback, served by this site's runtime.
    pub fn proxy(&self, login: Option<(&str, &str)>) -> trawl_testsite::ForwardProxy {
        self.runtime
            .block_on(trawl_testsite::ForwardProxy::start(login))
            .expect("start the forward proxy")
    }

    /// [`Site::proxy`] speaking TLS to its clients (an `https://` proxy).
    pub fn tls_proxy(&self) -> trawl_testsite::ForwardProxy {
        self.runtime
            .block_on(trawl_testsite::ForwardProxy::start_tls(None))
            .expect("start the TLS forward proxy")
    }
}

impl Site {
    /// Every `name` header the site received, with the path it came with.
    pub fn headers_named(&self, name: &str) -> Vec<(String, String)> {
        self.site
            .requests()
            .into_iter()
            .flat_map(|request| {
                request
                    .headers
                    .into_iter()
                    .filter(|(header, _)| header == name)
                    .map(move |(_, value)| (request.path.clone(), value))
            })
            .collect()
    }
}

/// A gzip WARC's records as text (each member decompressed in turn).
pub fn warc_text(path: &Path) -> String {
    let mut bytes = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).expect("open the WARC"))
        .read_to_end(&mut bytes)
        .expect("read the WARC");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A scratch folder for seeds and output.
pub fn workdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

pub fn write_seeds(dir: &Path, lines: &[&str]) -> PathBuf {
    let path = dir.join("seeds.txt");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write seeds");
    path
}

/// What one run of the binary left behind.
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// The proxy variables trawl reads when no `--proxy` is given: a test
/// must never send its loopback traffic through the machine's proxy.
pub const PROXY_VARS: &[&str] = &[
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// `trawl ARGS` in `dir`, without the caller's `RUST_LOG`, `TRAWL_*` and
/// proxy variables (settings of their own; a test adds its own with
/// `.env`).
pub fn trawl_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trawl"));
    command
        .current_dir(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TRAWL_") {
            command.env_remove(name);
        }
    }
    for name in PROXY_VARS {
        command.env_remove(name);
    }
    command
}

/// Runs `trawl ARGS` in `dir` and waits (bounded by [`RUN_LIMIT`]).
pub fn trawl(dir: &Path, args: &[&str]) -> Run {
    let child = trawl_command(dir, args).spawn().expect("spawn trawl");
    wait_bounded(child, RUN_LIMIT)
}

/// Waits for `child`, killing it if it outlives `limit`.
pub fn wait_bounded(mut child: Child, limit: Duration) -> Run {
    let mut stdout = child.stdout.take().expect("stdout piped");
    let mut stderr = child.stderr.take().expect("stderr piped");
    let stdout_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let pid = child.id();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if done_rx.recv_timeout(limit).is_err() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            return true;
        }
        false
    });
    let status = child.wait().expect("wait for trawl");
    let _ = done_tx.send(());
    let killed = watchdog.join().unwrap_or(false);
    let run = Run {
        status,
        stdout: stdout_reader.join().unwrap_or_default(),
        stderr: stderr_reader.join().unwrap_or_default(),
    };
    assert!(
        !killed,
        "trawl ran longer than {limit:?} and was killed; stderr:\n{}",
        run.stderr
    );
    run
}

/// Every line of a JSONL text, parsed; a line that does not parse fails the
/// test naming it.
pub fn parse_lines(text: &str) -> Vec<Value> {
    text.lines()
        .enumerate()
        .map(|(index, line)| {
            serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("line {} is not JSON ({error}): {line}", index + 1))
        })
        .collect()
}

pub fn read_records(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "output must end with a whole line"
    );
    parse_lines(&text)
}

pub fn urls(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|record| record["url"].as_str().expect("url is a string").to_owned())
        .collect()
}

/// The URLs as a set, asserting none appears twice.
pub fn unique_urls(records: &[Value]) -> HashSet<String> {
    let mut set = HashSet::new();
    for url in urls(records) {
        assert!(set.insert(url.clone()), "URL recorded twice: {url}");
    }
    set
}

/// Flags that lift politeness limits so tests run fast against the local site.
pub const FAST: &[&str] = &[
    "--quiet",
    "--per-host-rate",
    "0",
    "--per-host-concurrency",
    "8",
    "-c",
    "16",
];

/// A loopback port that refuses connections for as long as the returned
/// socket lives: bound but not listening. A port bound and closed again
/// could be taken meanwhile by a test site of a test running beside
/// (they run in parallel), which then received the requests meant to fail.
pub fn refusing_port() -> (tokio::net::TcpSocket, u16) {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind("127.0.0.1:0".parse().expect("an address"))
        .expect("bind a loopback port");
    let port = socket.local_addr().expect("its address").port();
    (socket, port)
}

/// Whole lines written so far to `path` (a line being written is not one).
pub fn line_count(path: &Path) -> usize {
    std::fs::read(path)
        .map(|bytes| bytes.iter().filter(|&&b| b == b'\n').count())
        .unwrap_or(0)
}

/// Waits a moment on this plain test thread (there is no async runtime
/// here to block; clippy's guard is for the crawler's crates).
#[allow(clippy::disallowed_methods)]
pub fn pause(duration: Duration) {
    std::thread::sleep(duration);
}

/// Polls, for at most a minute, until `child` has written `lines` lines to
/// `path`; fails if the child exits first.
pub fn wait_for_lines(path: &Path, lines: usize, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while line_count(path) < lines {
        assert!(
            Instant::now() < deadline,
            "fewer than {lines} lines after 60 s"
        );
        assert!(
            child.try_wait().expect("poll trawl").is_none(),
            "trawl ended before writing {lines} lines"
        );
        pause(Duration::from_millis(20));
    }
}

/// Sends `signal` (`INT`, `KILL`) to a process.
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid}");
}
