//! `--frontier`: opening the shared (Redis) crawl for `trawl crawl`, and
//! `trawl status`.

use std::process::ExitCode;
use std::time::Duration;

use trawl_frontier_redis::{RedisConfig, RedisStore};

use crate::cli::StatusArgs;
use crate::config::CrawlConfig;

/// How long Redis may take to answer at start before the crawl is refused.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest a new host rests after its first request while its
/// robots.txt and first response are awaited.
const PROBE: Duration = Duration::from_secs(10);
/// How long Redis may be away mid-crawl (a restart, a failover) before the
/// crawl fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// Connects to the shared crawl: `--fresh` wipes it first; the seeds of
/// every worker so far make the scope.
pub async fn open(config: &CrawlConfig) -> Result<RedisStore, String> {
    let Some(shared) = &config.shared else {
        return Err("internal error: no --frontier".to_owned());
    };
    let (url, crawl) = (shared.url.as_str(), shared.crawl_id.as_str());
    if config.fresh {
        let deleted = trawl_frontier_redis::clear(url, crawl, CONNECT_TIMEOUT)
            .await
            .map_err(|error| error.to_string())?;
        if !config.quiet {
            eprintln!(
                "trawl: --fresh: deleted crawl {crawl} ({deleted} keys) from {}",
                trawl_frontier_redis::redacted(url)
            );
        }
    }
    let ours: Vec<String> = config.seeds.iter().map(|seed| seed.to_string()).collect();
    let all = trawl_frontier_redis::share_seeds(url, crawl, &ours, CONNECT_TIMEOUT)
        .await
        .map_err(|error| error.to_string())?;
    // Seeds written by another worker were parsed as URLs by it.
    let seeds: Vec<url::Url> = all
        .iter()
        .filter_map(|seed| url::Url::parse(seed).ok())
        .collect();
    let settings = &config.settings;
    let mut redis = RedisConfig::new(
        url,
        crawl,
        trawl_crawler::scope_for(settings, &seeds),
        trawl_crawler::limits_for(settings),
    );
    redis.lease_time = Some(shared.lease_time);
    let rate = settings.politeness.per_host_rate;
    redis.default_gap = if rate > 0.0 {
        Duration::from_secs_f64(1.0 / rate)
    } else {
        Duration::ZERO
    };
    // Obeying robots.txt, a new host's first request is its probe: the
    // rest wait for its Crawl-delay (see RedisConfig::probe).
    redis.probe = settings.obey_robots.then_some(PROBE);
    redis.patience = PATIENCE;
    // A URL is finished when its record is flushed: a worker killed in
    // between loses the lease, and another fetches the URL again.
    redis.ack_on_record = true;
    redis.connect_timeout = CONNECT_TIMEOUT;
    RedisStore::connect(redis)
        .await
        .map_err(|error| error.to_string())
}

/// `trawl status`: the shared crawl's counts on stdout; exit 1 when Redis
/// cannot be reached, 2 for a bad crawl id.
pub fn status_command(args: &StatusArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("trawl: error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let read = runtime.block_on(trawl_frontier_redis::status(
        &args.frontier,
        &args.crawl_id,
        CONNECT_TIMEOUT,
    ));
    let status = match read {
        Ok(status) => status,
        Err(trawl_frontier_redis::ConnectError::CrawlId(error)) => {
            eprintln!("trawl: error: --crawl-id: {error}");
            return ExitCode::from(2);
        }
        Err(error) => {
            eprintln!("trawl: error: {error}");
            return ExitCode::from(1);
        }
    };
    let mut text = String::new();
    if status.shards == 0 {
        text.push_str(&format!(
            "crawl {} not found in {}\n",
            args.crawl_id,
            trawl_frontier_redis::redacted(&args.frontier)
        ));
    } else {
        let state = if status.finished() {
            "finished"
        } else {
            "running"
        };
        let live = status
            .workers
            .iter()
            .filter(|(_, silent)| *silent < 10_000)
            .count();
        text.push_str(&format!(
            "crawl    {} ({state})\nqueued   {}\nleased   {}\ndone     {}\nhosts    {}\nworkers  {} seen, {live} heard from in the last 10 s\n",
            args.crawl_id,
            status.queued,
            status.leased,
            status.done,
            status.hosts,
            status.workers.len(),
        ));
        for (name, silent) in &status.workers {
            text.push_str(&format!(
                "  {name}  last heard {:.1} s ago\n",
                *silent as f64 / 1000.0
            ));
        }
    }
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        eprintln!("trawl: error: cannot write to standard output: {error}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
