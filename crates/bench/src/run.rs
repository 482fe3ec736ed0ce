//! The processes: the test site, the measured crawls, and what they wrote.

use std::collections::{BTreeSet, HashSet};
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::resource::{UsageWho, getrusage};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use trawl_testsite::{PageProfile, SiteConfig, TestSite};

use crate::cli::{MEASURE, ManyHosts, Options};

mod output;
pub use output::{CrawlOutput, analyse_output};

/// The test site binary running as a child process. Killed on drop, so an
/// error anywhere in the benchmark does not leave it behind.
#[derive(Debug)]
pub struct SiteProcess {
    child: Child,
    pub addr: SocketAddr,
}

impl SiteProcess {
    /// Starts `trawl-testsite` on a free port and waits (at most `timeout`)
    /// for its `listening on http://ADDR (...)` line (and, in many-hosts
    /// mode, for the `virtual hosts ...` line that says it routes by Host).
    pub async fn start(options: &Options, timeout: Duration) -> Result<SiteProcess> {
        let mut command = Command::new(&options.testsite);
        command
            .args(["--port", "0"])
            .args(["--pages", &options.pages.to_string()])
            .args(["--links", &options.links.to_string()])
            .args(["--page-bytes", &options.page_bytes.to_string()])
            .args(["--seed", &options.seed.to_string()]);
        if let Some(many) = &options.many_hosts {
            command.args(["--hosts", &many.hosts.to_string()]);
        }
        command.args([
            "--profile",
            match options.profile {
                PageProfile::Uniform => "uniform",
                PageProfile::Realistic => "realistic",
            },
        ]);
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "cannot start {} (build it: cargo build --release -p trawl-testsite)",
                    options.testsite.display()
                )
            })?;
        let stdout = child.stdout.take().context("test site stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(timeout, lines.next_line())
            .await
            .context("test site did not print its address in time")?
            .context("reading the test site's stdout")?
            .context("test site exited before printing its address")?;
        let addr = parse_listening_line(&line)?;
        if let Some(many) = &options.many_hosts {
            let line = tokio::time::timeout(timeout, lines.next_line())
                .await
                .context("test site did not announce its virtual hosts in time")?
                .context("reading the test site's stdout")?
                .context("test site printed no virtual hosts line (does it know --hosts?)")?;
            check_vhosts_line(&line, many.hosts, addr.port())?;
        }
        Ok(SiteProcess { child, addr })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Kills the site and reaps it.
    pub async fn stop(mut self) -> Result<()> {
        self.child.start_kill().context("killing the test site")?;
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .context("test site did not exit after SIGKILL")?
            .context("waiting for the test site")?;
        Ok(())
    }
}

/// `listening on http://127.0.0.1:PORT (N reachable pages)` → the address.
pub fn parse_listening_line(line: &str) -> Result<SocketAddr> {
    let rest = line
        .strip_prefix("listening on http://")
        .with_context(|| format!("unexpected first line from the test site: {line:?}"))?;
    let addr = rest.split_whitespace().next().unwrap_or_default();
    addr.parse()
        .with_context(|| format!("bad address {addr:?} in {line:?}"))
}

/// Checks `virtual hosts h0.test … h{H-1}.test on port PORT (...)`.
pub fn check_vhosts_line(line: &str, hosts: usize, port: u16) -> Result<()> {
    let ok = line.starts_with("virtual hosts ")
        && line.contains(&format!(" {} ", TestSite::vhost(0)))
        && line.contains(&format!(" {} ", TestSite::vhost(hosts.saturating_sub(1))))
        && line.contains(&format!("on port {port}"));
    if !ok {
        bail!("expected {hosts} virtual hosts on port {port} from the test site, got {line:?}");
    }
    Ok(())
}

/// The synthetic site `options` describe (pages, links, seed, size,
/// profile), without robots.txt or latency.
pub fn site_config(options: &Options) -> SiteConfig {
    SiteConfig {
        pages: options.pages,
        links_per_page: options.links,
        seed: options.seed,
        page_bytes: options.page_bytes,
        robots_txt: None,
        latency: Duration::ZERO,
        profile: options.profile,
        ..SiteConfig::default()
    }
}

/// Every reachable path (`/`, `/p/i`) of the site `options` describes, from
/// an in-process copy: the link graph depends on pages, links and seed only,
/// not on the port.
pub async fn ground_truth(options: &Options) -> Result<BTreeSet<String>> {
    let site = TestSite::start(site_config(options))
        .await
        .context("starting the in-process test site for the ground truth")?;
    let base = site.base_url();
    let paths = site
        .reachable()
        .into_keys()
        .map(|url| match url.strip_prefix(&base) {
            Some(path) => Ok(path.to_owned()),
            None => bail!("reachable URL {url} is not under {base}"),
        })
        .collect::<Result<_>>()?;
    site.shutdown().await;
    Ok(paths)
}

