//! The result table (plain text, aligned) and its JSON twin.

use serde_json::{Value, json};

use crate::cli::Options;
use crate::loadgen::LoadResult;
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
            coverage_pct: Some(run.output.coverage() * 100.0),
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

fn cells(row: &Row) -> [String; 11] {
    let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".to_owned());
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
    let lines: Vec<[String; 11]> = std::iter::once(HEADERS.map(str::to_owned))
        .chain(rows.iter().map(cells))
        .collect();
    let mut widths = [0; 11];
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

/// A one-line description of the site and the settings.
pub fn describe(options: &Options, reachable: usize) -> String {
    format!(
        "site: {} pages ({reachable} reachable), {} links/page, ~{} B/page, seed {}; concurrency {}",
        options.pages, options.links, options.page_bytes, options.seed, options.concurrency
    )
}

/// The same numbers as [`format_table`], as one JSON object.
pub fn to_json(options: &Options, reachable: usize, rows: &[Row]) -> Value {
    json!({
        "config": {
            "pages": options.pages,
            "reachable": reachable,
            "links": options.links,
            "page_bytes": options.page_bytes,
            "seed": options.seed,
            "concurrency": options.concurrency,
            "trawl": options.trawl,
            "baseline": options.baseline,
            "trawl_args": options.trawl_args,
        },
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
    fn json_has_one_entry_per_row_and_nulls_for_dashes() {
        let value = to_json(&Options::default(), 19_800, &rows());
        assert_eq!(value["config"]["pages"], 20_000);
        assert_eq!(value["config"]["reachable"], 19_800);
        let runs = value["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0]["run"], "raw ceiling");
        assert!(runs[0]["cpu_us_per_page"].is_null());
        assert_eq!(runs[1]["coverage_pct"], 100.0);
        assert_eq!(runs[1]["duplicates"], 0);
    }
}
