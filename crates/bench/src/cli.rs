//! Command-line parsing (by hand: a dozen flags do not need clap).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use trawl_testsite::PageProfile;

pub const HELP: &str = "\
trawl-bench: how close does trawl get to what the test site can serve?

Starts trawl-testsite on 127.0.0.1, measures the raw ceiling with a simple
keep-alive HTTP/1.1 load generator that requests every reachable page once,
then crawls the same site with trawl (and optionally a baseline binary) and
prints pages/s, the ratio to the ceiling, CPU per page, peak RSS, coverage and
duplicates.

usage: trawl-bench [OPTIONS]

  --pages N         pages in the synthetic site            [default: 20000]
  --page-bytes B    approximate HTML bytes per page        [default: 20000]
  --links L         pseudo-random outlinks per page        [default: 10]
  --seed S          seed of the link graph                 [default: 1]
  --concurrency C   connections of the load generator, and trawl's
                    -c / --per-host-concurrency            [default: 64]
  --trawl PATH      the trawl binary to measure     [default: target/release/trawl]
  --testsite PATH   the test site binary   [default: target/release/trawl-testsite]
  --baseline PATH   a previous trawl binary to measure too (optional)
  --peer PATH       the spider-peer program (peers/spider-peer) to measure
                    too, in the same rounds (optional; single-host mode)
  --dir PATH        real pages instead of the synthetic site: serve the
                    folder PATH (e.g. the Rust docs) and crawl it from
                    --start (default /), at most --max-pages (default
                    20000) pages; the ceiling replays trawl's requests
  --start PATH      with --dir: the path the crawls start from
  --max-pages N     with --dir: the crawls' page limit
  --timeout SECS    upper bound for each phase (start, ceiling, crawl) [default: 600]
  --rounds N        measure the ceiling and every crawl N times, interleaved,
                    and report each row's median round (by its ratio to
                    that round's ceiling): steadier on a busy machine
                    (not in many-hosts mode)               [default: 3]
  --trawl-arg ARG   one more argument for every trawl run (repeatable), e.g.
                    --trawl-arg=--retries=0
  --profile P       the test site's pages: realistic (nav, markup,
                    scripts, 20-60 mixed links, 2-200 KB; --page-bytes is
                    then unused) or uniform (a list of links and filler,
                    the page of earlier numbers)    [default: realistic;
                    uniform with --rates and --hosts]
  --delay-factor F  trawl's --delay-factor (adaptive pacing; 0 = off)
                    [default: 1, trawl's own; 0 with --rates and --hosts,
                    which measure the fixed per-host rate]
  --json            print one JSON object instead of the table
  -h, --help        this text

