//! Command-line interface: what the user can type, with polite defaults.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// trawl: a fast, polite, concurrent web crawler.
///
/// Reads seed URLs from a file, crawls every reachable page in scope and
/// writes one JSON line per fetched URL.
#[derive(Debug, Parser)]
#[command(name = "trawl", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per run: the size of the crawl variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Crawl from the seed URLs in SEEDS and write JSON lines to --output.
    Crawl(CrawlArgs),
    /// Print the effective crawl settings and where each came from
    /// (default, config file, environment or flag); takes the same flags as
    /// `crawl` and makes no request.
    Config(CrawlArgs),
    /// Serve the bundled demo site on a free loopback port and crawl it:
    /// the whole pipeline in one command, writing output/crawl.jsonl.
    Demo(DemoArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish,
    /// powershell) on standard output.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print trawl's man page (roff) on standard output.
    Man,
    /// Write a self-contained HTML report (charts, top lists) of a crawl's JSON lines.
    Report(crate::report::ReportArgs),
    /// Print a shared (Redis) crawl's counts: queued, leased, done, hosts
    /// and the workers seen.
    Status(StatusArgs),
}

/// Which shared crawl `trawl status` reads.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The Redis (or Valkey) holding the crawl: redis://HOST:PORT/DB.
    #[arg(long, value_name = "URL")]
    pub frontier: String,

    /// The shared crawl's name.
    #[arg(long, value_name = "NAME")]
    pub crawl_id: String,
}

/// What `trawl demo` crawls and where the records go.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Pages in the demo site.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub pages: u32,

    /// Where to write the JSON lines.
    #[arg(short, long, default_value = "output/crawl.jsonl")]
    pub output: PathBuf,

    /// No progress bar, no summary.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Which config file, if any, supplies settings (`trawl.toml` in the
/// working directory by default). Not crawl settings themselves: they have
/// no config key or `TRAWL_*` variable of their own, except `TRAWL_CONFIG`.
#[derive(Debug, Args)]
pub struct ConfigSource {
    /// Read settings from this TOML file instead of ./trawl.toml (also
    /// TRAWL_CONFIG). Every crawl flag has a key: its long name with `_`
    /// for `-`. Flags beat TRAWL_* variables, which beat the file.
    #[arg(long, value_name = "FILE", help_heading = "Configuration")]
    pub config: Option<PathBuf>,

    /// Read no config file (neither ./trawl.toml, --config nor TRAWL_CONFIG);
    /// TRAWL_* variables still apply.
    #[arg(long, conflicts_with = "config", help_heading = "Configuration")]
    pub no_config: bool,
}

/// How far the crawl may wander from its seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScopeArg {
    /// Stay on each seed's host name.
    Host,
    /// Stay on each seed's domain and its subdomains (a leading `www.` is ignored).
    Domain,
    /// Follow links to any host.
    Any,
}

#[derive(Debug, Args)]
pub struct CrawlArgs {
    /// File with one seed URL per line (`#` comments and blank lines ignored).
    #[arg(default_value = "seeds.txt")]
    pub seeds: PathBuf,

    /// Where to write the JSON lines; `-` writes to standard output.
    #[arg(short, long, default_value = "output/crawl.jsonl")]
    pub output: PathBuf,

    /// Requests in flight at once, over all hosts.
    #[arg(short, long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: u32,

    /// Requests in flight at once to one host (scheme, host and port).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub per_host_concurrency: u32,

    /// Requests per second to one host; `0` means unlimited.
    #[arg(long, default_value_t = 2.0, value_name = "R")]
    pub per_host_rate: f64,

    /// Follow links at most this many hops from a seed (seeds are depth 0).
    #[arg(long, value_name = "N")]
    pub max_depth: Option<u32>,

    /// Stop after this many URLs have been fetched (one record each).
    #[arg(long, value_name = "N")]
    pub max_pages: Option<u64>,

