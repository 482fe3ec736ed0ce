//! `trawl`: the command-line crawler. This binary parses arguments, checks
//! them, opens the output and the crawl state, runs the `trawl-crawler`
//! pipeline, shows progress and prints the summary.
//!
//! Exit codes: 0 when the crawl ran (whatever pages failed), 1 for a fatal
//! I/O error (output not writable, the --frontier Redis unreachable at
//! start or away longer than the store's patience mid-crawl), 2 for usage
//! and configuration errors, 130 when interrupted with Ctrl-C.

mod cli;
mod config;
mod cookies;
mod demo;
mod interrupt;
mod layers;
mod netrc;
mod progress;
mod report;
mod seeds;
mod shaping;
mod shared;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::CommandFactory;
use tracing_subscriber::EnvFilter;
use trawl_crawler::{Crawler, Destination, Ending, JsonlSink, Recorded, Shutdown, WarcSink};
use trawl_frontier::{LocalConfig, LocalStore, OpenError, SpillConfig, StateDir, StateError};

use crate::cli::{Cli, Command, CrawlArgs};
use crate::config::CrawlConfig;
use crate::layers::Report;
use crate::progress::{ProgressObserver, SummaryObserver};

/// jemalloc instead of the system allocator: the HTML parsers allocate per
/// tag and per page (lol_html its matcher and token buffers, html5ever a
/// node, attributes and strings for every tag), and page bodies are
/// allocated on the async threads and freed on the parser threads, where
/// glibc's malloc spends much of its time (about a fifth of the crawler's
/// CPU). jemalloc measured faster than mimalloc here and keeps peak memory
/// near glibc's (mimalloc's per-thread heaps about doubled it). Its
/// compiled-in options are in `.cargo/config.toml`.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const EXIT_FATAL: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_INTERRUPTED: u8 = 130;

