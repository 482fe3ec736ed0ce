//! The result table (plain text, aligned) and its JSON twin.

use serde_json::{Value, json};

use trawl_testsite::PageProfile;

use crate::cli::{ManyHosts, Options};
use crate::loadgen::LoadResult;
use crate::loadgen::paced::PacedResult;
use crate::run::CrawlRun;

/// One line of the table. `None` prints as `-` (and `null` in JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub run: String,
    pub pages: u64,
    pub wall_secs: f64,
    pub per_sec: f64,
    /// `per_sec` divided by the raw ceiling's.
    pub ratio: f64,
    pub cpu_us_per_page: Option<f64>,
    pub peak_rss_mib: Option<f64>,
    /// Percent of the reachable pages recorded.
    pub coverage_pct: Option<f64>,
    pub duplicates: Option<u64>,
    pub status_200: u64,
    pub errors: Option<u64>,
}

impl Row {
    pub fn raw(load: &LoadResult) -> Row {
        Row {
            run: "raw ceiling".to_owned(),
            pages: load.requests,
            wall_secs: load.elapsed.as_secs_f64(),
            per_sec: load.per_second(),
            ratio: 1.0,
            cpu_us_per_page: None,
            peak_rss_mib: None,
            coverage_pct: None,
            duplicates: None,
            status_200: load.ok,
            errors: None,
        }
    }

    pub fn crawl(name: &str, run: &CrawlRun, ceiling_per_sec: f64) -> Row {
        let pages = run.output.records;
        let wall = run.usage.wall.as_secs_f64().max(1e-9);
        let per_sec = pages as f64 / wall;
        Row {
            run: name.to_owned(),
            pages,
            wall_secs: wall,
            per_sec,
            ratio: per_sec / ceiling_per_sec.max(1e-9),
            cpu_us_per_page: (pages > 0).then(|| run.usage.cpu.as_secs_f64() * 1e6 / pages as f64),
            peak_rss_mib: Some(run.usage.max_rss_kib as f64 / 1024.0),
            // No ground truth (a folder of real pages): no coverage.
            coverage_pct: (run.output.truth > 0).then(|| run.output.coverage() * 100.0),
            duplicates: Some(run.output.duplicates()),
            status_200: run.output.ok,
            errors: Some(run.output.errors),
        }
    }
}

const HEADERS: [&str; 11] = [
    "run",
    "pages",
    "wall s",
    "pages/s",
    "vs raw",
    "CPU µs/page",
    "peak RSS MiB",
    "coverage %",
    "dups",
    "200s",
    "errors",
];

/// A cell for a value a run does not have.
fn or_dash(value: Option<String>) -> String {
    value.unwrap_or_else(|| "-".to_owned())
}

fn cells(row: &Row) -> [String; 11] {
    [
        row.run.clone(),
        row.pages.to_string(),
        format!("{:.2}", row.wall_secs),
        format!("{:.0}", row.per_sec),
        format!("{:.2}", row.ratio),
        or_dash(row.cpu_us_per_page.map(|v| format!("{v:.0}"))),
        or_dash(row.peak_rss_mib.map(|v| format!("{v:.1}"))),
        or_dash(row.coverage_pct.map(|v| format!("{v:.2}"))),
        or_dash(row.duplicates.map(|v| v.to_string())),
        row.status_200.to_string(),
        or_dash(row.errors.map(|v| v.to_string())),
    ]
}

/// The table: the first column left-aligned, numbers right-aligned, two
/// spaces between columns, one line per row, a trailing newline.
pub fn format_table(rows: &[Row]) -> String {
    align(
        std::iter::once(HEADERS.map(str::to_owned))
            .chain(rows.iter().map(cells))
            .collect(),
    )
}

