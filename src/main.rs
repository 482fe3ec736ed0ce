//! `trawl`: the command-line crawler. This binary parses arguments, checks
//! them, opens the output, wires the library crates into a pipeline
//! (`crawl`), shows progress and prints the summary.
//!
//! Exit codes: 0 when the crawl ran (whatever pages failed), 1 for a fatal
//! I/O error (output not writable), 2 for usage and configuration errors,
//! 130 when interrupted with Ctrl-C.

mod cli;
mod config;
mod crawl;
mod pacing;
mod page;
mod progress;
mod record;
mod seeds;
mod sink;
mod state;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command, CrawlArgs};
use crate::config::CrawlConfig;
use crate::crawl::Shutdown;
use crate::progress::Stats;

/// jemalloc instead of the system allocator: the HTML parsers allocate per
/// tag and per page (lol_html its matcher and token buffers, html5ever a
/// node, attributes and strings for every tag), and page bodies are
/// allocated on the async threads and freed on the parser threads, where
/// glibc's malloc spends much of its time (about a fifth of the crawler's
/// CPU). jemalloc measured faster than mimalloc here and keeps peak memory
/// near glibc's (mimalloc's per-thread heaps about doubled it).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const EXIT_FATAL: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_INTERRUPTED: u8 = 130;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crawl(args) => crawl_command(&args),
    }
}

fn crawl_command(args: &CrawlArgs) -> ExitCode {
    let bar = progress::bar(args.quiet);
    init_logging(bar.clone());
    // Seeds are read and every flag checked before the runtime exists, so a
    // mistake costs no request and no blocking I/O runs on async threads.
    let config = match CrawlConfig::from_args(args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("trawl: error: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if !config.obey_robots {
        eprintln!(
            "trawl: warning: --ignore-robots: robots.txt is neither fetched nor obeyed; \
             crawl only sites whose owners agreed to it"
        );
    }
    // The output is checked before the state folder beside it is made, so
    // an unwritable output is reported as such, before any request.
    if let sink::Destination::File(path) = &config.destination
        && let Err(error) = check_writable(path)
    {
        eprintln!("trawl: error: cannot write {}: {error}", path.display());
        return ExitCode::from(EXIT_FATAL);
    }
    let state = match prepare_state(&config) {
        Ok(state) => state,
        Err(error) => {
            eprintln!("trawl: error: {error}");
            let code = match error {
                state::StateError::Io { .. } => EXIT_FATAL,
                _ => EXIT_USAGE,
            };
            return ExitCode::from(code);
        }
    };
    let resume = match &state {
        Some((dir, Some(resumed))) => Some((dir, resumed)),
        _ => None,
    };
    let (frontier, queued_seeds) = match crawl::build_frontier(&config, resume) {
        Ok(built) => built,
        Err(error) => {
            eprintln!("trawl: error: {error}");
            let code = match error {
                crawl::BuildError::State(state::StateError::Corrupt { .. }) => EXIT_USAGE,
                _ => EXIT_FATAL,
            };
            return ExitCode::from(code);
        }
    };
    if let Some((_, Some(resumed))) = &state
        && !config.quiet
    {
        eprintln!(
            "trawl: resuming: {} URLs already recorded, {} still queued{}",
            resumed.records,
            frontier.counts().queued,
            if resumed.truncated_bytes > 0 {
                format!(
                    "; cut a half-written last line ({} bytes) from the output",
                    resumed.truncated_bytes
                )
            } else {
                String::new()
            }
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.io_threads.max(1))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("trawl: error: cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_FATAL);
        }
    };
    let state_dir = state.map(|(dir, _)| dir);
    // The crawl runs as a task on the runtime's workers, not on this thread
    // inside `block_on`: the dispatcher then shares a worker with the fetch
    // tasks it wakes instead of waking it across threads for every URL.
    let crawl = runtime.spawn(run(config, state_dir, frontier, queued_seeds, bar));
    match runtime.block_on(crawl) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("trawl: internal error: the crawl task failed: {error}");
            ExitCode::from(EXIT_FATAL)
        }
    }
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

/// Creates (or, with --resume, opens and reads) the crawl state. Runs
/// before the runtime: it is plain blocking file I/O.
fn prepare_state(
    config: &CrawlConfig,
) -> Result<Option<(state::StateDir, Option<state::Resumed>)>, state::StateError> {
    let Some(dir) = &config.state_dir else {
        return if config.resume {
            Err(state::StateError::Stdout)
        } else {
            Ok(None)
        };
    };
    if !config.resume {
        return Ok(Some((state::StateDir::create(dir, config.fresh)?, None)));
    }
    let sink::Destination::File(output) = &config.destination else {
        return Err(state::StateError::Stdout);
    };
    let state = state::StateDir::open(dir)?;
    let resumed = state.load(output)?;
    Ok(Some((state, Some(resumed))))
}

