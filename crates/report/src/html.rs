//! The page: HTML with inline SVG charts and one inline stylesheet.
//! Every piece of text that came from a record goes through [`esc`].

use std::fmt::Write as _;

use crate::bounded::FrequentItems;
use crate::svg::{Bar, bar, bar_chart, column_chart, figure};
use crate::{DEPTHS, Report, format_utc_millis};

/// Nothing may load: no scripts at all, no fetches, styles only inline.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                   base-uri 'none'; form-action 'none'";

/// The one stylesheet, inline in the page.
const STYLE: &str = include_str!("html/style.css");

/// Text as HTML: safe in element content and in quoted attributes.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Controls other than tab and newline are not allowed in HTML text.
            c if c.is_control() && c != '\t' && c != '\n' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters, with an ellipsis when cut.
pub(crate) fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// A crawled URL: a link when it is http(s), else plain text.
fn url_cell(url: &str) -> String {
    let shown = esc(&cut(url, 160));
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        format!(
            "<a href=\"{}\" rel=\"noreferrer nofollow\">{shown}</a>",
            esc(url)
        )
    } else {
        shown
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let digits = if value < 10.0 { 1 } else { 0 };
    let text = format!("{value:.digits$}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {}", UNITS[unit])
}

pub(crate) fn millis(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{} min {} s", ms / 60_000, ms / 1000 % 60),
        _ => format!("{} h {} min", ms / 3_600_000, ms / 60_000 % 60),
    }
}

/// A duration in few characters, for an axis: `250ms`, `12s`, `7m38s`, `2h05m`.
fn compact_millis(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 if ms.is_multiple_of(1000) => format!("{}s", ms / 1000),
        1_000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m{:02}s", ms / 60_000, ms / 1000 % 60),
        _ => format!("{}h{:02}m", ms / 3_600_000, ms / 60_000 % 60),
    }
}

pub(crate) fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0%".to_owned();
    }
    let share = part as f64 * 100.0 / whole as f64;
    if share > 0.0 && share < 0.1 {
        "<0.1%".to_owned()
    } else {
        format!("{share:.1}%")
    }
}

/// The `bars` most frequent keys, then "other" for the rest of `total`.
fn frequent_bars(items: &FrequentItems, bars: usize, class: &'static str) -> Vec<Bar> {
    let top = items.top(bars);
    let shown: u64 = top.iter().map(|(_, n)| n).sum();
    let mut out: Vec<Bar> = top.into_iter().map(|(key, n)| bar(key, n, class)).collect();
    let rest = items.total() - shown;
    if rest > 0 {
        out.push(bar("other", rest, "other"));
    }
    out
}

fn frequent_note(items: &FrequentItems) -> String {
    if items.undercount() == 0 {
        String::new()
    } else {
        format!(
            "(more than {} distinct: counts are lower bounds, at most {} low)",
            count(items.capacity() as u64),
            count(items.undercount())
        )
    }
}

/// A power-of-two bar: the range in full, the axis its lower end.
fn octave_bar(low: u64, high: u64, n: u64, unit: fn(u64) -> String, class: &'static str) -> Bar {
    let label = if low == high {
        unit(low)
    } else {
        format!("{} to {}", unit(low), unit(high))
    };
    Bar {
        short: Some(unit(low)),
        ..bar(label, n, class)
    }
}

fn summary_row(out: &mut String, name: &str, value: &str) {
    let _ = writeln!(
        out,
        "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
        esc(name),
        value
    );
}