/// Aligns `lines` (the header first) as [`format_table`] describes.
pub fn align<const N: usize>(lines: Vec<[String; N]>) -> String {
    let mut widths = [0; N];
    for line in &lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut table = String::new();
    for line in &lines {
        let mut text = String::new();
        for (column, (cell, width)) in line.iter().zip(widths).enumerate() {
            let pad = " ".repeat(width - cell.chars().count());
            if column == 0 {
                text.push_str(cell);
                text.push_str(&pad);
            } else {
                text.push_str("  ");
                text.push_str(&pad);
                text.push_str(cell);
            }
        }
        table.push_str(text.trim_end());
        table.push('\n');
    }
    table
}

/// The ideal wall time of the many-hosts crawl: every host's first request
/// is free (GCRA), then one per `1 / rate` seconds, all hosts in
/// parallel, so `(pages_per_host - 1) / rate`.
pub fn ideal_wall_secs(pages_per_host: usize, rate: f64) -> f64 {
    pages_per_host.saturating_sub(1) as f64 / rate
}

/// The share of what politeness allows that was achieved: ideal wall ÷
/// actual wall (1.0 = as fast as the per-host rate permits).
pub fn achieved_share(ideal_secs: f64, wall_secs: f64) -> f64 {
    ideal_secs / wall_secs.max(1e-9)
}

/// One line of the many-hosts table.
#[derive(Debug, Clone, PartialEq)]
pub struct HostsRow {
    pub run: String,
    pub hosts: usize,
    pub pages: u64,
    pub wall_secs: f64,
    /// [`ideal_wall_secs`].
    pub ideal_secs: f64,
    pub per_sec: f64,
    /// hosts × per-host rate.
    pub allowed_per_sec: f64,
    /// [`achieved_share`], as a fraction.
    pub share: f64,
    pub cpu_us_per_page: Option<f64>,
    pub peak_rss_mib: Option<f64>,
    pub coverage_pct: Option<f64>,
    pub duplicates: Option<u64>,
    pub status_200: u64,
    pub errors: u64,
    /// Listen-queue overflows on this machine during the crawl (`None` if
    /// unknown): SYNs the test site's full accept queue dropped, each
    /// delaying a host by a retransmission and so lowering the share.
    pub listen_drops: Option<u64>,
}

impl HostsRow {
    /// `pages_per_host`: reachable pages on each virtual host.
    pub fn crawl(name: &str, run: &CrawlRun, many: &ManyHosts, pages_per_host: usize) -> HostsRow {
        let pages = run.output.records;
        let wall = run.usage.wall.as_secs_f64().max(1e-9);
        let ideal = ideal_wall_secs(pages_per_host, many.rate);
        HostsRow {
            run: name.to_owned(),
            hosts: many.hosts,
            pages,
            wall_secs: wall,
            ideal_secs: ideal,
            per_sec: pages as f64 / wall,
            allowed_per_sec: many.hosts as f64 * many.rate,
            share: achieved_share(ideal, wall),
            cpu_us_per_page: (pages > 0).then(|| run.usage.cpu.as_secs_f64() * 1e6 / pages as f64),
            peak_rss_mib: Some(run.usage.max_rss_kib as f64 / 1024.0),
            coverage_pct: Some(run.output.coverage() * 100.0),
            duplicates: Some(run.output.duplicates()),
            status_200: run.output.ok,
            errors: run.output.errors,
            listen_drops: None,
        }
    }

    /// The politeness ceiling's row: the schedule with no crawler in it
    /// (see `loadgen::paced`); no CPU, memory or coverage of its own.
    pub fn ceiling(load: &PacedResult, many: &ManyHosts, pages_per_host: usize) -> HostsRow {
        let wall = load.elapsed.as_secs_f64().max(1e-9);
        let ideal = ideal_wall_secs(pages_per_host, many.rate);
        HostsRow {
            run: "paced ceiling".to_owned(),
            hosts: many.hosts,
            pages: load.pages,
            wall_secs: wall,
            ideal_secs: ideal,
            per_sec: load.pages as f64 / wall,
            allowed_per_sec: many.hosts as f64 * many.rate,
            share: achieved_share(ideal, wall),
            cpu_us_per_page: None,
            peak_rss_mib: None,
            coverage_pct: None,
            duplicates: None,
            status_200: load.ok,
            errors: load.pages - load.ok,
            listen_drops: None,
        }
    }
}