async fn run(
    config: CrawlConfig,
    state_dir: Option<state::StateDir>,
    frontier: trawl_frontier::Frontier,
    queued_seeds: Vec<state::QueuedUrl>,
    bar: indicatif::ProgressBar,
) -> ExitCode {
    let output = match sink::Output::open(&config.destination, config.resume).await {
        Ok(output) => output,
        Err(error) => {
            eprintln!("trawl: error: {error}");
            return ExitCode::from(EXIT_FATAL);
        }
    };
    let journal = match &state_dir {
        Some(dir) => match sink::Output::journal(&dir.queue_file()).await {
            Ok(journal) => Some(journal),
            Err(error) => {
                eprintln!("trawl: error: {error}");
                return ExitCode::from(EXIT_FATAL);
            }
        },
        None => None,
    };
    let output_name = config.destination.describe();
    let quiet = config.quiet;
    let stats = Arc::new(Stats::default());
    let shutdown = Shutdown::default();
    let signals = tokio::spawn(watch_ctrl_c(shutdown.clone(), bar.clone()));
    let ticker = tokio::spawn(tick_progress(bar.clone(), Arc::clone(&stats)));
    let started = tokio::time::Instant::now();

    let outcome = crawl::run(
        config,
        frontier,
        queued_seeds,
        output,
        journal,
        Arc::clone(&stats),
        shutdown,
    )
    .await;

    ticker.abort();
    signals.abort();
    bar.finish_and_clear();
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            eprintln!("trawl: error: {error:#}");
            return ExitCode::from(EXIT_FATAL);
        }
    };
    if !quiet {
        eprint!(
            "{}",
            progress::summary(
                &outcome.report,
                started.elapsed(),
                outcome.interrupted,
                &output_name
            )
        );
    }
    if let Some(error) = &outcome.fatal {
        eprintln!(
            "trawl: error: {error}; the crawl stopped (records made so far are written; state kept for --resume)"
        );
        return ExitCode::from(EXIT_FATAL);
    }
    if let Err(error) = outcome.output {
        eprintln!(
            "trawl: error: {error}; {} records were written before it",
            outcome.report.records
        );
        return ExitCode::from(EXIT_FATAL);
    }
    if outcome.interrupted {
        if let Some(dir) = &state_dir
            && !quiet
        {
            eprintln!(
                "trawl: state kept in {}; add --resume to continue",
                dir.path.display()
            );
        }
        return ExitCode::from(EXIT_INTERRUPTED);
    }
    // A finished crawl has nothing to resume; its state would only make
    // the next run refuse to start.
    if let Some(dir) = &state_dir
        && let Err(error) = tokio::fs::remove_dir_all(&dir.path).await
    {
        tracing::warn!(
            "cannot remove finished crawl state {}: {error}",
            dir.path.display()
        );
    }
    ExitCode::SUCCESS
}

/// First Ctrl-C: stop handing out URLs and let in-flight requests finish.
/// Second: abort them; records already made are still flushed.
async fn watch_ctrl_c(shutdown: Shutdown, bar: indicatif::ProgressBar) {
    let mut interrupts = match Interrupts::new() {
        Ok(interrupts) => interrupts,
        Err(error) => {
            tracing::warn!("cannot listen for Ctrl-C: {error}");
            return;
        }
    };
    if interrupts.next().await.is_none() {
        return;
    }
    bar.suspend(|| {
        eprintln!("trawl: interrupted; finishing requests in flight (Ctrl-C again to stop now)")
    });
    shutdown.graceful.cancel();
    if interrupts.next().await.is_none() {
        return;
    }
    bar.suspend(|| eprintln!("trawl: stopping now"));
    shutdown.immediate.cancel();
}

/// One listener for the whole run, so a second Ctrl-C that arrives while
/// the first is being handled is not missed.
#[cfg(unix)]
struct Interrupts(tokio::signal::unix::Signal);

#[cfg(unix)]
impl Interrupts {
    fn new() -> std::io::Result<Self> {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).map(Interrupts)
    }
    async fn next(&mut self) -> Option<()> {
        self.0.recv().await
    }
}

#[cfg(not(unix))]
struct Interrupts;

#[cfg(not(unix))]
impl Interrupts {
    fn new() -> std::io::Result<Self> {
        Ok(Interrupts)
    }
    async fn next(&mut self) -> Option<()> {
        tokio::signal::ctrl_c().await.ok()
    }
}

async fn tick_progress(bar: indicatif::ProgressBar, stats: Arc<Stats>) {
    let started = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(crawl::PROGRESS_TICK);
    loop {
        ticker.tick().await;
        progress::update(&bar, &stats, started.elapsed());
    }
}

/// Logs go to stderr through the progress bar (so they never break it),
/// filtered by RUST_LOG (default: warnings).
fn init_logging(bar: indicatif::ProgressBar) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(progress::BarAwareWriter::new(bar))
        .with_target(false)
        .try_init();
}
