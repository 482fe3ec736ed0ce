//! The commands around crawling: `trawl demo` (the bundled site, served
//! in-process and crawled in one command), shell completions and the man
//! page.

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command, DemoArgs};

/// Serves the demo site on a free loopback port on a runtime of its own,
/// crawls it with the normal pipeline and progress bar, writes the crawl's
/// report beside the records, and says what to try next.
pub fn run(args: &DemoArgs) -> ExitCode {
    let site_runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("trawl-demo-site")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("trawl: error: cannot start the demo site's runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let config = trawl_testsite::SiteConfig {
        pages: args.pages as usize,
        ..trawl_testsite::SiteConfig::default()
    };
    let site = match site_runtime.block_on(trawl_testsite::TestSite::start(config)) {
        Ok(site) => site,
        Err(error) => {
            eprintln!("trawl: error: cannot serve the demo site on 127.0.0.1: {error}");
            return ExitCode::from(1);
        }
    };
    let Ok(seed) = url::Url::parse(&site.url("/")) else {
        return ExitCode::from(1);
    };
    let output = args.output.display().to_string();
    // The demo site is ours: it may be crawled at full speed. Everything
    // else is the normal crawl, politeness machinery included.
    let mut crawl_args = vec![
        "trawl",
        "crawl",
        "--per-host-rate",
        "0",
        "--delay-factor",
        "0",
        "--fresh",
        // The site is on this machine: never through a proxy the
        // environment names.
        "--no-proxy",
        "*",
        "-o",
        output.as_str(),
    ];
    if args.quiet {
        crawl_args.push("--quiet");
    }
    let Ok(Cli {
        command: Command::Crawl(crawl),
    }) = Cli::try_parse_from(&crawl_args)
    else {
        eprintln!("trawl: internal error: the demo's crawl arguments do not parse");
        return ExitCode::from(1);
    };
    if !args.quiet {
        eprintln!(
            "trawl: demo: serving {} pages at {} (our own site, so the per-host rate is lifted)",
            args.pages,
            site.base_url()
        );
    }
    let code = crate::crawl_command(&crawl, Some(vec![seed]), &crate::layers::Report::empty());
    if code != ExitCode::SUCCESS {
        return code;
    }
    // The report of what was just crawled, beside the records.
    let page = trawl_report::default_output(&args.output);
    let report = match trawl_report::generate(&args.output, &page, trawl_report::Limits::default())
    {
        Ok(_) => format!(
            "  open {}                 # the crawl at a glance\n",
            page.display()
        ),
        Err(error) => {
            eprintln!("trawl: warning: the demo's report was not written: {error}");
            String::new()
        }
    };
    if !args.quiet {
        eprintln!(
            "\nNext, try:\n{report}  jq -r 'select(.error == null) | [.status, .url, .title] | @tsv' {output} | head\n  duckdb -c \"SELECT status, count(*) FROM read_json_auto('{output}') GROUP BY status\"\n  trawl report {output}        # the report again, after your own crawls\n  trawl crawl seeds.txt          # your own seeds, polite defaults\n  trawl crawl --help"
        );
    }
    drop(site);
    site_runtime.shutdown_background();
    code
}

/// `trawl completions SHELL`.
pub fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut command = Cli::command();
    // Into memory first: clap_complete panics when its writer fails, and
    // `trawl completions bash | head` closes the pipe early.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "trawl", &mut script);
    print_all(&script)
}

/// Writes `bytes` to standard output; a closed pipe is not an error worth
/// a word.
fn print_all(bytes: &[u8]) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(bytes).and_then(|()| stdout.flush());
    ExitCode::SUCCESS
}

/// `trawl man`: the man page, from the same definitions as `--help`, with
/// every option of `trawl crawl` in a section of its own (a top-level page
/// lists only the subcommands).
pub fn man_page() -> ExitCode {
    let command = Cli::command();
    let mut page = Vec::new();
    let mut crawl_options = Vec::new();
    let rendered = clap_mangen::Man::new(command.clone())
        .render(&mut page)
        .and_then(|()| match command.find_subcommand("crawl") {
            Some(crawl) => {
                clap_mangen::Man::new(crawl.clone()).render_options_section(&mut crawl_options)
            }
            None => Ok(()),
        });
    if let Err(error) = rendered {
        eprintln!("trawl: error: cannot render the man page: {error}");
        return ExitCode::from(1);
    }
    let page = String::from_utf8_lossy(&page);
    let crawl_options =
        String::from_utf8_lossy(&crawl_options).replacen(".SH OPTIONS", ".SH \"CRAWL OPTIONS\"", 1);
    let page = match page.find(".SH VERSION") {
        Some(at) => format!("{}{crawl_options}{}", &page[..at], &page[at..]),
        None => format!("{page}{crawl_options}"),
    };
    print_all(roff_ascii(&page).as_bytes())
}

/// Non-ASCII characters of the help texts (dashes, ellipses) as groff's
/// `\[uXXXX]` escapes: troff reads its input as Latin-1 unless told
/// otherwise.
fn roff_ascii(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    for c in page.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\[u{:04X}]", u32::from(c)));
        }
    }
    out
}