Many-hosts mode (--hosts): politeness at scale instead of raw speed. The test
site serves H virtual hosts h0.test ... h{H-1}.test on one port (Host-header
routing), each its own copy of the site; trawl reaches them through one
`resolve` entry hK.test:PORT:127.0.0.1 per host in a config file
(--config: 100,000 would not fit on a command line), seeded with every
host's root, with `--per-host-rate R --delay-factor 0`. It reports the
politeness-allowed rate (H x R pages/s), the achieved share of it (ideal wall
/ actual wall, ideal wall = (reachable pages per host - 1) / R: each host's
first request is free, then one per 1/R s; goal >= 95%), and CPU us per page
(the scheduler's overhead per request: pages are small). SYN drops counts
the machine's listen-queue overflows during the crawl (/proc/net/netstat):
each delays one host by a 1 s SYN retransmission, lowering the share.
The paced ceiling row runs the same schedule with no crawler in it: one
kept-alive connection per host, its robots.txt, then its known pages at
exactly R/s, at most --concurrency requests in flight; its share is what
this machine allows any client at this host count.

  --hosts H         virtual hosts (at least 2); turns the mode on
                    (the issue's scale: --hosts 1000)
  --per-host-rate R trawl's --per-host-rate, requests/s per host (> 0)
                                                          [mode default: 2]
  --per-host-concurrency N
                    trawl's --per-host-concurrency        [mode default: 2]
  --workers LIST    e.g. 1,2,4: instead of one crawl, one per count, with
                    that many trawl processes sharing one throwaway
                    redis-server (--frontier); adds scaling vs 1 worker,
                    EVALSHA and commands per URL (INFO commandstats) and
                    Redis memory per URL. Needs redis-server
                    ($TEST_REDIS_SERVER, PATH or /usr/bin).

  --seen-set N      alone: queue N synthetic URLs (100 per host) through
                    the shared frontier's add script and print Redis
                    memory per URL by kind of key (MEMORY USAGE)
  In this mode --pages (per host) defaults to 20, --page-bytes to 2000 and
  --concurrency (trawl's -c) to 256.

Rate mode (--rates): is the per-host rate the one asked for? One host of the
test site, served in this process so that it can count requests itself, is
crawled once per rate with -c C --per-host-concurrency C --per-host-rate R
--max-pages N, N = R x --rate-seconds + 1 (at least 6, at most the site's
reachable pages). The achieved rate is the server's: (requests - 1) / (last
request - first request), robots.txt not counted; the goal is within 5% of R.
Rate 0 is a run without a limit: what the machine can do at all.

  --rates R,R,...   the per-host rates to measure; turns the mode on
                    (e.g. --rates 1,100,1000,10000)
  --rate-seconds S  how long each rate's crawl should last  [default: 5]
  In this mode --pages defaults to 60000 and --page-bytes to 2000.

Build first: cargo build --release -p trawl -p trawl-testsite -p trawl-bench
";

/// What to benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub pages: usize,
    pub page_bytes: usize,
    pub links: usize,
    pub seed: u64,
    pub concurrency: usize,
    pub trawl: PathBuf,
    pub testsite: PathBuf,
    pub baseline: Option<PathBuf>,
    /// `--peer PATH`: the spider-peer program, measured in the same rounds.
    pub peer: Option<PathBuf>,
    /// `--dir PATH`: a folder of real pages to serve and crawl instead of
    /// the synthetic site.
    pub dir: Option<PathBuf>,
    /// `--start PATH`: where the crawls start (the site's root by default).
    pub start: String,
    pub timeout: Duration,
    pub trawl_args: Vec<String>,
    pub json: bool,
    /// Interleaved repetitions of the single-host measurement.
    pub rounds: usize,
    /// `Some` in many-hosts mode (`--hosts`).
    pub many_hosts: Option<ManyHosts>,
    /// `--workers 1,2,4`: in many-hosts mode, crawl once per count with
    /// that many trawl processes sharing one redis-server.
    pub workers: Vec<usize>,
    /// trawl's `--delay-factor` (if the binary knows it).
    pub delay_factor: f64,
    /// The test site's page profile.
    pub profile: PageProfile,
    /// `Some` in rate mode (`--rates`): the per-host rates to measure.
    pub rates: Option<Vec<f64>>,
    /// Rate mode: how long each crawl should last, in seconds.
    pub rate_seconds: u64,
    /// trawl's `--per-host-rate` in single-host runs (the rate mode sets it
    /// per run; 0 = unlimited).
    pub per_host_rate: f64,
    /// trawl's `--max-pages`, if any (set per run by the rate mode).
    pub max_pages: Option<u64>,
}

/// The many-hosts mode's settings (`--pages` is then per host).
#[derive(Debug, Clone, PartialEq)]
pub struct ManyHosts {
    /// Virtual hosts `h0.test` … `h{hosts-1}.test`.
    pub hosts: usize,
    /// trawl's `--per-host-rate`, requests per second per host (> 0).
    pub rate: f64,
    /// trawl's `--per-host-concurrency`.
    pub per_host_concurrency: usize,
}

impl ManyHosts {
    pub const DEFAULT_RATE: f64 = 2.0;
    pub const DEFAULT_PER_HOST_CONCURRENCY: usize = 2;
    /// `--pages`, `--page-bytes` and `--concurrency` defaults in this mode.
    pub const DEFAULT_PAGES: usize = 20;
    pub const DEFAULT_PAGE_BYTES: usize = 2000;
    pub const DEFAULT_CONCURRENCY: usize = 256;
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pages: 20_000,
            page_bytes: 20_000,
            links: 10,
            seed: 1,
            concurrency: 64,
            trawl: PathBuf::from("target/release/trawl"),
            testsite: PathBuf::from("target/release/trawl-testsite"),
            baseline: None,
            peer: None,
            dir: None,
            start: "/".to_owned(),
            timeout: Duration::from_secs(600),
            trawl_args: Vec::new(),
            json: false,
            rounds: 3,
            many_hosts: None,
            workers: Vec::new(),
            delay_factor: 1.0,
            profile: PageProfile::Realistic,
            rates: None,
            rate_seconds: 5,
            per_host_rate: 0.0,
            max_pages: None,
        }
    }
}