/// Queued URLs per spill chunk.
const SPILL_CHUNK_ENTRIES: usize = 4096;

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    // The real command line first, as clap alone sees it: --help, --version
    // and its usage errors behave as they always did.
    let first = Cli::command().get_matches_from(&argv);
    let resolved = match layers::resolve(
        &argv,
        &first,
        std::env::vars_os(),
        std::path::Path::new(layers::DEFAULT_FILE),
    ) {
        Ok(resolved) => resolved,
        Err(error) => {
            eprintln!("trawl: error: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match resolved.cli.command {
        Command::Crawl(args) => crawl_command(&args, None, &resolved.report),
        Command::Config(args) => config_command(&args, &resolved.report),
        Command::Demo(args) => demo::run(&args),
        Command::Completions { shell } => demo::completions(shell),
        Command::Man => demo::man_page(),
        Command::Report(args) => report::run(&args),
        Command::Status(args) => shared::status_command(&args),
    }
}

/// `trawl config`: every setting, its value and its origin on stdout; then
/// the checks `crawl` would make (exit 2 if it would refuse). No request,
/// no file written.
fn config_command(args: &CrawlArgs, report: &Report) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout
        .write_all(report.render().as_bytes())
        .and_then(|()| stdout.flush())
    {
        eprintln!("trawl: error: cannot write to standard output: {error}");
        return ExitCode::from(EXIT_FATAL);
    }
    match CrawlConfig::from_args(args, None) {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("trawl: error: {}", report.explain(&error));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// A failure before the crawl starts, with its exit code.
struct Refusal {
    code: u8,
    message: String,
}

impl Refusal {
    fn usage(error: impl std::fmt::Display) -> Self {
        Refusal {
            code: EXIT_USAGE,
            message: error.to_string(),
        }
    }

    fn fatal(error: impl std::fmt::Display) -> Self {
        Refusal {
            code: EXIT_FATAL,
            message: error.to_string(),
        }
    }
}

/// Runs a crawl; `seeds` replaces the seed file when given. `report` says
/// where each setting came from, for the error messages.
fn crawl_command(args: &CrawlArgs, seeds: Option<Vec<url::Url>>, report: &Report) -> ExitCode {
    let bar = progress::bar(args.quiet);
    init_logging(bar.clone());
    raise_open_files_limit();
    match prepare(args, seeds, report) {
        Ok(prepared) => start(prepared, bar),
        Err(refusal) => {
            eprintln!("trawl: error: {}", refusal.message);
            ExitCode::from(refusal.code)
        }
    }
}

/// Raises the soft limit on open files to the hard one. Every host of a
/// crawl keeps a keep-alive connection open for a while, so the soft limit
/// many systems start programs with (1,024) would stop a crawl of a
/// thousand hosts with "too many open files", while the hard limit is
/// usually far higher (Go's runtime does the same at start). A refusal
/// leaves the limit as it was.
fn raise_open_files_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
        && let Err(error) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
    {
        tracing::debug!(soft, hard, %error, "could not raise the open files limit");
    }
}

/// Everything opened before the runtime starts.
struct Prepared {
    config: CrawlConfig,
    /// `None` for a shared crawl, whose store connects inside the runtime.
    store: Option<LocalStore>,
    sink: JsonlSink,
    warc: Option<WarcSink>,
    state_dir: Option<StateDir>,
}

/// Seeds are read, every flag checked and every file opened before the
/// runtime exists, so a mistake costs no request and no blocking I/O runs
/// on async threads.
fn prepare(
    args: &CrawlArgs,
    seeds: Option<Vec<url::Url>>,
    report: &Report,
) -> Result<Prepared, Refusal> {
    let config = CrawlConfig::from_args(args, seeds)
        .map_err(|error| Refusal::usage(report.explain(&error)))?;
    if !config.settings.obey_robots {
        eprintln!(
            "trawl: warning: --ignore-robots: robots.txt is neither fetched nor obeyed; \
             crawl only sites whose owners agreed to it"
        );
    }
    // The output is checked before the state folder beside it is made, so
    // an unwritable output is reported as such, before any request.
    if let Destination::File(path) = &config.destination {
        check_writable(path)
            .map_err(|error| Refusal::fatal(format!("cannot write {}: {error}", path.display())))?;
    }
    // --save-cookies is written at the end: a path that cannot be
    // written is said now, not after the crawl.
    if let Some(path) = &config.save_cookies {
        check_writable(path).map_err(|error| {
            Refusal::fatal(format!("--save-cookies {}: {error}", path.display()))
        })?;
    }
    if config.shared.is_some() {
        if config.resume && matches!(config.destination, Destination::Stdout) {
            return Err(Refusal::usage(
                "--resume appends to the output, but `-o -` writes to standard output",
            ));
        }
        // The state is in Redis; the output only needs a half-written last
        // line (a killed worker's) cut before it is appended to.
        if config.resume
            && let Destination::File(path) = &config.destination
            && path.exists()
        {
            trawl_crawler::recorded_urls(path).map_err(|error| match error {
                trawl_crawler::ResumeError::Corrupt { .. } => Refusal::usage(error),
                trawl_crawler::ResumeError::Io { .. } => Refusal::fatal(error),
            })?;
        }
        let sink = JsonlSink::open(&config.destination, config.resume).map_err(Refusal::fatal)?;
        let warc = match &config.warc {
            Some(options) => {
                Some(WarcSink::open(options.clone(), config.resume).map_err(Refusal::fatal)?)
            }
            None => None,
        };
        return Ok(Prepared {
            config,
            store: None,
            sink,
            warc,
            state_dir: None,
        });
    }
    let state = prepare_state(&config)?;
    if config.resume
        && let (Some((dir, _)), Some(jar)) = (&state, &config.settings.fetcher.cookies)
        && dir.cookie_file().exists()
    {
        crate::cookies::load(jar, &dir.cookie_file(), "resume")
            .map_err(|error| Refusal::usage(format!("crawl state: {error}")))?;
    }
    let state_dir = state.as_ref().map(|(dir, _)| dir.clone());
    let resumed = state.as_ref().and_then(|(_, recorded)| recorded.as_ref());
    let truncated = resumed.map_or(0, |recorded| recorded.truncated_bytes);
    let already = resumed.map_or(0, |recorded| recorded.records);
    let store = open_store(&config, state)?;
    if config.resume && !config.quiet {
        eprintln!(
            "trawl: resuming: {already} URLs already recorded, {} still queued{}",
            trawl_frontier::FrontierStore::counts(&store).queued,
            if truncated > 0 {
                format!("; cut a half-written last line ({truncated} bytes) from the output")
            } else {
                String::new()
            }
        );
    }
    let sink = JsonlSink::open(&config.destination, config.resume).map_err(Refusal::fatal)?;
    let warc = match &config.warc {
        Some(options) => {
            Some(WarcSink::open(options.clone(), config.resume).map_err(Refusal::fatal)?)
        }
        None => None,
    };
    Ok(Prepared {
        config,
        store: Some(store),
        sink,
        warc,
        state_dir,
    })
}

fn start(prepared: Prepared, bar: indicatif::ProgressBar) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(prepared.config.io_threads.max(1))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("trawl: error: cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_FATAL);
        }
    };
    // The crawl runs as a task on the runtime's workers, not on this thread
    // inside `block_on`: the dispatcher then shares a worker with the fetch
    // tasks it wakes instead of waking it across threads for every URL.
    let crawl = runtime.spawn(run(prepared, bar));
    let code = match runtime.block_on(crawl) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("trawl: internal error: the crawl task failed: {error}");
            ExitCode::from(EXIT_FATAL)
        }
    };
    // What is left on the runtime (the idle connections the crawl's
    // outcome held, thousands on a crawl of many hosts) is closed by the
    // process's exit rather than one by one.
    runtime.shutdown_background();
    code
}