const HOSTS_HEADERS: [&str; 15] = [
    "run",
    "hosts",
    "pages",
    "wall s",
    "ideal s",
    "pages/s",
    "allowed/s",
    "share %",
    "CPU µs/page",
    "peak RSS MiB",
    "coverage %",
    "dups",
    "200s",
    "errors",
    "SYN drops",
];

fn hosts_cells(row: &HostsRow) -> [String; 15] {
    [
        row.run.clone(),
        row.hosts.to_string(),
        row.pages.to_string(),
        format!("{:.2}", row.wall_secs),
        format!("{:.2}", row.ideal_secs),
        format!("{:.0}", row.per_sec),
        format!("{:.0}", row.allowed_per_sec),
        format!("{:.1}", row.share * 100.0),
        or_dash(row.cpu_us_per_page.map(|v| format!("{v:.0}"))),
        or_dash(row.peak_rss_mib.map(|v| format!("{v:.1}"))),
        or_dash(row.coverage_pct.map(|v| format!("{v:.2}"))),
        or_dash(row.duplicates.map(|v| v.to_string())),
        row.status_200.to_string(),
        row.errors.to_string(),
        or_dash(row.listen_drops.map(|v| v.to_string())),
    ]
}

/// The many-hosts table, aligned like [`format_table`].
pub fn format_hosts_table(rows: &[HostsRow]) -> String {
    align(
        std::iter::once(HOSTS_HEADERS.map(str::to_owned))
            .chain(rows.iter().map(hosts_cells))
            .collect(),
    )
}

/// A one-line description of the many-hosts settings.
pub fn describe_hosts(options: &Options, many: &ManyHosts, pages_per_host: usize) -> String {
    format!(
        "site: {} virtual hosts × {} pages ({pages_per_host} reachable each, {} in all), \
         {} links/page, {}, seed {}; per-host rate {}/s, per-host concurrency {}, \
         concurrency {}",
        many.hosts,
        options.pages,
        many.hosts * pages_per_host,
        options.links,
        page_phrase(options),
        options.seed,
        many.rate,
        many.per_host_concurrency,
        options.concurrency
    )
}

/// The many-hosts numbers as one JSON object.
pub fn hosts_to_json(
    options: &Options,
    many: &ManyHosts,
    pages_per_host: usize,
    rows: &[HostsRow],
) -> Value {
    json!({
        "config": config_json(options, json!({
            "mode": "many_hosts",
            "hosts": many.hosts,
            "per_host_rate": many.rate,
            "per_host_concurrency": many.per_host_concurrency,
            "pages_per_host": options.pages,
            "reachable_per_host": pages_per_host,
            "reachable": many.hosts * pages_per_host,
        })),
        "runs": rows.iter().map(|row| json!({
            "run": row.run,
            "hosts": row.hosts,
            "pages": row.pages,
            "wall_secs": row.wall_secs,
            "ideal_wall_secs": row.ideal_secs,
            "pages_per_sec": row.per_sec,
            "allowed_pages_per_sec": row.allowed_per_sec,
            "achieved_share": row.share,
            "cpu_us_per_page": row.cpu_us_per_page,
            "peak_rss_mib": row.peak_rss_mib,
            "coverage_pct": row.coverage_pct,
            "duplicates": row.duplicates,
            "status_200": row.status_200,
            "errors": row.errors,
            "listen_overflows": row.listen_drops,
        })).collect::<Vec<_>>(),
    })
}

/// A one-line description of the site and the settings.
pub fn describe(options: &Options, reachable: usize) -> String {
    let page = page_phrase(options);
    format!(
        "site: {} pages ({reachable} reachable), {} links/page, {page}, seed {}; concurrency {}; median of {} round(s)",
        options.pages, options.links, options.seed, options.concurrency, options.rounds
    )
}

/// The pages' size as the site serves them, for the descriptions.
fn page_phrase(options: &Options) -> String {
    match options.profile {
        PageProfile::Uniform => format!("~{} B/page", options.page_bytes),
        PageProfile::Realistic => "realistic pages (2-200 KB)".to_owned(),
    }
}