    /// Which hosts links may lead to.
    #[arg(long, value_enum, default_value_t = ScopeArg::Host)]
    pub scope: ScopeArg,

    /// Only queue links whose canonical URL matches this regex (repeatable; any may match).
    #[arg(long, value_name = "REGEX")]
    pub include: Vec<String>,

    /// Never queue links whose canonical URL matches this regex (repeatable).
    #[arg(long, value_name = "REGEX")]
    pub exclude: Vec<String>,

    /// The User-Agent header sent with every request.
    #[arg(long, default_value = concat!("trawl/", env!("CARGO_PKG_VERSION")))]
    pub user_agent: String,

    /// Overall deadline for one request, headers and body, in seconds (a
    /// wait for room in --max-buffered does not count).
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub timeout: f64,

    /// Deadline for opening a connection, in seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub connect_timeout: f64,

    /// Largest body read per page (decompressed); larger bodies are cut
    /// there and recorded as `body_too_large`. Suffixes: K, M, G (binary).
    #[arg(long, default_value = "10M", value_name = "BYTES")]
    pub max_body: String,

    /// Bytes of bodies held in memory at once, across all fetches: being
    /// read, waiting for or in a parser thread, waiting for the output. A
    /// fetch whose body does not fit waits before reading it. Suffixes: K,
    /// M, G (binary).
    #[arg(long, default_value = "8M", value_name = "BYTES")]
    pub max_buffered: String,

    /// Redirect hops followed per URL.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub max_redirects: usize,

    /// Attempts after the first for transient failures (connect, timeout,
    /// 5xx, 429), with exponential back-off and jitter.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub retries: u32,

    /// Longest pause a `Retry-After` header can impose on a host, in seconds.
    #[arg(long, default_value_t = 120.0, value_name = "SECS")]
    pub max_retry_after: f64,

    /// Do not fetch or obey robots.txt. Impolite: only for sites you own.
    #[arg(long)]
    pub ignore_robots: bool,

    /// Cap on a robots.txt `Crawl-delay`, in seconds.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub max_crawl_delay: f64,

    /// Adaptive politeness: keep at least F × (the host's recent response
    /// time) ÷ per-host concurrency between requests to a host, so a slowing
    /// server gets fewer requests. `0` turns it off.
    #[arg(long, default_value_t = 1.0, value_name = "F")]
    pub delay_factor: f64,

    /// Also start from the seeds' sitemaps: the `Sitemap:` lines of their
    /// robots.txt and /sitemap.xml (indexes and gzip followed, size-capped).
    #[arg(long)]
    pub sitemaps: bool,

    /// Do not follow links marked rel="nofollow" (they are followed by
    /// default and listed in the record's `nofollow_links`).
    #[arg(long)]
    pub skip_nofollow_links: bool,

    /// Queue at most N URLs per host (a trap guard).
    #[arg(long, value_name = "N")]
    pub max_pages_per_host: Option<u64>,

    /// Drop links whose path repeats one segment more than N times
    /// (`/a/b/a/b/a/b/a`, calendar-style traps).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub max_repeated_segments: usize,

    /// Longest URL fetched, in bytes; longer ones get `url_too_long`.
    #[arg(long, default_value_t = 2048, value_name = "BYTES")]
    pub max_url_length: usize,

    /// Send requests for HOST:PORT to ADDR instead of resolving HOST (like curl's --resolve; repeatable).
    #[arg(long, value_name = "HOST:PORT:ADDR")]
    pub resolve: Vec<String>,

    /// Send this header with every request, robots.txt and sitemaps
    /// included (repeatable): 'Name: value'. Host, Content-Length,
    /// Transfer-Encoding, Connection and the like are refused; use
    /// --user-agent for User-Agent.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,

    /// HTTP Basic credentials for one origin (repeatable):
    /// `https://intranet.example=USER:PASSWORD` (a bare host means https
    /// on 443). Sent only to that exact scheme, host and port, never on a
    /// redirect elsewhere; never written to records, archives or logs.
    #[arg(long = "auth", value_name = "ORIGIN=USER:PASSWORD")]
    pub auth: Vec<String>,

