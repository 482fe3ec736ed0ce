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
mod progress;
mod record;
mod seeds;
mod sink;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command, CrawlArgs};
use crate::config::CrawlConfig;
use crate::crawl::Shutdown;
use crate::progress::Stats;

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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("trawl: error: cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_FATAL);
        }
    };
    runtime.block_on(run(config, bar))
}

async fn run(config: CrawlConfig, bar: indicatif::ProgressBar) -> ExitCode {
    let output = match sink::Output::open(&config.destination).await {
        Ok(output) => output,
        Err(error) => {
            eprintln!("trawl: error: {error}");
            return ExitCode::from(EXIT_FATAL);
        }
    };
    let output_name = config.destination.describe();
    let quiet = config.quiet;
    let stats = Arc::new(Stats::default());
    let shutdown = Shutdown::default();
    let signals = tokio::spawn(watch_ctrl_c(shutdown.clone(), bar.clone()));
    let ticker = tokio::spawn(tick_progress(bar.clone(), Arc::clone(&stats)));
    let started = tokio::time::Instant::now();

    let outcome = crawl::run(config, output, Arc::clone(&stats), shutdown).await;

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
    if let Err(error) = outcome.output {
        eprintln!(
            "trawl: error: {error}; {} records were written before it",
            outcome.report.records
        );
        return ExitCode::from(EXIT_FATAL);
    }
    if outcome.interrupted {
        ExitCode::from(EXIT_INTERRUPTED)
    } else {
        ExitCode::SUCCESS
    }
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
