//! The shared-frontier rows (`--workers 1,2,4` in many-hosts mode): N
//! trawl processes crawl the virtual hosts through one throwaway
//! `redis-server`, and the rows say what each worker count achieved
//! (pages/s, share of the politeness-allowed rate, scaling against one
//! worker) and what it cost Redis (EVALSHA round trips and commands per
//! URL, from `INFO commandstats`; memory, from `INFO memory`).
//!
//! `--seen-set N` measures the layout's memory at scale instead: N
//! synthetic URLs on N/100 hosts are queued through the store's own add
//! script, then `MEMORY USAGE` is summed per kind of key (seen-set
//! buckets, queues, host hashes), in bytes per URL.

use std::collections::HashSet;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::process::Command;
use trawl_frontier::{CanonicalUrl, Entry, Found, FrontierStore, Limits, Scope, ScopeMode};
use trawl_frontier_redis::server::TestServer;
use trawl_frontier_redis::{RedisConfig, RedisStore};

use crate::cli::{ManyHosts, Options};
use crate::run::{self, SiteProcess};

/// One worker count's result.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkersRow {
    pub workers: usize,
    pub pages: u64,
    pub wall_secs: f64,
    pub per_sec: f64,
    pub allowed_per_sec: f64,
    pub share: f64,
    /// Pages/s over the one-worker row's.
    pub scaling: f64,
    pub duplicates: u64,
    pub coverage_pct: f64,
    pub evalsha_per_url: f64,
    pub commands_per_url: f64,
    pub used_bytes_per_url: f64,
}

/// Sums `calls=` over every `cmdstat_*` line of `INFO commandstats`, and
/// returns the EVALSHA calls apart. Commands a script runs are counted
/// under their own names, so the total is the work Redis did.
pub fn command_calls(info: &str) -> (u64, u64) {
    let mut total = 0;
    let mut evalsha = 0;
    for line in info.lines() {
        let Some(rest) = line.strip_prefix("cmdstat_") else {
            continue;
        };
        let Some((name, stats)) = rest.split_once(':') else {
            continue;
        };
        let calls = stats
            .split(',')
            .find_map(|field| field.strip_prefix("calls="))
            .and_then(|calls| calls.parse::<u64>().ok())
            .unwrap_or(0);
        total += calls;
        if name == "evalsha" {
            evalsha += calls;
        }
    }
    (total, evalsha)
}

/// `used_memory:` of `INFO memory`.
pub fn used_memory(info: &str) -> Option<u64> {
    info.lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|value| value.trim().parse().ok())
}

/// The test server's helpers are plain blocking code (tests call them
/// from plain threads): here they run on the blocking pool, never on the
/// runtime's thread.
async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .context("a blocking task failed")?
}

/// A throwaway redis-server in `dir`.
async fn start_server(dir: &std::path::Path) -> Result<Arc<TestServer>> {
    let dir = dir.to_owned();
    off_runtime(move || TestServer::start(&dir).context("starting redis-server"))
        .await
        .map(Arc::new)
}

async fn info(server: &Arc<TestServer>, section: &'static str) -> Result<String> {
    let server = Arc::clone(server);
    off_runtime(move || {
        server
            .command(&["INFO", section])
            .with_context(|| format!("INFO {section}"))
    })
    .await
}