pub(crate) fn render(report: &Report, source: &str) -> String {
    let mut out = String::with_capacity(64 << 10);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Crawl report: {}</title><style>{STYLE}</style></head>\n<body>\n\
         <header><h1>Crawl report</h1><p class=\"source\">{} · {} records · made by trawl-report {}</p></header>\n",
        esc(source),
        esc(source),
        count(report.records),
        env!("CARGO_PKG_VERSION"),
    );
    if let Some((line, reason)) = &report.first_bad {
        let lines = if report.bad_lines == 1 {
            "1 line".to_owned()
        } else {
            format!("{} lines", count(report.bad_lines))
        };
        let _ = writeln!(
            out,
            "<p class=\"warning\" id=\"bad-lines\">{lines} could not be read, first at line {} ({}).</p>",
            count(*line),
            esc(&cut(reason, 200))
        );
    }
    summary(&mut out, report);
    charts(&mut out, report);
    lists(&mut out, report);
    let _ = write!(
        out,
        "<footer>Made in one pass over the records in bounded memory: fixed histograms \
         (sizes and latency to within 12.5%), top-{} heaps, the first {} broken links, \
         and fixed sets of counters for hosts, content types and link targets (exact \
         until they fill; the page says when a count is a lower bound). This page loads \
         nothing from anywhere and needs no JavaScript.</footer>\n</body></html>\n",
        report.limits.top, report.limits.broken
    );
    out
}

fn summary(out: &mut String, report: &Report) {
    let records = report.records;
    let in_range = |low: usize, high: usize| report.statuses[low..=high].iter().sum::<u64>();
    out.push_str("<section id=\"summary\"><h2>Summary</h2><table class=\"summary\">\n");
    summary_row(out, "Pages (records)", &count(records));
    summary_row(
        out,
        "Succeeded (2xx)",
        &format!(
            "{} ({})",
            count(in_range(200, 299)),
            percent(in_range(200, 299), records)
        ),
    );
    summary_row(
        out,
        "Redirects not followed (3xx)",
        &count(in_range(300, 399)),
    );
    summary_row(
        out,
        "Client / server errors (4xx / 5xx)",
        &format!(
            "{} / {}",
            count(in_range(400, 499)),
            count(in_range(500, 999))
        ),
    );
    summary_row(
        out,
        "Errors (records with an error)",
        &format!(
            "{} ({})",
            count(report.errors),
            percent(report.errors, records)
        ),
    );
    let (hosts, more) = report.distinct_hosts.count();
    summary_row(
        out,
        "Hosts",
        &if more {
            format!("at least {} (counted exactly up to that)", count(hosts))
        } else {
            count(hosts)
        },
    );
    let total_bytes = u64::try_from(report.sizes.sum()).unwrap_or(u64::MAX);
    summary_row(
        out,
        "Bytes (bodies, decompressed)",
        &format!("{} ({} bytes)", bytes(total_bytes), count(total_bytes)),
    );
    summary_row(out, "Links found", &count(report.links));
    match (report.first_at, report.last_at) {
        (Some(first), Some(last)) => {
            let span = u64::try_from(last - first).unwrap_or(0);
            summary_row(
                out,
                "Duration",
                &format!(
                    "{} (first fetch {} UTC, last {} UTC)",
                    millis(span),
                    format_utc_millis(first),
                    format_utc_millis(last)
                ),
            );
            let rate = if span > 0 {
                format!("{:.1} pages/s", records as f64 * 1000.0 / span as f64)
            } else {
                "n/a (one instant)".to_owned()
            };
            summary_row(out, "Rate", &rate);
        }
        _ => summary_row(out, "Duration", "n/a"),
    }
    let latency = &report.latency;
    if let (Some(p50), Some(p90), Some(p99), Some(max)) = (
        latency.quantile(0.5),
        latency.quantile(0.9),
        latency.quantile(0.99),
        latency.max(),
    ) {
        summary_row(
            out,
            "Fetch latency (median / p90 / p99 / max)",
            &format!(
                "{} / {} / {} / {}",
                millis(p50),
                millis(p90),
                millis(p99),
                millis(max)
            ),
        );
    }
    let sizes = &report.sizes;
    if let (Some(p50), Some(max)) = (sizes.quantile(0.5), sizes.max()) {
        let mean = (sizes.sum() / u128::from(sizes.count().max(1))) as u64;
        summary_row(
            out,
            "Page size (mean / median / max)",
            &format!("{} / {} / {}", bytes(mean), bytes(p50), bytes(max)),
        );
    }
    if let Some(deepest) = report.depths.iter().rposition(|&n| n > 0) {
        let deepest = if deepest == DEPTHS {
            format!("{DEPTHS} or more")
        } else {
            deepest.to_string()
        };
        summary_row(out, "Deepest page", &deepest);
    }
    summary_row(out, "Unreadable lines", &count(report.bad_lines));
    out.push_str("</table></section>\n");
}