/// The reachable page URLs of the single-host site at `base`.
pub fn site_urls(base: &str, paths: &BTreeSet<String>) -> HashSet<String> {
    paths.iter().map(|path| format!("{base}{path}")).collect()
}

/// The host part of virtual host `index`'s URLs: `h{index}.test:PORT`.
pub fn vhost_authority(index: usize, port: u16) -> String {
    format!("{}:{port}", TestSite::vhost(index))
}

/// The reachable page URLs of every virtual host (`http://hK.test:PORT/path`):
/// each host serves the same paths.
pub fn vhost_urls(hosts: usize, port: u16, paths: &BTreeSet<String>) -> HashSet<String> {
    (0..hosts)
        .flat_map(|index| {
            let authority = vhost_authority(index, port);
            paths
                .iter()
                .map(move |path| format!("http://{authority}{path}"))
        })
        .collect()
}

/// The seed file of the many-hosts mode: every virtual host's root.
pub fn vhost_seeds(hosts: usize, port: u16) -> String {
    (0..hosts)
        .map(|index| format!("http://{}/\n", vhost_authority(index, port)))
        .collect()
}

/// A trawl config file (TOML) with `resolve = ["hK.test:PORT:ADDR", ...]`
/// for every virtual host (trawl's `--resolve` takes exact host names, one
/// each). A file, not `--resolve` arguments: 100,000 hosts would make a
/// command line past the kernel's limit (`ARG_MAX`).
pub fn resolve_config(hosts: usize, port: u16, addr: std::net::IpAddr) -> String {
    let mut toml = String::from("resolve = [\n");
    for index in 0..hosts {
        toml.push_str(&format!("  \"{}:{addr}\",\n", vhost_authority(index, port)));
    }
    toml.push_str("]\n");
    toml
}

/// trawl's arguments for one benchmark crawl (without `--delay-factor`,
/// added when the binary knows it, and without `--trawl-arg`s). In the
/// many-hosts mode `config` is the [`resolve_config`] file.
pub fn crawl_args(options: &Options, seeds: &str, out: &str, config: Option<&str>) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "crawl".into(),
        seeds.into(),
        "-o".into(),
        out.into(),
        "-c".into(),
        options.concurrency.to_string(),
        "--quiet".into(),
    ];
    match &options.many_hosts {
        // The benchmark lifts politeness limits (the rate mode sets one
        // rate per run).
        None => {
            args.extend([
                "--per-host-concurrency".into(),
                options.concurrency.to_string(),
                "--per-host-rate".into(),
                options.per_host_rate.to_string(),
            ]);
            if let Some(max) = options.max_pages {
                args.extend(["--max-pages".into(), max.to_string()]);
            }
        }
        // Politeness is what is measured: trawl's own limits, nothing else.
        Some(ManyHosts {
            rate,
            per_host_concurrency,
            ..
        }) => {
            args.extend([
                "--per-host-concurrency".into(),
                per_host_concurrency.to_string(),
                "--per-host-rate".into(),
                rate.to_string(),
            ]);
        }
    }
    if let Some(config) = config {
        args.extend(["--config".into(), config.into()]);
    }
    args
}

/// `TcpExt: ListenOverflows` from `/proc/net/netstat`: connections the
/// kernel dropped because a listener's accept queue was full (system-wide).
/// Each one costs the client a SYN retransmission (1 s at first), which in
/// many-hosts mode delays that host's whole crawl.
pub fn listen_overflows(netstat: &str) -> Option<u64> {
    let mut lines = netstat.lines();
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        let (Some(("TcpExt", names)), Some(("TcpExt", values))) =
            (names.split_once(':'), values.split_once(':'))
        else {
            continue;
        };
        let index = names
            .split_whitespace()
            .position(|name| name == "ListenOverflows")?;
        return values.split_whitespace().nth(index)?.parse().ok();
    }
    None
}

/// [`listen_overflows`] now, if this system reports it.
pub fn read_listen_overflows() -> Option<u64> {
    listen_overflows(&std::fs::read_to_string("/proc/net/netstat").ok()?)
}

/// Wall time and resources of one child process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub wall: Duration,
    pub cpu: Duration,
    pub max_rss_kib: u64,
    pub exit_code: Option<i32>,
}