/// Runs the crawl once per worker count.
pub async fn measure_workers(
    options: &Options,
    many: &ManyHosts,
    site: &SiteProcess,
    truth: &HashSet<String>,
    pages_per_host: usize,
    counts: &[usize],
) -> Result<Vec<WorkersRow>> {
    let mut rows: Vec<WorkersRow> = Vec::new();
    for &workers in counts {
        eprintln!("trawl-bench: {workers} worker(s) through one redis-server");
        let dir = tempfile::tempdir().context("creating a temp dir")?;
        let server = start_server(dir.path()).await?;
        let memory_before = used_memory(&info(&server, "memory").await?).unwrap_or(0);
        let seeds = dir.path().join("seeds.txt");
        std::fs::write(&seeds, run::vhost_seeds(many.hosts, site.addr.port()))
            .context("writing seeds")?;
        let seeds = seeds.to_str().context("a UTF-8 temp path")?.to_owned();
        let config = run::write_resolve_config(dir.path(), many.hosts, site.addr)?;
        let started = Instant::now();
        let mut children = Vec::new();
        for worker in 0..workers {
            let out = dir.path().join(format!("w{worker}.jsonl"));
            let out = out.to_str().context("a UTF-8 temp path")?.to_owned();
            let mut args = run::crawl_args(options, &seeds, &out, Some(&config));
            args.extend(["--delay-factor".into(), "0".into()]);
            args.extend(["--frontier".into(), server.url()]);
            args.extend(["--crawl-id".into(), "bench".into()]);
            args.extend(options.trawl_args.iter().cloned());
            let mut command = Command::new(&options.trawl);
            let child = run::without_trawl_settings(&mut command)
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("starting {}", options.trawl.display()))?;
            children.push(child);
        }
        for child in &mut children {
            let status = tokio::time::timeout(options.timeout, child.wait())
                .await
                .context("a worker outlived --timeout")?
                .context("waiting for a worker")?;
            if !status.success() {
                bail!("a worker exited with {status}");
            }
        }
        let wall_secs = started.elapsed().as_secs_f64();
        let (commands, evalsha) = command_calls(&info(&server, "commandstats").await?);
        let memory_after = used_memory(&info(&server, "memory").await?).unwrap_or(0);
        let mut jsonl = String::new();
        for worker in 0..workers {
            let path = dir.path().join(format!("w{worker}.jsonl"));
            jsonl.push_str(
                &std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?,
            );
        }
        let output = run::analyse_output(&jsonl, truth)?;
        let urls = output.records.max(1) as f64;
        let ideal = crate::report::ideal_wall_secs(pages_per_host, many.rate);
        let per_sec = output.records as f64 / wall_secs.max(1e-9);
        let one = rows.first().map(|row| row.per_sec).unwrap_or(per_sec);
        rows.push(WorkersRow {
            workers,
            pages: output.records,
            wall_secs,
            per_sec,
            allowed_per_sec: many.hosts as f64 * many.rate,
            share: crate::report::achieved_share(ideal, wall_secs),
            scaling: per_sec / one.max(1e-9),
            duplicates: output.duplicates(),
            coverage_pct: output.coverage() * 100.0,
            evalsha_per_url: evalsha as f64 / urls,
            commands_per_url: commands as f64 / urls,
            used_bytes_per_url: memory_after.saturating_sub(memory_before) as f64 / urls,
        });
    }
    Ok(rows)
}

/// The rows as an aligned table.
pub fn format_rows(rows: &[WorkersRow]) -> String {
    let mut text = format!(
        "{:>7} {:>6} {:>7} {:>8} {:>9} {:>6} {:>7} {:>5} {:>8} {:>11} {:>10} {:>9}\n",
        "workers",
        "pages",
        "wall s",
        "pages/s",
        "allowed/s",
        "share",
        "scaling",
        "dups",
        "coverage",
        "EVALSHA/URL",
        "cmds/URL",
        "mem B/URL"
    );
    for row in rows {
        text.push_str(&format!(
            "{:>7} {:>6} {:>7.2} {:>8.1} {:>9.1} {:>5.0}% {:>6.2}x {:>5} {:>7.1}% {:>11.2} {:>10.1} {:>9.0}\n",
            row.workers,
            row.pages,
            row.wall_secs,
            row.per_sec,
            row.allowed_per_sec,
            row.share * 100.0,
            row.scaling,
            row.duplicates,
            row.coverage_pct,
            row.evalsha_per_url,
            row.commands_per_url,
            row.used_bytes_per_url,
        ));
    }
    text
}

/// The rows as JSON.
pub fn rows_to_json(rows: &[WorkersRow]) -> Value {
    Value::Array(
        rows.iter()
            .map(|row| {
                json!({
                    "workers": row.workers,
                    "pages": row.pages,
                    "wall_secs": row.wall_secs,
                    "pages_per_sec": row.per_sec,
                    "allowed_per_sec": row.allowed_per_sec,
                    "share": row.share,
                    "scaling": row.scaling,
                    "duplicates": row.duplicates,
                    "coverage_pct": row.coverage_pct,
                    "evalsha_per_url": row.evalsha_per_url,
                    "commands_per_url": row.commands_per_url,
                    "used_bytes_per_url": row.used_bytes_per_url,
                })
            })
            .collect(),
    )
}