fn charts(out: &mut String, report: &Report) {
    let limits = &report.limits;
    out.push_str("<section id=\"charts\"><h2>Charts</h2><div class=\"charts\">\n");

    let mut statuses: Vec<Bar> = report
        .statuses
        .iter()
        .enumerate()
        .filter(|&(_, &n)| n > 0)
        .map(|(code, &n)| {
            let class = ["s0", "s1", "s2", "s3", "s4", "s5"][(code / 100).min(5)];
            bar(code.to_string(), n, class)
        })
        .collect();
    if report.no_status > 0 {
        statuses.push(bar("no response", report.no_status, "s0"));
    }
    figure(out, "Status codes", "", |out| {
        bar_chart(
            out,
            "chart-status",
            "Status codes",
            &statuses,
            report.records,
        )
    });

    let kinds = frequent_bars(&report.error_kinds, limits.bars, "err");
    figure(
        out,
        "Error kinds",
        &frequent_note(&report.error_kinds),
        |out| bar_chart(out, "chart-errors", "Error kinds", &kinds, report.records),
    );

    let depths: Vec<Bar> = report
        .depths
        .iter()
        .enumerate()
        .map(|(depth, &n)| {
            let label = if depth == DEPTHS {
                format!("{DEPTHS}+")
            } else {
                depth.to_string()
            };
            bar(label, n, "depth")
        })
        .collect();
    let depths = crate::bounded::trim(depths, |bar| bar.value == 0);
    figure(out, "Depth", "(links from a seed)", |out| {
        column_chart(out, "chart-depth", "Pages by depth", &depths, false)
    });

    let hosts = frequent_bars(&report.hosts, limits.bars, "host");
    figure(out, "Top hosts", &frequent_note(&report.hosts), |out| {
        bar_chart(out, "chart-hosts", "Top hosts", &hosts, report.records)
    });

    let types = frequent_bars(&report.content_types, limits.bars, "type");
    figure(
        out,
        "Content types",
        &frequent_note(&report.content_types),
        |out| bar_chart(out, "chart-types", "Content types", &types, report.records),
    );

    let sizes: Vec<Bar> = report
        .sizes
        .octaves()
        .into_iter()
        .map(|(low, high, n)| octave_bar(low, high, n, bytes, "size"))
        .collect();
    figure(out, "Page sizes", "(bytes read, powers of two)", |out| {
        column_chart(out, "chart-sizes", "Page sizes", &sizes, false)
    });

    let latency: Vec<Bar> = report
        .latency
        .octaves()
        .into_iter()
        .map(|(low, high, n)| octave_bar(low, high, n, millis, "lat"))
        .collect();
    figure(out, "Fetch latency", "(elapsed_ms, powers of two)", |out| {
        column_chart(out, "chart-latency", "Fetch latency", &latency, false)
    });

    let (bins, width) = report.times.occupied();
    let start = bins.first().map_or(0, |&(at, _)| at);
    let over_time: Vec<Bar> = bins
        .iter()
        .map(|&(at, n)| {
            let offset = u64::try_from(at - start).unwrap_or(0);
            Bar {
                short: Some(format!("+{}", compact_millis(offset))),
                ..bar(
                    format!(
                        "{} to {} UTC",
                        format_utc_millis(at),
                        format_utc_millis(at + width)
                    ),
                    n,
                    "time",
                )
            }
        })
        .collect();
    let note = format!(
        "(fetched_at, {} per bar, from {} UTC)",
        millis(u64::try_from(width).unwrap_or(0)),
        format_utc_millis(start)
    );
    figure(out, "Pages over time", &note, |out| {
        column_chart(out, "chart-time", "Pages over time", &over_time, true)
    });
    out.push_str("</div></section>\n");
}

