//! The charts: horizontal bars and columns as inline SVG, sized for a
//! 600-pixel column, every label escaped.

use std::fmt::Write as _;

use crate::html::{count, cut, esc, percent};

/// One bar of a chart: its label, its value and its CSS class.
pub(crate) struct Bar {
    /// The full label (tooltips, data-label); the axis shows `short`.
    pub(crate) label: String,
    pub(crate) short: Option<String>,
    pub(crate) value: u64,
    pub(crate) class: &'static str,
}

pub(crate) fn bar(label: impl Into<String>, value: u64, class: &'static str) -> Bar {
    Bar {
        label: label.into(),
        short: None,
        value,
        class,
    }
}

pub(crate) const WIDTH: u32 = 600;

pub(crate) fn svg_open(out: &mut String, id: &str, title: &str, height: u32) {
    let _ = write!(
        out,
        "<svg id=\"{id}\" class=\"chart\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" \
         height=\"{height}\" role=\"img\" aria-labelledby=\"{id}-title\">\
         <title id=\"{id}-title\">{}</title>",
        esc(title)
    );
}

pub(crate) fn empty_chart(out: &mut String, id: &str, title: &str) {
    svg_open(out, id, title, 60);
    out.push_str("<text class=\"empty\" x=\"12\" y=\"34\">no data</text></svg>");
}

/// Horizontal bars, one row per category, largest value the full width.
pub(crate) fn bar_chart(out: &mut String, id: &str, title: &str, bars: &[Bar], total: u64) {
    if bars.iter().all(|bar| bar.value == 0) {
        return empty_chart(out, id, title);
    }
    const ROW: u32 = 22;
    const LABEL: u32 = 200;
    const SPAN: f64 = 300.0;
    let height = 10 + ROW * bars.len() as u32;
    svg_open(out, id, title, height);
    let max = bars.iter().map(|bar| bar.value).max().unwrap_or(1).max(1) as f64;
    for (row, item) in bars.iter().enumerate() {
        let y = 5 + ROW * row as u32;
        let width = (item.value as f64 / max * SPAN).max(if item.value > 0 { 1.0 } else { 0.0 });
        let label = esc(&cut(&item.label, 30));
        let full = esc(&item.label);
        let _ = write!(
            out,
            "<g><title>{full}: {} ({})</title>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{label}</text>\
             <rect class=\"bar {}\" x=\"{LABEL}\" y=\"{}\" width=\"{width:.1}\" height=\"{}\" rx=\"2\" \
             data-label=\"{full}\" data-value=\"{}\"></rect>\
             <text x=\"{:.1}\" y=\"{}\">{} · {}</text></g>",
            count(item.value),
            percent(item.value, total),
            LABEL - 8,
            y + 15,
            item.class,
            y + 3,
            ROW - 6,
            item.value,
            f64::from(LABEL) + width + 6.0,
            y + 15,
            count(item.value),
            percent(item.value, total),
        );
    }
    out.push_str("</svg>");
}

/// Vertical bars over an ordered axis (a histogram); `cumulative` adds a
/// line of the running total, scaled to the full height.
pub(crate) fn column_chart(
    out: &mut String,
    id: &str,
    title: &str,
    bars: &[Bar],
    cumulative: bool,
) {
    if bars.iter().all(|bar| bar.value == 0) {
        return empty_chart(out, id, title);
    }
    const HEIGHT: u32 = 250;
    const LEFT: f64 = 56.0;
    const RIGHT: f64 = 590.0;
    const TOP: f64 = 14.0;
    const BOTTOM: f64 = 200.0;
    svg_open(out, id, title, HEIGHT);
    let (step, max) = axis(bars.iter().map(|bar| bar.value).max().unwrap_or(1));
    let plot = BOTTOM - TOP;
    for tick in 0..=max / step {
        let y = BOTTOM - plot * (tick * step) as f64 / max as f64;
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{RIGHT}\" y1=\"{y:.1}\" y2=\"{y:.1}\"></line>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT - 6.0,
            y + 4.0,
            count(tick * step)
        );
    }
    let slot = (RIGHT - LEFT) / bars.len() as f64;
    let gap = if slot > 6.0 { slot * 0.15 } else { 0.0 };
    let every = bars.len().div_ceil(7);
    for (i, item) in bars.iter().enumerate() {
        let height = item.value as f64 / max as f64 * plot;
        let height = if item.value > 0 { height.max(1.0) } else { 0.0 };
        let x = LEFT + slot * i as f64 + gap / 2.0;
        let full = esc(&item.label);
        let _ = write!(
            out,
            "<rect class=\"bar {}\" x=\"{x:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{height:.2}\" \
             data-label=\"{full}\" data-value=\"{}\"><title>{full}: {}</title></rect>",
            item.class,
            BOTTOM - height,
            (slot - gap).max(0.5),
            item.value,
            count(item.value),
        );
        if i % every == 0 {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x + (slot - gap) / 2.0,
                BOTTOM + 16.0,
                esc(&cut(item.short.as_ref().unwrap_or(&item.label), 14))
            );
        }
    }
    if cumulative {
        let total: u64 = bars.iter().map(|bar| bar.value).sum::<u64>().max(1);
        let mut running = 0;
        let mut path = format!("M{LEFT:.1},{BOTTOM:.1}");
        for (i, item) in bars.iter().enumerate() {
            running += item.value;
            let _ = write!(
                path,
                " L{:.1},{:.1}",
                LEFT + slot * (i + 1) as f64,
                BOTTOM - running as f64 / total as f64 * plot
            );
        }
        let _ = write!(
            out,
            "<path class=\"cumulative\" d=\"{path}\" data-value=\"{running}\">\
             <title>pages done so far (0 to {})</title></path>\
             <text x=\"{RIGHT}\" y=\"{:.1}\" text-anchor=\"end\">red line: pages done so far</text>",
            count(running),
            f64::from(HEIGHT) - 12.0
        );
    }
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" x2=\"{RIGHT}\" y1=\"{BOTTOM}\" y2=\"{BOTTOM}\"></line></svg>"
    );
}

/// A round tick step for values up to `max` (about four ticks) and the
/// top of the axis, a multiple of the step.
fn axis(max: u64) -> (u64, u64) {
    let max = max.max(1);
    let rough = max.div_ceil(4);
    let mut magnitude = 1u64;
    while magnitude.saturating_mul(10) <= rough {
        magnitude *= 10;
    }
    let step = [1, 2, 5, 10]
        .into_iter()
        .map(|m| magnitude.saturating_mul(m))
        .find(|&step| step >= rough)
        .unwrap_or(rough);
    (step, max.div_ceil(step).saturating_mul(step))
}

pub(crate) fn figure(out: &mut String, caption: &str, note: &str, chart: impl FnOnce(&mut String)) {
    let _ = write!(out, "<figure><figcaption>{}", esc(caption));
    if !note.is_empty() {
        let _ = write!(out, " <small>{}</small>", esc(note));
    }
    out.push_str("</figcaption>");
    chart(out);
    out.push_str("</figure>\n");
}

#[cfg(test)]
mod tests {
    use super::axis;

    #[test]
    fn axes_step_by_one_two_five_times_a_power_of_ten() {
        assert_eq!(axis(0), (1, 1));
        assert_eq!(axis(3), (1, 3));
        assert_eq!(axis(97), (50, 100));
        assert_eq!(axis(162), (50, 200));
        assert_eq!(axis(1_000_000), (500_000, 1_000_000));
    }
}