/// Queues `urls` synthetic URLs (100 per host) through the store's add
/// script and reports Redis memory per URL by kind of key.
pub async fn measure_seen_set(urls: usize) -> Result<String> {
    let dir = tempfile::tempdir().context("creating a temp dir")?;
    let server = start_server(dir.path()).await?;
    let scope = Scope::new(ScopeMode::Any, Vec::new(), Vec::new());
    let mut config = RedisConfig::new(&server.url(), "seen", scope, Limits::default());
    config.lease_time = None;
    let store = RedisStore::connect(config).await?;
    let per_host = 100;
    let started = Instant::now();
    for host in 0..urls.div_ceil(per_host) {
        let entries: Vec<Entry> = (0..per_host.min(urls - host * per_host))
            .map(|page| {
                // A realistic length: about 70 bytes.
                let text = format!(
                    "http://host{host}.example.com/articles/2026/12/01/page-{page}-of-the-archive.html"
                );
                CanonicalUrl::parse(&text).map(Entry::seed)
            })
            .collect::<Result<_, _>>()
            .context("a synthetic URL")?;
        store.add(entries, Found::Seed).await?;
    }
    let added = started.elapsed();
    let (sums, keys) = {
        let server = Arc::clone(&server);
        off_runtime(move || memory_by_kind(&server)).await?
    };
    let per = |bytes: u64| bytes as f64 / urls.max(1) as f64;
    let (commands, evalsha) = command_calls(&info(&server, "commandstats").await?);
    Ok(format!(
        "{urls} URLs on {} hosts queued in {:.1} s ({:.0} URLs/s through the add script), {keys} keys\n\
         seen-set (intset buckets)  {:>7.1} B/URL\n\
         queues (lists of items)    {:>7.1} B/URL\n\
         host hashes + ready sets   {:>7.1} B/URL\n\
         everything else            {:>7.1} B/URL\n\
         commands per URL {:.2}, EVALSHA per URL {:.3}\n",
        urls.div_ceil(per_host),
        added.as_secs_f64(),
        urls as f64 / added.as_secs_f64().max(1e-9),
        per(sums[0]),
        per(sums[1]),
        per(sums[2]),
        per(sums[3]),
        commands as f64 / urls.max(1) as f64,
        evalsha as f64 / urls.max(1) as f64,
    ))
}

/// `MEMORY USAGE` of every key, summed by kind (seen-set, queues, host
/// state, the rest), and the number of keys. Blocking.
fn memory_by_kind(server: &TestServer) -> Result<([u64; 4], u64)> {
    let mut sums = [0u64; 4];
    let mut keys = 0u64;
    let mut cursor = "0".to_owned();
    loop {
        let reply = server.command(&["SCAN", &cursor, "COUNT", "1000"])?;
        let mut lines = reply.lines();
        cursor = lines.next().unwrap_or("0").to_owned();
        for key in lines {
            let bytes: u64 = server
                .command(&["MEMORY", "USAGE", key, "SAMPLES", "0"])?
                .parse()
                .unwrap_or(0);
            keys += 1;
            let kind = if key.contains(":seen:") {
                0
            } else if key.contains(":q:") {
                1
            } else if key.contains(":h:") || key.ends_with(":ready") {
                2
            } else {
                3
            };
            sums[kind] += bytes;
        }
        if cursor == "0" {
            break;
        }
    }
    Ok((sums, keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commandstats_are_summed_and_evalsha_kept_apart() {
        let info = "# Commandstats\r\n\
            cmdstat_evalsha:calls=10,usec=50,usec_per_call=5.00\r\n\
            cmdstat_sadd:calls=400,usec=80,usec_per_call=0.20\r\n\
            cmdstat_info:calls=2,usec=1\r\n";
        assert_eq!(command_calls(info), (412, 10));
        assert_eq!(
            used_memory("used_memory:1234\r\nused_memory_human:1K\r\n"),
            Some(1234)
        );
        assert_eq!(used_memory("nothing"), None);
    }
}