fn page_table(
    out: &mut String,
    id: &str,
    heading: &str,
    weight_heading: &str,
    rows: &[(u64, &crate::Page)],
    weight: fn(u64) -> String,
) {
    let _ = writeln!(
        out,
        "<section id=\"{id}\"><h2>{}</h2><table><thead><tr><th class=\"n\">#</th>\
         <th class=\"n\">{}</th><th class=\"n\">status</th><th>URL</th><th>title</th></tr></thead><tbody>",
        esc(heading),
        esc(weight_heading)
    );
    if rows.is_empty() {
        out.push_str("<tr><td colspan=\"5\">none</td></tr>\n");
    }
    for (rank, (value, page)) in rows.iter().enumerate() {
        let _ = writeln!(
            out,
            "<tr><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"url\">{}</td><td>{}</td></tr>",
            rank + 1,
            weight(*value),
            page.status
                .map_or_else(|| "–".to_owned(), |s| s.to_string()),
            url_cell(&page.url),
            esc(&cut(page.title.as_deref().unwrap_or(""), 120)),
        );
    }
    out.push_str("</tbody></table></section>\n");
}

fn lists(out: &mut String, report: &Report) {
    let top = report.limits.top;
    page_table(
        out,
        "largest",
        "Largest pages",
        "size",
        &report.largest.sorted(),
        bytes,
    );
    page_table(
        out,
        "slowest",
        "Slowest fetches",
        "elapsed",
        &report.slowest.sorted(),
        millis,
    );

    let linked = report.linked.top(top);
    let _ = writeln!(
        out,
        "<section id=\"most-linked\"><h2>Most linked</h2><p class=\"note\">Pages linking to each \
         URL (every record's <code>links</code>, in or out of scope). {}</p><table><thead><tr>\
         <th class=\"n\">#</th><th class=\"n\">linked from</th><th>URL</th></tr></thead><tbody>",
        if report.linked.undercount() == 0 {
            format!(
                "Exact: fewer than {} distinct targets.",
                count(report.linked.capacity() as u64)
            )
        } else {
            format!(
                "More than {} distinct targets, so counted in that many counters \
                 (Misra–Gries): every URL with more than 1/{} of all {} links is here, \
                 and each count is at most {} low.",
                count(report.linked.capacity() as u64),
                count(report.linked.capacity() as u64 + 1),
                count(report.linked.total()),
                count(report.linked.undercount())
            )
        }
    );
    if linked.is_empty() {
        out.push_str("<tr><td colspan=\"3\">none</td></tr>\n");
    }
    for (rank, (url, n)) in linked.iter().enumerate() {
        let _ = writeln!(
            out,
            "<tr><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"url\">{}</td></tr>",
            rank + 1,
            count(*n),
            url_cell(url)
        );
    }
    out.push_str("</tbody></table></section>\n");

    let _ = writeln!(
        out,
        "<section id=\"broken\"><h2>Broken links</h2><p class=\"note\">Records with status 400 \
         or above or an error, and the page that linked them. {}</p><table><thead><tr>\
         <th>URL</th><th>status or error</th><th>linked from</th><th class=\"n\">line</th></tr></thead><tbody>",
        if report.broken_total as usize > report.broken.len() {
            format!(
                "The first {} of {}.",
                count(report.broken.len() as u64),
                count(report.broken_total)
            )
        } else {
            format!("{} in all.", count(report.broken_total))
        }
    );
    if report.broken.is_empty() {
        out.push_str("<tr><td colspan=\"4\">none</td></tr>\n");
    }
    for broken in &report.broken {
        let parent = broken
            .parent
            .as_deref()
            .map_or_else(|| "(a seed)".to_owned(), url_cell);
        let _ = writeln!(
            out,
            "<tr><td class=\"url\">{}</td><td>{}</td><td class=\"url\">{parent}</td><td class=\"n\">{}</td></tr>",
            url_cell(&broken.url),
            esc(&broken.what),
            count(broken.line)
        );
    }
    out.push_str("</tbody></table></section>\n");
}

#[cfg(test)]
mod tests;
