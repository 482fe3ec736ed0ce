//! Serves the synthetic site on 127.0.0.1 until killed: for manual crawls
//! and benchmarks.
//!
//! `trawl-testsite [--pages N] [--links L] [--page-bytes B] [--seed S] [--port P] [--hosts N] [--robots FILE] [--profile realistic|uniform]`
//!
//! The first stdout line is `listening on http://127.0.0.1:PORT (N reachable
//! pages)`; the benchmark parses it, so its shape is fixed (and tested in
//! `tests/bin.rs`). With `--hosts` > 1 a second line names the virtual hosts.

use std::process::ExitCode;

use trawl_testsite::{PageProfile, SiteConfig, TestSite};

const USAGE: &str = "usage: trawl-testsite [--pages N] [--links L] [--page-bytes B] [--seed S] [--port P] [--hosts N] [--robots FILE] [--profile realistic|uniform]
defaults: 2000 pages, 10 links, seed 1, port 8080 (0 = any free port), 1 host, no robots.txt, realistic pages (--page-bytes 2048 with uniform)";

fn parse_args() -> Result<(SiteConfig, u16), String> {
    let mut config = SiteConfig {
        pages: 2000,
        ..SiteConfig::default()
    };
    let mut port = 8080;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: `{value}` is not a number"))
        };
        match flag.as_str() {
            "--pages" => config.pages = number()? as usize,
            "--links" => config.links_per_page = number()? as usize,
            "--page-bytes" => config.page_bytes = number()? as usize,
            "--seed" => config.seed = number()?,
            "--hosts" => config.hosts = number()?.max(1) as usize,
            "--port" => {
                port = u16::try_from(number()?)
                    .map_err(|_| format!("--port: `{value}` is not a port"))?
            }
            "--profile" => {
                config.profile = PageProfile::parse(&value)
                    .ok_or_else(|| format!("--profile: `{value}` is not uniform or realistic"))?
            }
            "--robots" => {
                config.robots_txt = Some(
                    std::fs::read_to_string(&value)
                        .map_err(|e| format!("--robots {value}: {e}"))?,
                )
            }
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    Ok((config, port))
}

// stdout is this program's interface: the listening address (parsed by the
// benchmark) and --help.
#[allow(clippy::print_stdout)]
fn main() -> ExitCode {
    if std::env::args().any(|arg| arg == "-h" || arg == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let (config, port) = match parse_args() {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("trawl-testsite: cannot start runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let site_hosts = config.hosts;
    runtime.block_on(async {
        let site = match TestSite::start_on(config, port).await {
            Ok(site) => site,
            Err(error) => {
                eprintln!("trawl-testsite: cannot listen on 127.0.0.1:{port}: {error}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "listening on {} ({} reachable pages)",
            site.base_url(),
            site.reachable().len()
        );
        if site_hosts > 1 {
            println!(
                "virtual hosts h0.test … h{}.test on port {} (e.g. {})",
                site_hosts - 1,
                site.addr().port(),
                site.vhost_url(0, "/")
            );
        }
        let _ = tokio::signal::ctrl_c().await;
        site.shutdown().await;
        ExitCode::SUCCESS
    })
}
