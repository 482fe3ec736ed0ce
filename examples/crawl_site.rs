//! Crawls one site through the `trawl-crawler` library and prints one JSON
//! record per line on standard output.
//!
//! ```text
//! cargo run --release --example crawl_site -- URL [--rate R] [--max-pages N]
//! ```
//!
//! Polite by default (robots.txt, 2 requests per second per host, adaptive
//! pacing); `--rate 0` lifts the rate and the pacing, for a site you own.
//! Ctrl-C stops handing out URLs and lets requests in flight finish.

use std::process::ExitCode;

use trawl_crawler::{Crawler, Destination, Ending, JsonlSink, Settings, Shutdown};
use url::Url;

const USAGE: &str = "usage: crawl_site URL [--rate R] [--max-pages N]";

struct Args {
    url: Url,
    rate: Option<f64>,
    max_pages: Option<u64>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut url = None;
    let mut rate = None;
    let mut max_pages = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rate" => {
                let value = args.next().ok_or("--rate needs a value")?;
                let parsed: f64 = value
                    .parse()
                    .map_err(|_| format!("--rate `{value}`: not a number"))?;
                if !parsed.is_finite() || parsed < 0.0 {
                    return Err(format!("--rate `{value}`: must be 0 or more"));
                }
                rate = Some(parsed);
            }
            "--max-pages" => {
                let value = args.next().ok_or("--max-pages needs a value")?;
                max_pages = Some(
                    value
                        .parse()
                        .map_err(|_| format!("--max-pages `{value}`: not a whole number"))?,
                );
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            _ if url.is_none() => {
                url = Some(Url::parse(&arg).map_err(|error| format!("URL `{arg}`: {error}"))?)
            }
            _ => return Err(format!("unexpected argument `{arg}`\n{USAGE}")),
        }
    }
    Ok(Args {
        url: url.ok_or(USAGE)?,
        rate,
        max_pages,
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("crawl_site: {message}");
            return ExitCode::from(2);
        }
    };
    let mut settings = Settings::default();
    if let Some(rate) = args.rate {
        if rate == 0.0 {
            settings = settings.unthrottled();
        } else {
            settings.politeness.per_host_rate = rate;
        }
    }
    if let Some(max_pages) = args.max_pages {
        settings.limits.max_pages = max_pages;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("crawl_site: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let sink = match JsonlSink::open(&Destination::Stdout, false) {
            Ok(sink) => sink,
            Err(error) => {
                eprintln!("crawl_site: {error}");
                return ExitCode::from(1);
            }
        };
        let crawler = match Crawler::builder(settings)
            .seeds([args.url])
            .sink(sink)
            .build()
        {
            Ok(crawler) => crawler,
            Err(error) => {
                eprintln!("crawl_site: {error}");
                return ExitCode::from(2);
            }
        };
        let shutdown = Shutdown::default();
        let graceful = shutdown.graceful.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                graceful.cancel();
            }
        });
        let outcome = crawler.run(shutdown).await;
        eprintln!(
            "crawl_site: {} records, {} errors",
            outcome.stats.records, outcome.stats.errors
        );
        match outcome.ending {
            Ending::Finished => ExitCode::SUCCESS,
            Ending::Interrupted => ExitCode::from(130),
            Ending::Failed(error) => {
                eprintln!("crawl_site: {error}");
                ExitCode::from(1)
            }
        }
    })
}