    /// Send `Accept-Language: LANGS` with every request (e.g. `de, en;q=0.5`).
    #[arg(long, value_name = "LANGS")]
    pub accept_language: Option<String>,

    /// HTTP Basic credentials from a netrc file (`machine HOST login USER
    /// password PASS`): each sent to its host only, on any port, never on
    /// a redirect elsewhere. The file is ~/.netrc unless --netrc-file
    /// names another; its `default` entry is ignored (it would go to
    /// every host a crawl reaches). --auth wins for its origin.
    #[arg(long)]
    pub netrc: bool,

    /// Read netrc credentials from FILE (implies --netrc).
    #[arg(long, value_name = "FILE")]
    pub netrc_file: Option<PathBuf>,

    /// Keep no cookies and send none. By default a cookie jar follows the
    /// browser rules (RFC 6265: domain, path, Secure, expiry; public
    /// suffixes such as `co.uk` refused) for the whole crawl, and is kept
    /// in the crawl state for --resume.
    #[arg(long, conflicts_with_all = ["cookies", "save_cookies"])]
    pub no_cookies: bool,

    /// Start with the cookies of FILE, a Netscape cookies.txt as curl
    /// (`-c`) and wget (`--save-cookies`) write it: a login session, a
    /// consent cookie.
    #[arg(long, value_name = "FILE")]
    pub cookies: Option<PathBuf>,

    /// Write the jar to FILE (Netscape format, session cookies included,
    /// mode 0600) when the crawl ends, finished or interrupted.
    #[arg(long, value_name = "FILE")]
    pub save_cookies: Option<PathBuf>,

    /// Send every request through this proxy: `http://HOST:PORT`,
    /// `https://…`, `socks5h://…` (the proxy resolves names) or
    /// `socks5://…`, with `USER:PASSWORD@` if it needs a login. Without
    /// it, HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY are read from
    /// the environment. robots.txt and every politeness rule stay per
    /// target host. Failures are recorded as `proxy`.
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,

    /// Reach these hosts directly, not through the proxy: a NO_PROXY
    /// list (`localhost,.internal.example,10.0.0.0/8`; a name covers its
    /// subdomains; `*` is every host). Replaces the environment's
    /// NO_PROXY.
    #[arg(long, value_name = "HOSTS")]
    pub no_proxy: Option<String>,

    /// Also trust the certificates in FILE (PEM: a private CA, a bundle,
    /// or a server's self-signed certificate) besides the system's roots
    /// (repeatable). Certificates are always verified.
    #[arg(long = "ca-cert", value_name = "FILE")]
    pub ca_certs: Vec<std::path::PathBuf>,

    /// Also connect to addresses in CIDR (`10.0.0.0/8`, `fd00::/8`, or one
    /// address), whatever their class (repeatable). By default trawl
    /// connects only to public addresses and to the classes its seeds
    /// resolve into; link-local addresses (169.254.0.0/16, fe80::/10,
    /// where cloud metadata answers) are reached only through this flag.
    #[arg(long = "allow-address", value_name = "CIDR")]
    pub allow_addresses: Vec<String>,

    /// Never connect to addresses in CIDR (repeatable); beats
    /// --allow-address and the seeds' classes. Such URLs are recorded as
    /// `blocked_address`.
    #[arg(long = "deny-address", value_name = "CIDR")]
    pub deny_addresses: Vec<String>,

    /// Extract a field from every HTML page into the record's `fields`
    /// (repeatable): `NAME=SELECTOR` takes the first match or null,
    /// `NAME[]=SELECTOR` every match as a list. CSS selectors; a suffix
    /// `::text` (text, whitespace collapsed; the default), `::attr(NAME)`
    /// or `::html` (outer HTML) says what to take. Example:
    /// --field 'price=.price::text' --field 'images[]=img::attr(src)'
    #[arg(long = "field", value_name = "NAME=SELECTOR")]
    pub fields: Vec<String>,