/// The internal `__measure` mode: runs `program` as this process's only
/// child, bounded by `timeout`, and returns its usage.
pub async fn measure_child(timeout: Duration, program: &Path, args: &[String]) -> Result<Usage> {
    // trawl's stdout (empty with -o FILE) goes to our stderr: our stdout
    // carries the measurement.
    let stdout = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .context("duplicating stderr")?;
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", program.display()))?;
    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => status.context("waiting for the measured process")?,
        Err(_) => {
            let _ = child.kill().await;
            bail!("{} did not finish within {timeout:?}", program.display());
        }
    };
    let wall = started.elapsed();
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).context("getrusage")?;
    let micros = |tv: nix::sys::time::TimeVal| {
        Duration::from_secs(tv.tv_sec() as u64) + Duration::from_micros(tv.tv_usec() as u64)
    };
    Ok(Usage {
        wall,
        cpu: micros(usage.user_time()) + micros(usage.system_time()),
        // Linux reports ru_maxrss in KiB.
        max_rss_kib: usage.max_rss() as u64,
        exit_code: status.code(),
    })
}

pub fn usage_to_json(usage: &Usage) -> Value {
    serde_json::json!({
        "wall_us": usage.wall.as_micros() as u64,
        "cpu_us": usage.cpu.as_micros() as u64,
        "max_rss_kib": usage.max_rss_kib,
        "exit_code": usage.exit_code,
    })
}

pub fn usage_from_json(text: &str) -> Result<Usage> {
    let value: Value =
        serde_json::from_str(text.trim()).with_context(|| format!("bad measurement {text:?}"))?;
    let field = |name: &str| {
        value[name]
            .as_u64()
            .with_context(|| format!("measurement without {name}: {text:?}"))
    };
    Ok(Usage {
        wall: Duration::from_micros(field("wall_us")?),
        cpu: Duration::from_micros(field("cpu_us")?),
        max_rss_kib: field("max_rss_kib")?,
        exit_code: value["exit_code"].as_i64().map(|code| code as i32),
    })
}

/// One measured crawl.
#[derive(Debug, Clone, PartialEq)]
pub struct CrawlRun {
    pub binary: PathBuf,
    pub usage: Usage,
    pub output: CrawlOutput,
}

impl CrawlRun {
    /// The run, said on stderr as it ends: the table shows one round per
    /// row, and a peak RSS is worth reading across all of them.
    fn measured(binary: &Path, usage: Usage, output: CrawlOutput) -> CrawlRun {
        eprintln!(
            "trawl-bench: {}: {} records in {:.2} s, {:.0} us CPU per record, peak RSS {:.1} MiB",
            binary.display(),
            output.records,
            usage.wall.as_secs_f64(),
            usage.cpu.as_secs_f64() * 1e6 / output.records.max(1) as f64,
            usage.max_rss_kib as f64 / 1024.0
        );
        CrawlRun {
            binary: binary.to_owned(),
            usage,
            output,
        }
    }
}

/// Crawls the site with `binary` (through the `__measure` mode of this
/// executable) and analyses what it wrote.
pub async fn crawl(
    binary: &Path,
    site: SocketAddr,
    truth: &HashSet<String>,
    options: &Options,
) -> Result<CrawlRun> {
    let dir = tempfile::tempdir().context("creating a temp dir")?;
    let seeds = dir.path().join("seeds.txt");
    let out = dir.path().join("out.jsonl");
    let seed_text = match &options.many_hosts {
        None => format!("http://{site}{}\n", options.start),
        Some(many) => vhost_seeds(many.hosts, site.port()),
    };
    std::fs::write(&seeds, seed_text).context("writing seeds")?;
    let help = crawl_help(binary).await?;
    let config = match &options.many_hosts {
        None => None,
        Some(many) => {
            if !help.contains("--config") {
                bail!(
                    "{} has no --config, through which the many-hosts mode gives it --resolve",
                    binary.display()
                );
            }
            Some(write_resolve_config(dir.path(), many.hosts, site)?)
        }
    };
    let mut args = crawl_args(
        options,
        &path_arg(&seeds)?,
        &path_arg(&out)?,
        config.as_deref(),
    );
    // Only what the bench passes counts: a trawl.toml in the working
    // directory would change the crawl being measured (a config file named
    // with --trawl-arg is the caller's choice).
    let names_config = options
        .trawl_args
        .iter()
        .any(|arg| arg.starts_with("--config") || arg == "--no-config");
    if config.is_none() && !names_config && help.contains("--no-config") {
        args.push("--no-config".into());
    }
    // trawl's default pacing unless asked otherwise; in the many-hosts and
    // rate modes only the fixed per-host rate is measured (older binaries
    // without the flag are run as they are).
    if help.contains("--delay-factor") {
        args.push("--delay-factor".into());
        args.push(options.delay_factor.to_string());
    }
    args.extend(options.trawl_args.iter().cloned());
    // The exact command, so that an outside tool (`/usr/bin/time -v`) can
    // measure the same run: its figures are the ones reported here, since
    // both read the rusage of a waited-for child.
    eprintln!(
        "trawl-bench: measuring {} {}",
        binary.display(),
        args.join(" ")
    );

    let usage = measure(binary, &args, options).await?;
    let jsonl =
        std::fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()))?;
    let output = analyse_output(&jsonl, truth)?;
    Ok(CrawlRun::measured(binary, usage, output))
}