/// What the process was asked to do.
// Made once per run and matched once: boxing the options would save
// nothing that matters.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Help,
    Bench(Options),
    /// `--seen-set N`: Redis memory per URL of the shared frontier's
    /// layout, from N synthetic URLs.
    SeenSet(usize),
    /// Internal: `trawl-bench __measure TIMEOUT_SECS PROGRAM [ARGS...]` runs
    /// PROGRAM as this process's only child and prints its wall time, CPU
    /// and peak RSS as JSON. The benchmark re-runs itself this way so that
    /// `getrusage(RUSAGE_CHILDREN)` sees exactly one crawl, never the test
    /// site or an earlier crawl (peak RSS is a maximum, not a sum, so it
    /// cannot be taken as a difference).
    Measure {
        timeout: Duration,
        program: PathBuf,
        args: Vec<String>,
    },
}

/// The name of the internal measuring mode.
pub const MEASURE: &str = "__measure";

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command> {
    let mut args = args.into_iter().peekable();
    if args.peek().map(String::as_str) == Some(MEASURE) {
        args.next();
        let timeout = args.next().context("__measure needs TIMEOUT_SECS")?;
        let timeout = Duration::from_secs(number(MEASURE, &timeout)?);
        let program = args.next().context("__measure needs a PROGRAM")?;
        return Ok(Command::Measure {
            timeout,
            program: PathBuf::from(program),
            args: args.collect(),
        });
    }
    let mut options = Options::default();
    // Flags given explicitly: the many-hosts mode changes the defaults of
    // the others.
    let mut given = std::collections::HashSet::new();
    let mut hosts = None;
    let mut rate = None;
    let mut per_host_concurrency = None;
    while let Some(arg) = args.next() {
        // `--flag=value` is the same as `--flag value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg, None),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--json" => {
                options.json = true;
                continue;
            }
            _ => {}
        }
        let value = match inline {
            Some(value) => value,
            None => args
                .next()
                .with_context(|| format!("{flag} needs a value (see --help)"))?,
        };
        given.insert(flag.clone());
        match flag.as_str() {
            "--pages" => options.pages = number(&flag, &value)?,
            "--page-bytes" => options.page_bytes = number(&flag, &value)?,
            "--links" => options.links = number(&flag, &value)?,
            "--seed" => options.seed = number(&flag, &value)?,
            "--concurrency" => options.concurrency = number(&flag, &value)?,
            "--trawl" => options.trawl = PathBuf::from(value),
            "--testsite" => options.testsite = PathBuf::from(value),
            "--baseline" => options.baseline = Some(PathBuf::from(value)),
            "--peer" => options.peer = Some(PathBuf::from(value)),
            "--dir" => options.dir = Some(PathBuf::from(value)),
            "--start" => {
                if !value.starts_with('/') {
                    bail!("--start is a path on the site, starting with `/`");
                }
                options.start = value
            }
            "--max-pages" => {
                options.max_pages =
                    Some(value.parse().with_context(|| {
                        format!("--max-pages: `{value}` is not a number of pages")
                    })?)
            }
            "--timeout" => options.timeout = Duration::from_secs(number(&flag, &value)?),
            "--trawl-arg" => options.trawl_args.push(value),
            "--rounds" => {
                options.rounds = number(&flag, &value)?;
                if options.rounds == 0 {
                    bail!("--rounds must be at least 1");
                }
            }
            "--hosts" => hosts = Some(number(&flag, &value)?),
            "--delay-factor" => {
                options.delay_factor = match value.parse::<f64>() {
                    Ok(factor) if factor.is_finite() && factor >= 0.0 => factor,
                    _ => bail!("{flag}: `{value}` is not a factor of 0 or more"),
                }
            }
            "--profile" => {
                options.profile = PageProfile::parse(&value)
                    .with_context(|| format!("{flag}: `{value}` is not uniform or realistic"))?
            }
            "--rates" => {
                let rates = value
                    .split(',')
                    .map(|rate| match rate.trim().parse::<f64>() {
                        Ok(rate) if rate.is_finite() && rate >= 0.0 => Ok(rate),
                        _ => bail!("{flag}: `{rate}` is not a rate of 0 or more"),
                    })
                    .collect::<Result<Vec<_>>>()?;
                options.rates = Some(rates);
            }
            "--rate-seconds" => {
                options.rate_seconds = number(&flag, &value)?;
                if options.rate_seconds == 0 {
                    bail!("--rate-seconds must be at least 1");
                }
            }
            "--per-host-rate" => rate = Some(positive_rate(&flag, &value)?),
            "--per-host-concurrency" => per_host_concurrency = Some(number(&flag, &value)?),
            "--workers" => {
                options.workers = value
                    .split(',')
                    .map(|count| number(&flag, count.trim()))
                    .collect::<Result<_>>()?;
                if options.workers.contains(&0) {
                    bail!("--workers counts must be at least 1");
                }
            }
            "--seen-set" => return Ok(Command::SeenSet(number(&flag, &value)?)),
            _ => bail!("unknown flag {flag} (see --help)"),
        }
    }
    if options.dir.is_some() {
        if options.rates.is_some() || hosts.is_some() {
            bail!("--dir is a mode of its own (not with --rates or --hosts)");
        }
        options.max_pages.get_or_insert(20_000);
    }
    if options.peer.is_some() && (options.rates.is_some() || hosts.is_some()) {
        bail!("--peer is measured in the single-host mode only (not with --rates or --hosts)");
    }
    // The fixed-rate modes measure the per-host rate and the scheduler's
    // cost per request alone: trawl's pacing off, small uniform pages.
    if options.rates.is_some() || hosts.is_some() {
        if !given.contains("--delay-factor") {
            options.delay_factor = 0.0;
        }
        if !given.contains("--profile") {
            options.profile = PageProfile::Uniform;
        }
    }
    if options.rates.is_some() {
        if hosts.is_some() {
            bail!("--rates and --hosts are different modes: pick one");
        }
        if !given.contains("--pages") {
            options.pages = 60_000;
        }
        if !given.contains("--page-bytes") {
            options.page_bytes = 2000;
        }
    }
    match hosts {
        Some(hosts) => {
            let default = |flag: &str, field: &mut usize, value: usize| {
                if !given.contains(flag) {
                    *field = value;
                }
            };
            default("--pages", &mut options.pages, ManyHosts::DEFAULT_PAGES);
            default(
                "--page-bytes",
                &mut options.page_bytes,
                ManyHosts::DEFAULT_PAGE_BYTES,
            );
            default(
                "--concurrency",
                &mut options.concurrency,
                ManyHosts::DEFAULT_CONCURRENCY,
            );
            let many = ManyHosts {
                hosts,
                rate: rate.unwrap_or(ManyHosts::DEFAULT_RATE),
                per_host_concurrency: per_host_concurrency
                    .unwrap_or(ManyHosts::DEFAULT_PER_HOST_CONCURRENCY),
            };
            // The test site routes by Host header only with 2 hosts or more.
            if many.hosts < 2 {
                bail!("--hosts must be at least 2");
            }
            if many.per_host_concurrency == 0 {
                bail!("--per-host-concurrency must be at least 1");
            }
            options.many_hosts = Some(many);
        }
        None if !options.workers.is_empty() => bail!("--workers needs --hosts"),
        None => {
            for flag in ["--per-host-rate", "--per-host-concurrency"] {
                if given.contains(flag) {
                    bail!("{flag} belongs to the many-hosts mode: add --hosts H");
                }
            }
        }
    }
    if options.pages == 0 {
        bail!("--pages must be at least 1");
    }
    if options.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if options.timeout.is_zero() {
        bail!("--timeout must be at least 1");
    }
    Ok(Command::Bench(options))
}

/// A rate in requests per second: finite and above 0 (0 would mean
/// "unlimited" to trawl, which leaves nothing to compare with).
fn positive_rate(flag: &str, value: &str) -> Result<f64> {
    match value.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => bail!("{flag}: `{value}` is not a rate above 0 (requests per second)"),
    }
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T> {
    value
        .parse()
        .ok()
        .with_context(|| format!("{flag}: `{value}` is not a non-negative integer"))
}

#[cfg(test)]
mod tests;