/// For each row position (ceiling, trawl, baseline), the round with the
/// median ratio to its own round's ceiling (the ceiling's row: the median
/// rate). With an even count the lower middle is taken.
pub fn median_rows(rounds: Vec<Vec<Row>>) -> Vec<Row> {
    let columns = rounds.first().map_or(0, Vec::len);
    (0..columns)
        .filter_map(|column| {
            let mut rows: Vec<Row> = rounds
                .iter()
                .filter_map(|rows| rows.get(column).cloned())
                .collect();
            rows.sort_by(|a, b| {
                let key = |row: &Row| if column == 0 { row.per_sec } else { row.ratio };
                key(a).total_cmp(&key(b))
            });
            let middle = rows.len().saturating_sub(1) / 2;
            rows.into_iter().nth(middle)
        })
        .collect()
}

/// The settings both modes report, added to the mode's own `fields` (an
/// object).
fn config_json(options: &Options, mut fields: Value) -> Value {
    if let Some(map) = fields.as_object_mut() {
        for (key, value) in [
            ("links", json!(options.links)),
            ("page_bytes", json!(options.page_bytes)),
            (
                "profile",
                json!(match options.profile {
                    PageProfile::Uniform => "uniform",
                    PageProfile::Realistic => "realistic",
                }),
            ),
            ("delay_factor", json!(options.delay_factor)),
            ("seed", json!(options.seed)),
            ("concurrency", json!(options.concurrency)),
            ("trawl", json!(options.trawl)),
            ("baseline", json!(options.baseline)),
            ("trawl_args", json!(options.trawl_args)),
        ] {
            map.insert(key.to_owned(), value);
        }
    }
    fields
}