/// Runs `binary ARGS` through the `__measure` mode of this executable
/// (so that its CPU and peak RSS are the only child's) and checks it
/// exited 0.
pub async fn measure(binary: &Path, args: &[String], options: &Options) -> Result<Usage> {
    let me = std::env::current_exe().context("locating trawl-bench itself")?;
    let mut command = Command::new(me);
    let child = without_trawl_settings(&mut command)
        .arg(MEASURE)
        .arg(options.timeout.as_secs().to_string())
        .arg(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting the measuring process")?;
    // The measuring process enforces the timeout; this one is a backstop.
    let finished = tokio::time::timeout(
        options.timeout + Duration::from_secs(30),
        child.wait_with_output(),
    )
    .await
    .context("the measuring process hung")?
    .context("waiting for the measuring process")?;
    if !finished.status.success() {
        bail!(
            "measuring {} failed ({})",
            binary.display(),
            finished.status
        );
    }
    let usage = usage_from_json(&String::from_utf8_lossy(&finished.stdout))?;
    if usage.exit_code != Some(0) {
        bail!(
            "{} {} exited with {:?}",
            binary.display(),
            args.join(" "),
            usage.exit_code
        );
    }
    Ok(usage)
}

/// `command` without the caller's `TRAWL_*` variables, which trawl reads as
/// settings: none of them may change the crawl being measured.
pub fn without_trawl_settings(command: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TRAWL_") {
            command.env_remove(name);
        }
    }
    command
}

/// Crawls the site with the spider-peer program (`peers/spider-peer`):
/// `PEER URL CONCURRENCY LIMIT OUT.jsonl`, robots.txt obeyed, measured and
/// analysed as trawl is.
pub async fn crawl_peer(
    peer: &Path,
    site: SocketAddr,
    truth: &HashSet<String>,
    options: &Options,
) -> Result<CrawlRun> {
    let dir = tempfile::tempdir().context("creating a temp dir")?;
    let out = dir.path().join("out.jsonl");
    let args = vec![
        format!("http://{site}{}", options.start),
        options.concurrency.to_string(),
        options.max_pages.unwrap_or(0).to_string(),
        path_arg(&out)?,
    ];
    let usage = measure(peer, &args, options).await?;
    let jsonl =
        std::fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()))?;
    Ok(CrawlRun::measured(
        peer,
        usage,
        analyse_output(&jsonl, truth)?,
    ))
}

/// Writes [`resolve_config`] for `hosts` virtual hosts of `site` into
/// `dir`; its path.
pub fn write_resolve_config(dir: &Path, hosts: usize, site: SocketAddr) -> Result<String> {
    let path = dir.join("trawl.toml");
    std::fs::write(&path, resolve_config(hosts, site.port(), site.ip()))
        .with_context(|| format!("writing {}", path.display()))?;
    path_arg(&path)
}

fn path_arg(path: &Path) -> Result<String> {
    path.to_str()
        .map(str::to_owned)
        .with_context(|| format!("temp path {} is not UTF-8", path.display()))
}

/// The text of `binary crawl --help`.
async fn crawl_help(binary: &Path) -> Result<String> {
    let help = tokio::time::timeout(
        Duration::from_secs(30),
        Command::new(binary)
            .args(["crawl", "--help"])
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .with_context(|| format!("{} crawl --help hung", binary.display()))?
    .with_context(|| {
        format!(
            "cannot run {} (build it: cargo build --release -p trawl)",
            binary.display()
        )
    })?;
    Ok(String::from_utf8_lossy(&help.stdout).into_owned())
}

#[cfg(test)]
mod tests;