/// Creates the output's folder and opens the file for writing without
/// truncating it (refusing a crawl must not cost the previous output).
fn check_writable(path: &std::path::Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(drop)
}

fn state_refusal(error: StateError) -> Refusal {
    match error {
        StateError::Io { .. } => Refusal::fatal(error),
        _ => Refusal::usage(error),
    }
}

/// Creates (or, with --resume, opens, and reads the output it left) the
/// crawl state. Plain blocking file I/O, before the runtime.
fn prepare_state(config: &CrawlConfig) -> Result<Option<(StateDir, Option<Recorded>)>, Refusal> {
    const STDOUT_RESUME: &str =
        "--resume needs the output file, but `-o -` writes to standard output";
    let Some(dir) = &config.state_dir else {
        return if config.resume {
            Err(Refusal::usage(STDOUT_RESUME))
        } else {
            Ok(None)
        };
    };
    if !config.resume {
        let state = StateDir::create(dir, config.fresh).map_err(state_refusal)?;
        return Ok(Some((state, None)));
    }
    let Destination::File(output) = &config.destination else {
        return Err(Refusal::usage(STDOUT_RESUME));
    };
    let state = StateDir::open(dir).map_err(state_refusal)?;
    let recorded = trawl_crawler::recorded_urls(output).map_err(|error| match error {
        trawl_crawler::ResumeError::Corrupt { .. } => {
            Refusal::usage(format!("crawl state {} is corrupt: {error}", dir.display()))
        }
        trawl_crawler::ResumeError::Io { .. } => Refusal::fatal(error),
    })?;
    Ok(Some((state, Some(recorded))))
}

/// The frontier: in memory with a spill file, journaled when the crawl has
/// state, replayed on --resume.
fn open_store(
    config: &CrawlConfig,
    state: Option<(StateDir, Option<Recorded>)>,
) -> Result<LocalStore, Refusal> {
    let mut local = LocalConfig::new(
        trawl_crawler::scope_for(&config.settings, &config.seeds),
        trawl_crawler::limits_for(&config.settings),
    );
    local.spill = Some(SpillConfig {
        dir: config.spill_dir.clone(),
        hot_budget: config.max_queue_in_memory,
        chunk_entries: SPILL_CHUNK_ENTRIES,
        seen_hot_budget: Some(config.max_seen_in_memory),
    });
    let opened = match state {
        None => LocalStore::new(local),
        Some((dir, None)) => {
            local.journal = Some(dir);
            LocalStore::new(local)
        }
        Some((dir, Some(recorded))) => {
            LocalStore::resume(local, dir, &recorded.done, recorded.records)
        }
    };
    opened.map_err(|error| match error {
        OpenError::State(StateError::Corrupt { .. }) => Refusal::usage(error),
        _ => Refusal::fatal(error),
    })
}

