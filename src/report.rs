//! `trawl report`: the crawl's JSONL as one self-contained HTML page (the
//! `trawl-report` crate does the work).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// What `trawl report` reads and writes.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The crawl's JSON lines.
    #[arg(default_value = "output/crawl.jsonl")]
    pub input: PathBuf,

    /// Where to write the page [default: beside the input, e.g.
    /// output/crawl.html].
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// Rows in each top-N list.
    #[arg(long, default_value_t = 20, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub top: u16,

    /// Print nothing on success.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Exit code 0 when the page was written (whatever lines were unreadable),
/// 1 when the input could not be read or the page not written.
pub fn run(args: &ReportArgs) -> ExitCode {
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| trawl_report::default_output(&args.input));
    let limits = trawl_report::Limits {
        top: usize::from(args.top),
        ..trawl_report::Limits::default()
    };
    match trawl_report::generate(&args.input, &output, limits) {
        Ok(report) => {
            if !args.quiet {
                eprintln!(
                    "trawl: report: {} records from {} written to {}",
                    report.records(),
                    args.input.display(),
                    output.display()
                );
            }
            if let Some((line, reason)) = report.first_bad_line() {
                eprintln!(
                    "trawl: warning: {} lines could not be read, first at line {line}: {reason}",
                    report.bad_lines()
                );
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("trawl: error: {error}");
            ExitCode::from(1)
        }
    }
}