    /// Save every body under DIR, once each, named by its SHA-256
    /// (DIR/ab/cdef…); records gain `body_sha256` and `body_path`.
    #[arg(long, value_name = "DIR")]
    pub save_bodies: Option<PathBuf>,

    /// Serve Prometheus/OpenMetrics metrics at http://ADDR/metrics while
    /// the crawl runs (e.g. `127.0.0.1:9898`; port 0 picks a free one).
    /// A warning is printed when ADDR is not a loopback address.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,

    /// Also archive every fetch as WARC 1.1: a request and a response
    /// record per exchange (redirect hops too). A name ending in `.gz` is
    /// gzip-compressed, one member per record; `.warc` is plain.
    #[arg(long, value_name = "PATH")]
    pub warc: Option<PathBuf>,

    /// Start a new WARC file before one would grow past BYTES (K, M, G):
    /// the files are then NAME-00001.warc.gz, NAME-00002.warc.gz, ...
    #[arg(long, value_name = "BYTES", requires = "warc")]
    pub warc_max_size: Option<String>,

    /// Also write a CDXJ index of the WARC's response records (in crawl
    /// order; sort it for replay tools).
    #[arg(long, value_name = "PATH", requires = "warc")]
    pub warc_cdx: Option<PathBuf>,

    /// Folder for the crawl's resumable state [default: beside the output,
    /// e.g. output/crawl.state; none when writing to standard output, or
    /// with --frontier, whose state is in Redis].
    #[arg(long, value_name = "DIR", conflicts_with = "frontier")]
    pub state: Option<PathBuf>,

    /// Continue the crawl whose state is in --state (same seeds and output):
    /// URLs already in the output are not fetched again, the output is
    /// appended to. With --frontier the state is in Redis: --resume only
    /// appends to this worker's output instead of starting it over.
    #[arg(long, conflicts_with = "fresh")]
    pub resume: bool,

    /// Discard an existing crawl state (and the output) and start over;
    /// with --frontier, delete the shared crawl's keys in Redis first
    /// (give it to one worker only).
    #[arg(long)]
    pub fresh: bool,

    /// Share the crawl with other trawl processes through this Redis (or
    /// Valkey): redis://HOST:PORT/DB. Each process writes its own
    /// --output; the union of the outputs is the crawl. Needs --crawl-id.
    #[arg(long, value_name = "URL", requires = "crawl_id")]
    pub frontier: Option<String>,

    /// Name of the shared crawl in --frontier (letters, digits, `.`, `_`,
    /// `-`): processes with the same name crawl together.
    #[arg(long, value_name = "NAME", requires = "frontier")]
    pub crawl_id: Option<String>,

    /// With --frontier: a URL a worker claimed but neither finished nor
    /// renewed within SECS (it was killed, or lost Redis) goes back to the
    /// queue for another worker. Live workers renew their leases.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub lease_time: f64,

    /// Queued URLs kept in memory before the rest spill to a file in the
    /// state folder (or the temp folder), so memory stays flat.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub max_queue_in_memory: usize,

    /// URL fingerprints of the seen-set kept in memory (about 9 bytes
    /// each) before older ones move to sorted, Bloom-filtered files in
    /// the state folder (about 1.25 bytes of memory each then).
    #[arg(long, default_value_t = 3_500_000, value_name = "N")]
    pub max_seen_in_memory: usize,

    /// Threads that run the network I/O and scheduling (the async runtime)
    /// [default: half the cores, at least 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub io_threads: Option<u32>,

    /// Threads that parse HTML, off the I/O threads [default: the cores
    /// left after --io-threads, at least 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub parse_threads: Option<u32>,

    /// No progress bar and no summary.
    #[arg(short, long)]
    pub quiet: bool,

    #[command(flatten)]
    pub source: ConfigSource,
}