async fn run(prepared: Prepared, bar: indicatif::ProgressBar) -> ExitCode {
    let Prepared {
        config,
        store,
        sink,
        warc,
        state_dir,
    } = prepared;
    let output_name = config.destination.describe();
    let quiet = config.quiet;
    let jar = config.settings.fetcher.cookies.clone();
    let save_cookies = config.save_cookies.clone();
    let summary = Arc::new(SummaryObserver::new());
    let mut redis = None;
    let store: Arc<dyn trawl_frontier::FrontierStore> = match store {
        Some(store) => Arc::new(store),
        None => match shared::open(&config).await {
            Ok(store) => {
                let store = Arc::new(store);
                redis = Some(Arc::clone(&store));
                store
            }
            Err(error) => {
                eprintln!("trawl: error: {error}");
                return ExitCode::from(EXIT_FATAL);
            }
        },
    };
    let mut builder = Crawler::builder(config.settings)
        .seeds(config.seeds)
        .store(store);
    if let Some(dir) = &config.save_bodies {
        builder = match builder.save_bodies(dir) {
            Ok(builder) => builder,
            Err(error) => {
                eprintln!("trawl: error: --save-bodies: {error}");
                return ExitCode::from(EXIT_FATAL);
            }
        };
    }
    // Sinks flush in order: the archive before the JSONL, so every record
    // in the output has its exchanges archived.
    if let Some(warc) = warc {
        builder = builder.sink(warc);
    }
    let mut metrics_stop = None;
    if let Some(addr) = config.metrics {
        let metrics = Arc::new(trawl_metrics::Metrics::new());
        let listener = match trawl_metrics::bind(&addr.to_string()).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("trawl: error: --metrics: {error}");
                return ExitCode::from(EXIT_FATAL);
            }
        };
        let bound = listener.local_addr().unwrap_or(addr);
        if !bound.ip().is_loopback() {
            eprintln!(
                "trawl: warning: --metrics {bound} is reachable from other machines; the crawl's counters are public there"
            );
        }
        if !quiet {
            eprintln!("trawl: metrics at http://{bound}/metrics");
        }
        let stop = tokio_util::sync::CancellationToken::new();
        tokio::spawn(trawl_metrics::serve(
            listener,
            Arc::clone(&metrics),
            stop.clone(),
        ));
        metrics_stop = Some(stop);
        builder = builder.observer(metrics);
    }
    let crawler = builder
        .sink(sink)
        .observer(Arc::new(ProgressObserver::new(bar.clone())))
        .observer(Arc::clone(&summary) as Arc<dyn trawl_crawler::Observer>)
        .build();
    let crawler = match crawler {
        Ok(crawler) => crawler,
        Err(error) => {
            eprintln!("trawl: error: {error}");
            return ExitCode::from(EXIT_FATAL);
        }
    };
    let shutdown = Shutdown::default();
    let signals = tokio::spawn(interrupt::watch_ctrl_c(shutdown.clone(), bar.clone()));
    // The state's copy of the jar follows the crawl, so a resume after
    // any ending (a kill included) has the sessions it had.
    let keeper_stop = tokio_util::sync::CancellationToken::new();
    let keeper = match (&jar, &state_dir) {
        (Some(jar), Some(dir)) => Some(tokio::spawn(crate::cookies::keep(
            Arc::clone(jar),
            dir.cookie_file(),
            keeper_stop.clone(),
        ))),
        _ => None,
    };
    let outcome = crawler.run(shutdown).await;
    if let Some(redis) = redis
        && let Err(error) = redis.close().await
    {
        // The leases not acked expire and are fetched again by others.
        tracing::warn!("{error}");
    }
    signals.abort();
    keeper_stop.cancel();
    if let Some(keeper) = keeper {
        let _ = keeper.await;
    }
    let mut cookies_failed = false;
    if let (Some(jar), Some(path)) = (jar, save_cookies) {
        let shown = path.display().to_string();
        match tokio::task::spawn_blocking(move || crate::cookies::save(&jar, &path)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                eprintln!("trawl: error: --save-cookies {shown}: {error}");
                cookies_failed = true;
            }
            Err(error) => {
                eprintln!("trawl: error: --save-cookies {shown}: {error}");
                cookies_failed = true;
            }
        }
    }
    if let Some(stop) = metrics_stop {
        stop.cancel();
    }
    bar.finish_and_clear();
    let interrupted = !matches!(outcome.ending, Ending::Finished);
    if !quiet && let Some(text) = summary.render(interrupted, &output_name) {
        eprint!("{text}");
    }
    match outcome.ending {
        Ending::Failed(trawl_crawler::CrawlFailure::Sink(error)) => {
            eprintln!(
                "trawl: error: {error}; {} records were written before it",
                outcome.stats.records
            );
            ExitCode::from(EXIT_FATAL)
        }
        Ending::Failed(error) => {
            eprintln!(
                "trawl: error: {error}; the crawl stopped (records made so far are written; state kept for --resume)"
            );
            ExitCode::from(EXIT_FATAL)
        }
        Ending::Interrupted => {
            if let Some(dir) = &state_dir
                && !quiet
            {
                eprintln!(
                    "trawl: state kept in {}; add --resume to continue",
                    dir.path().display()
                );
            }
            ExitCode::from(EXIT_INTERRUPTED)
        }
        Ending::Finished => {
            // A finished crawl has nothing to resume; its state would only
            // make the next run refuse to start.
            if let Some(dir) = &state_dir
                && let Err(error) = tokio::fs::remove_dir_all(dir.path()).await
            {
                tracing::warn!(
                    "cannot remove finished crawl state {}: {error}",
                    dir.path().display()
                );
            }
            if cookies_failed {
                ExitCode::from(EXIT_FATAL)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

/// Logs go to stderr through the progress bar (so they never break it),
/// filtered by RUST_LOG (default: warnings).
fn init_logging(bar: indicatif::ProgressBar) {
    // rustls-platform-verifier logs every rejected certificate at error
    // level; the record already says it, in words, once per URL.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,rustls_platform_verifier=off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(progress::BarAwareWriter::new(bar))
        .with_target(false)
        .try_init();
}