/// The same numbers as [`format_table`], as one JSON object.
pub fn to_json(options: &Options, reachable: usize, rows: &[Row]) -> Value {
    json!({
        "config": config_json(options, json!({
            "pages": options.pages,
            "reachable": reachable,
            "rounds": options.rounds,
        })),
        "runs": rows.iter().map(|row| json!({
            "run": row.run,
            "pages": row.pages,
            "wall_secs": row.wall_secs,
            "pages_per_sec": row.per_sec,
            "ratio_to_raw": row.ratio,
            "cpu_us_per_page": row.cpu_us_per_page,
            "peak_rss_mib": row.peak_rss_mib,
            "coverage_pct": row.coverage_pct,
            "duplicates": row.duplicates,
            "status_200": row.status_200,
            "errors": row.errors,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Row> {
        vec![
            Row {
                run: "raw ceiling".into(),
                pages: 19_800,
                wall_secs: 1.5,
                per_sec: 13_200.0,
                ratio: 1.0,
                cpu_us_per_page: None,
                peak_rss_mib: None,
                coverage_pct: None,
                duplicates: None,
                status_200: 19_800,
                errors: None,
            },
            Row {
                run: "trawl".into(),
                pages: 19_801,
                wall_secs: 12.25,
                per_sec: 1616.4,
                ratio: 0.1225,
                cpu_us_per_page: Some(812.3),
                peak_rss_mib: Some(95.25),
                coverage_pct: Some(100.0),
                duplicates: Some(0),
                status_200: 19_800,
                errors: Some(0),
            },
        ]
    }

    #[test]
    fn the_table_is_aligned() {
        let table = format_table(&rows());
        let expected = "\
run          pages  wall s  pages/s  vs raw  CPU µs/page  peak RSS MiB  coverage %  dups   200s  errors
raw ceiling  19800    1.50    13200    1.00            -             -           -     -  19800       -
trawl        19801   12.25     1616    0.12          812          95.2      100.00     0  19800       0
";
        assert_eq!(table, expected);
        let widths: Vec<usize> = table.lines().map(|l| l.chars().count()).collect();
        assert!(widths.windows(2).all(|w| w[0] == w[1]), "{widths:?}");
    }

    #[test]
    fn the_median_round_is_taken_per_row() {
        let round = |ceiling: f64, ratio: f64| {
            let mut rows = rows();
            rows[0].per_sec = ceiling;
            rows[1].ratio = ratio;
            rows
        };
        let median = median_rows(vec![
            round(100.0, 0.30),
            round(300.0, 0.10),
            round(200.0, 0.20),
        ]);
        assert_eq!(median.len(), 2);
        assert_eq!(median[0].per_sec, 200.0);
        assert_eq!(median[1].ratio, 0.20);
        // An even count takes the lower middle.
        let median = median_rows(vec![round(100.0, 0.3), round(300.0, 0.1)]);
        assert_eq!((median[0].per_sec, median[1].ratio), (100.0, 0.1));
    }

    #[test]
    fn json_has_one_entry_per_row_and_nulls_for_dashes() {
        let value = to_json(&Options::default(), 19_800, &rows());
        assert_eq!(value["config"]["pages"], 20_000);
        assert_eq!(value["config"]["reachable"], 19_800);
        assert_eq!(value["config"]["rounds"], 3);
        let runs = value["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0]["run"], "raw ceiling");
        assert!(runs[0]["cpu_us_per_page"].is_null());
        assert_eq!(runs[1]["coverage_pct"], 100.0);
        assert_eq!(runs[1]["duplicates"], 0);
    }

    #[test]
    fn the_share_is_ideal_wall_over_actual_wall() {
        // 20 pages at 2/s: the first is free, 19 more take 9.5 s.
        assert_eq!(ideal_wall_secs(20, 2.0), 9.5);
        assert_eq!(ideal_wall_secs(1, 2.0), 0.0);
        assert_eq!(ideal_wall_secs(0, 2.0), 0.0);
        assert_eq!(ideal_wall_secs(11, 0.5), 20.0);
        assert!((achieved_share(9.5, 10.0) - 0.95).abs() < 1e-12);
        assert_eq!(achieved_share(9.5, 9.5), 1.0);
        assert!(achieved_share(9.5, 0.0).is_finite());
    }

    fn hosts_row() -> HostsRow {
        HostsRow {
            run: "trawl".into(),
            hosts: 1000,
            pages: 20_000,
            wall_secs: 10.0,
            ideal_secs: 9.5,
            per_sec: 2000.0,
            allowed_per_sec: 2000.0,
            share: 0.95,
            cpu_us_per_page: Some(123.4),
            peak_rss_mib: Some(40.25),
            coverage_pct: Some(100.0),
            duplicates: Some(0),
            status_200: 20_000,
            errors: 0,
            listen_drops: Some(0),
        }
    }

    #[test]
    fn the_hosts_table_is_aligned() {
        let table = format_hosts_table(&[hosts_row()]);
        let expected = "\
run    hosts  pages  wall s  ideal s  pages/s  allowed/s  share %  CPU µs/page  peak RSS MiB  coverage %  dups   200s  errors  SYN drops
trawl   1000  20000   10.00     9.50     2000       2000     95.0          123          40.2      100.00     0  20000       0          0
";
        assert_eq!(table, expected);
    }

    #[test]
    fn the_hosts_json_carries_the_mode_and_the_share() {
        let options = Options {
            pages: 20,
            ..Options::default()
        };
        let many = ManyHosts {
            hosts: 1000,
            rate: 2.0,
            per_host_concurrency: 2,
        };
        let value = hosts_to_json(&options, &many, 20, &[hosts_row()]);
        assert_eq!(value["config"]["mode"], "many_hosts");
        assert_eq!(value["config"]["reachable"], 20_000);
        assert_eq!(value["config"]["per_host_rate"], 2.0);
        assert_eq!(value["runs"][0]["achieved_share"], 0.95);
        assert_eq!(value["runs"][0]["allowed_pages_per_sec"], 2000.0);
        assert_eq!(value["runs"][0]["listen_overflows"], 0);
        assert!(
            describe_hosts(&options, &many, 20).starts_with("site: 1000 virtual hosts × 20 pages")
        );
    }
}
