//! The `trawl-testsite` binary: flags, the first stdout line the benchmark
//! parses (`listening on http://ADDR (N reachable pages)`), and serving.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Kills the site when the test ends, even when it fails.
#[derive(Debug)]
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        // Already gone is fine; reap it either way.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn testsite() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trawl-testsite"))
}

/// One GET with `Connection: close`; the whole response as text.
fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout set");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request written");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    response
}

#[test]
fn the_binary_announces_its_address_and_serves_a_big_site() {
    let mut child = testsite()
        .args(["--port", "0", "--pages", "20000", "--links", "5"])
        .args([
            "--page-bytes",
            "4096",
            "--seed",
            "3",
            "--profile",
            "uniform",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout piped");
    let _running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line read");
    let rest = line
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let (addr, count) = rest.split_once(" (").expect("address, then the count");
    let addr: SocketAddr = addr.parse().expect("an address");
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    let reachable: usize = count
        .strip_suffix(" reachable pages)\n")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected count in {line:?}"));
    assert!((19_000..20_000).contains(&reachable), "{reachable}");

    let root = get(addr, "/");
    assert!(root.starts_with("HTTP/1.1 200 "), "{root}");
    assert!(root.contains("<title>Page 0</title>"));
    let last = get(addr, "/p/19999");
    assert!(last.contains("<title>Page 19999</title>"));
    assert!(last.len() > 4000, "{} bytes", last.len());
}

#[test]
fn bad_flags_are_refused_with_usage() {
    for args in [&["--pages", "many"][..], &["--colour", "red"], &["--port"]] {
        let output = testsite().args(args).output().expect("binary runs");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.is_empty(), "{args:?}");
    }
    let help = testsite().arg("--help").output().expect("binary runs");
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).starts_with("usage: trawl-testsite"));
}
