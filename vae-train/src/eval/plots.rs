//! PNG plots of an evaluation (`plotters`, bitmap backend): the score over the rows of each
//! recording with the threshold and the labelled anomalies shaded, histograms of the scores
//! of normal and anomalous windows, and the ROC curve.
//!
//! Two things keep them readable whatever the data. The score axis is chosen from the scores
//! ([`score_axis`]): one runaway window (a frozen signal scored 7.9e7) must not flatten every
//! other anomaly and the threshold, so such windows are drawn at the edge and counted in the
//! legend. And every label area is sized from the text it holds (the widest tick label, the
//! axis description's height), so an axis description never runs into the tick labels.

use super::{metrics, EvalWindow, Evaluation};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

const SCORE_COLOR: RGBColor = RGBColor(31, 90, 160);
const ANOMALY_SHADE: RGBColor = RGBColor(250, 205, 205);
const THRESHOLD_COLOR: RGBColor = RGBColor(200, 30, 30);
const NORMAL_COLOR: RGBColor = RGBColor(40, 120, 200);
const ANOMALOUS_COLOR: RGBColor = RGBColor(220, 90, 30);
/// Windows beyond the axis: a colour no series uses, so the markers read as "off the scale".
const BEYOND_COLOR: RGBColor = RGBColor(120, 20, 140);

/// How far beyond the bulk of the scores the axis reaches, in widths of the bulk.
const REACH: f64 = 10.0;
/// Font sizes (pixels) of titles, axis descriptions and legends, and of tick labels.
const TITLE_FONT: f64 = 20.0;
const PANEL_FONT: f64 = 15.0;
const DESC_FONT: f64 = 14.0;
const TICK_FONT: f64 = 13.0;
/// Tick mark length; plotters puts the tick labels twice this far from the axis.
const TICK: i32 = 5;
/// Gap between the tick labels and the axis description.
const GAP: u32 = 8;
/// Labelled ticks per axis (plotters picks round values, at most this many).
const Y_TICKS: usize = 8;
const X_TICKS: usize = 12;
/// Recordings drawn as panels of their own; more are drawn end to end in one panel.
pub const MAX_PANELS: usize = 6;
/// Width of the score plot, the height of its header (title and legend) and of each panel.
const SCORE_WIDTH: u32 = 1200;
const HEADER: u32 = 64;
const PANEL: u32 = 300;
/// Size of the histogram; its header is [`HEADER`] high too.
const HISTOGRAM_SIZE: (u32, u32) = (900, 460);

/// Scores beyond one end of a [`ScoreAxis`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Beyond {
    /// Windows beyond the end.
    pub count: usize,
    /// The farthest of them (`inf` for an overflowed window); the end itself when none.
    pub extreme: f64,
}

/// The score axis of the plots: the range drawn and what lies beyond it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreAxis {
    /// Bottom of the axis.
    pub lo: f64,
    /// Top of the axis.
    pub hi: f64,
    /// Scores above `hi`, drawn at the top edge.
    pub above: Beyond,
    /// Scores below `lo`, drawn at the bottom edge.
    pub below: Beyond,
}

impl ScoreAxis {
    /// `v` where it is drawn: clamped to the axis, so a window off the scale sits at its edge.
    pub fn clamp(&self, v: f64) -> f64 {
        v.max(self.lo).min(self.hi)
    }
}

/// The score axis for `scores` (NaN: not scored, left out) and the `threshold`.
///
/// The bulk of the scores runs from their 10th to their 90th percentile, widened to take in
/// the threshold; so up to a tenth of the windows at either end (a sensor frozen for hours)
/// cannot move it. The axis shows every score within [`REACH`] bulk widths of the bulk, which
/// without runaway windows is every score (a labelled event a few times the threshold
/// included), and the threshold always; scores farther out, an overflowed `inf` too, are
/// counted and drawn at the edge. Distances are measured in bulk widths, not as ratios to a
/// percentile ("max above 20 times the 99th"), because scores are -log-densities in nats
/// whose zero is arbitrary: they are often negative, and a ratio means nothing for a bulk at
/// -30 or near 0. A symmetric-log axis was not used either: it bends the scale around 0, an
/// arbitrary point here, and squeezes the stretch between the bulk and the threshold where
/// decisions are read; a linear axis with the far windows marked at its edge keeps that
/// stretch linear and still says how far the far ones went.
pub fn score_axis(scores: &[f32], threshold: Option<f32>) -> ScoreAxis {
    let t = threshold.map(f64::from).filter(|t| t.is_finite());
    let mut finite: Vec<f64> = scores.iter().map(|&v| f64::from(v)).filter(|v| v.is_finite()).collect();
    finite.sort_by(f64::total_cmp);
    let (mut bulk_lo, mut bulk_hi) = match finite.is_empty() {
        true => (t.unwrap_or(0.0), t.map_or(1.0, |t| t + 1.0)),
        false => (quantile(&finite, 0.1), quantile(&finite, 0.9)),
    };
    if let Some(t) = t {
        bulk_lo = bulk_lo.min(t);
        bulk_hi = bulk_hi.max(t);
    }
    // A bulk of equal scores (no threshold) has no width: then clip nothing, and give equal
    // scores a range of a tenth of their size (at least 1) around them.
    let width = match (bulk_hi - bulk_lo, finite.first(), finite.last()) {
        (w, _, _) if w > 0.0 => w,
        (_, Some(a), Some(b)) if b > a => b - a,
        _ => 0.05 * bulk_hi.abs().max(1.0),
    };
    let (limit_lo, limit_hi) = (bulk_lo - REACH * width, bulk_hi + REACH * width);
    let (mut lo, mut hi) = (bulk_lo, bulk_hi);
    let mut above = Beyond { count: 0, extreme: f64::NEG_INFINITY };
    let mut below = Beyond { count: 0, extreme: f64::INFINITY };
    for v in scores.iter().map(|&v| f64::from(v)).filter(|v| !v.is_nan()) {
        if v > limit_hi {
            above.count += 1;
            above.extreme = above.extreme.max(v);
        } else if v < limit_lo {
            below.count += 1;
            below.extreme = below.extreme.min(v);
        } else {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    let pad = if hi > lo { 0.04 * (hi - lo) } else { width };
    let (lo, hi) = (lo - pad, hi + pad);
    if above.count == 0 {
        above.extreme = hi;
    }
    if below.count == 0 {
        below.extreme = lo;
    }
    ScoreAxis { lo, hi, above, below }
}

/// The `q` quantile of sorted, non-empty `s` (nearest rank).
fn quantile(s: &[f64], q: f64) -> f64 {
    s[((s.len() - 1) as f64 * q).round() as usize]
}

/// `v` in few characters: about five significant digits with trailing zeros dropped, and
/// scientific notation (`7.9e7`) from 1e5 up and below 1e-3, so tick labels stay narrow.
pub fn compact(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().log10().floor();
    if !(-3.0..5.0).contains(&mag) {
        let s = format!("{v:.2e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        return format!("{}e{e}", trim_zeros(m));
    }
    let decimals = (4.0 - mag).clamp(0.0, 7.0) as usize;
    trim_zeros(&format!("{v:.decimals$}")).to_string()
}

/// `s` without the trailing zeros of its fraction (and without a bare `.`).
fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// A tick label of an axis spanning `span`: values within rounding noise of 0 print as `0`.
fn tick(v: f64, span: f64) -> String {
    compact(if v.abs() < 1e-9 * span { 0.0 } else { v })
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn font(size: f64) -> TextStyle<'static> {
    TextStyle::from(FontDesc::new(FontFamily::SansSerif, size, FontStyle::Normal))
}

/// A tick label formatter, as plotters takes it.
type Label<'a> = dyn Fn(&f64) -> String + 'a;

/// Pixel sizes of the label areas of one chart, from the text they will hold.
#[derive(Clone, Copy, Debug, PartialEq)]
struct LabelAreas {
    /// Width of the left (y) area.
    y: u32,
    /// Height of the bottom (x) area.
    x: u32,
}

impl LabelAreas {
    /// The areas of a chart with ticks at `xs` and `ys` labelled by `fx` and `fy` and the
    /// descriptions `x_desc` and `y_desc`: the y area holds plotters' gap from the axis (two
    /// tick lengths), the widest tick label, [`GAP`] and the rotated description; the x area
    /// the same stacked vertically.
    fn of<DB: DrawingBackend>(
        area: &DrawingArea<DB, Shift>,
        (xs, fx): (&[f64], &Label),
        (ys, fy): (&[f64], &Label),
        x_desc: &str,
        y_desc: &str,
    ) -> Result<Self, String> {
        let size = |text: &str, style: &TextStyle| area.estimate_text_size(text, style).map_err(err);
        let mut widest = 0;
        for y in ys {
            widest = widest.max(size(&fy(y), &font(TICK_FONT))?.0);
        }
        let mut tallest = 0;
        for x in xs {
            tallest = tallest.max(size(&fx(x), &font(TICK_FONT))?.1);
        }
        let y_desc_h = size(y_desc, &font(DESC_FONT))?.1;
        let x_desc_h = size(x_desc, &font(DESC_FONT))?.1;
        let dist = 2 * TICK as u32;
        Ok(LabelAreas { y: dist + widest + GAP + y_desc_h + 2, x: dist + tallest + GAP + x_desc_h + 2 })
    }
}

/// The ticks plotters labels on a linear axis over `r` asked for at most `n` (round values).
fn ticks(r: std::ops::Range<f64>, n: usize) -> Vec<f64> {
    RangedCoordf64::from(r).key_points(n)
}

/// A legend entry's symbol.
#[derive(Clone, Copy, Debug)]
enum Glyph {
    /// A line (a series or the threshold) of a width.
    Line(RGBColor, u32),
    /// A filled box (shading, histogram bars).
    Fill(RGBAColor),
    /// A triangle pointing in a direction as [`triangle`]'s (windows beyond the axis).
    Triangle(RGBColor, (i32, i32)),
}

/// A triangle of `size` pixels pointing `dir` (`(0, -1)` up, `(0, 1)` down, `(1, 0)`
/// right) with its tip at the origin: drawn at an edge it stays inside the plot.
fn triangle(dir: (i32, i32), size: i32) -> Vec<(i32, i32)> {
    let (dx, dy) = dir;
    let back = (-dx * size, -dy * size);
    let side = (dy * size / 2, dx * size / 2);
    vec![(0, 0), (back.0 + side.0, back.1 + side.1), (back.0 - side.0, back.1 - side.1)]
}

/// Draws `title` centred at the top of `area` and the legend `items` in one row under it,
/// outside the plots, so the legend never hides a point or the threshold.
fn header<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    items: &[(Glyph, String)],
) -> Result<(), String> {
    let (w, _) = area.dim_in_pixel();
    let centre = Pos::new(HPos::Center, VPos::Top);
    area.draw_text(title, &font(TITLE_FONT).pos(centre), (w as i32 / 2, 8)).map_err(err)?;
    let style = font(DESC_FONT).pos(Pos::new(HPos::Left, VPos::Center));
    let mut widths = Vec::with_capacity(items.len());
    for (_, text) in items {
        widths.push(area.estimate_text_size(text, &style).map_err(err)?.0 as i32);
    }
    let total: i32 = widths.iter().map(|w| w + 22).sum::<i32>() + 28 * (items.len() as i32 - 1).max(0);
    let (mut x, y) = ((w as i32 - total).max(0) / 2, 46);
    for ((glyph, text), tw) in items.iter().zip(widths) {
        match *glyph {
            Glyph::Line(c, width) => {
                area.draw(&PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(width)))
            }
            Glyph::Fill(c) => area.draw(&Rectangle::new([(x, y - 6), (x + 16, y + 6)], c.filled())),
            Glyph::Triangle(c, d) => area.draw(&shifted(triangle(d, 11), (x + 8 + 5 * d.0, y + 5 * d.1), c)),
        }
        .map_err(err)?;
        area.draw_text(text, &style, (x + 22, y)).map_err(err)?;
        x += tw + 22 + 28;
    }
    Ok(())
}

/// `points` moved by `by`, filled with `color`.
fn shifted(points: Vec<(i32, i32)>, by: (i32, i32), color: RGBColor) -> Polygon<(i32, i32)> {
    Polygon::new(points.into_iter().map(|(x, y)| (x + by.0, y + by.1)).collect::<Vec<_>>(), color.filled())
}

/// The legend text for `b` windows beyond the axis (`side` "above" or "below").
fn beyond_text(b: &Beyond, side: &str, extreme: &str, tail: &str) -> String {
    let windows = if b.count == 1 { "window" } else { "windows" };
    format!("{} {windows} {side} the axis ({extreme} {}){tail}", b.count, compact(b.extreme))
}

/// Width and height of the score plot of `recordings` recordings: a header, then a panel per
/// recording up to [`MAX_PANELS`], else one panel with them end to end.
pub fn score_plot_size(recordings: usize) -> (u32, u32) {
    let panels = if recordings > MAX_PANELS { 1 } else { recordings.max(1) as u32 };
    (SCORE_WIDTH, HEADER + panels * PANEL)
}

/// One recording in a panel: its windows, placed at `offset + file_row - base` on the x axis.
struct Segment {
    /// Index of the recording.
    recording: usize,
    /// Its windows' indices in `Evaluation::windows`.
    windows: std::ops::Range<usize>,
    /// Its first and last window's file row (the recording's rows when it has none).
    rows: (f64, f64),
    /// Where its first row sits on the panel's x axis.
    offset: f64,
}

impl Segment {
    fn x(&self, file_row: usize) -> f64 {
        self.offset + file_row as f64 - self.rows.0
    }
}

/// The recordings of `e` as segments, in order, with their windows (consecutive in
/// `e.windows`) and their rows.
fn segments(e: &Evaluation) -> Vec<Segment> {
    let count = e.recordings.len().max(e.windows.last().map_or(0, |w| w.recording + 1));
    let mut out = Vec::with_capacity(count);
    let mut i = 0;
    for recording in 0..count {
        let start = i;
        while i < e.windows.len() && e.windows[i].recording == recording {
            i += 1;
        }
        let rows = match (e.windows[start..i].first(), e.windows[start..i].last()) {
            (Some(a), Some(b)) => (a.file_row as f64, b.file_row as f64),
            _ => e.recordings.get(recording).map_or((0.0, 1.0), |r| {
                (r.first_row as f64, (r.first_row + r.rows.saturating_sub(1)) as f64)
            }),
        };
        out.push(Segment { recording, windows: start..i, rows, offset: rows.0 });
    }
    out
}

/// The file of recording `k` for a panel title, shortened from the left to `max` characters.
fn file_name(e: &Evaluation, k: usize, max: usize) -> String {
    let name = e.recordings.get(k).map_or(format!("recording {}", k + 1), |r| r.path.display().to_string());
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= max {
        name
    } else {
        format!("…{}", chars[chars.len() - (max - 1)..].iter().collect::<String>())
    }
}

/// Score (the one decisions use) of every window against the row of its recording where it
/// starts (`EvalWindow::file_row`; the evaluation keeps no timestamps, so rows it is), with
/// the threshold and the labelled anomalous windows shaded. Up to [`MAX_PANELS`] recordings
/// get a panel each, on one score axis ([`score_axis`]); more are drawn end to end in one
/// panel, numbered, their ticks still rows of their own file. Windows beyond the axis are
/// triangles at its edge, counted in the legend.
pub fn score_over_time(e: &Evaluation, path: &Path) -> Result<(), String> {
    let scores: Vec<f32> = e.windows.iter().map(|w| w.score.unwrap_or(f32::NAN)).collect();
    let axis = score_axis(&scores, e.threshold);
    let mut segs = segments(e);
    let (width, height) = score_plot_size(segs.len());
    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (top, body) = root.split_vertically(HEADER);
    let mut legend = vec![(Glyph::Line(SCORE_COLOR, 2), "score".to_string())];
    if let Some(t) = e.threshold {
        legend.push((Glyph::Line(THRESHOLD_COLOR, 2), format!("threshold {}", compact(f64::from(t)))));
    }
    if e.windows.iter().any(|w| w.label) {
        legend.push((Glyph::Fill(ANOMALY_SHADE.to_rgba()), "labelled anomalous".to_string()));
    }
    if axis.above.count > 0 {
        legend.push((Glyph::Triangle(BEYOND_COLOR, (0, -1)), beyond_text(&axis.above, "above", "max", "")));
    }
    if axis.below.count > 0 {
        legend.push((Glyph::Triangle(BEYOND_COLOR, (0, 1)), beyond_text(&axis.below, "below", "min", "")));
    }
    let what = if e.smoothing > 1 { "smoothed score" } else { "score" };
    header(&top, &format!("{}: {what} per window", e.model_name), &legend)?;
    let y_desc =
        if e.smoothing > 1 { format!("score, smoothed over {}", e.smoothing) } else { "score".into() };
    if segs.len() > MAX_PANELS {
        // End to end, a gap of 2% of the total between recordings.
        let total: f64 = segs.iter().map(|s| s.rows.1 - s.rows.0 + 1.0).sum();
        let mut at = 0.0;
        for s in &mut segs {
            s.offset = at;
            at += s.rows.1 - s.rows.0 + 1.0 + 0.02 * total;
        }
        let title = format!("{} recordings end to end, numbered as in the report's table", segs.len());
        let x_desc = "row of each recording's file (a window at its first row)";
        score_panel(&body, e, &axis, &segs, &title, x_desc, &y_desc)?;
    } else {
        let panels = body.split_evenly((segs.len().max(1), 1));
        for (area, seg) in panels.iter().zip(&segs) {
            let windows = &e.windows[seg.windows.clone()];
            let title = format!(
                "{}: {} windows, {} labelled anomalous",
                file_name(e, seg.recording, 90),
                windows.len(),
                windows.iter().filter(|w| w.label).count()
            );
            let x_desc = "row of the file (a window at its first row)";
            score_panel(area, e, &axis, std::slice::from_ref(seg), &title, x_desc, &y_desc)?;
        }
    }
    root.present().map_err(err)
}

/// One panel of the score plot: `segs` side by side on its x axis.
fn score_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    e: &Evaluation,
    axis: &ScoreAxis,
    segs: &[Segment],
    title: &str,
    x_desc: &str,
    y_desc: &str,
) -> Result<(), String> {
    let (x0, x1) = match (segs.first(), segs.last()) {
        (Some(a), Some(b)) => (a.offset, b.offset + b.rows.1 - b.rows.0),
        _ => (0.0, 1.0),
    };
    let pad = ((x1 - x0) * 0.005).max(1.0);
    let (x0, x1) = (x0 - pad, x1 + pad);
    // Ticks print the row of the file of the segment they fall in.
    let x_label = |x: &f64| {
        let seg = segs.iter().rev().find(|s| s.offset <= *x).or(segs.first());
        let row = seg.map_or(*x, |s| s.rows.0 + (*x - s.offset));
        if row < -0.5 {
            String::new()
        } else {
            format!("{}", row.round() as i64)
        }
    };
    let span = axis.hi - axis.lo;
    let y_label = |y: &f64| tick(*y, span);
    let y_ticks = ticks(axis.lo..axis.hi, Y_TICKS);
    let x_ticks = segment_ticks(segs, x0..x1, area.dim_in_pixel().0);
    let areas = LabelAreas::of(area, (&x_ticks, &x_label), (&y_ticks, &y_label), x_desc, y_desc)?;
    let mut chart = ChartBuilder::on(area)
        .caption(title, font(PANEL_FONT))
        .margin(10)
        .margin_right(24)
        .set_label_area_size(LabelAreaPosition::Left, areas.y)
        .set_label_area_size(LabelAreaPosition::Bottom, areas.x)
        .build_cartesian_2d(RowAxis { rows: RangedCoordf64::from(x0..x1), ticks: x_ticks }, axis.lo..axis.hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .set_all_tick_mark_size(TICK)
        .x_labels(X_TICKS)
        .y_labels(Y_TICKS)
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .label_style(font(TICK_FONT))
        .axis_desc_style(font(DESC_FONT))
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()
        .map_err(err)?;
    for seg in segs {
        let windows = &e.windows[seg.windows.clone()];
        let half = hop(windows) / 2.0;
        chart
            .draw_series(labelled_spans(windows).into_iter().map(|(a, b)| {
                let (a, b) = (seg.x(windows[a].file_row) - half, seg.x(windows[b].file_row) + half);
                Rectangle::new([(a, axis.lo), (b, axis.hi)], ANOMALY_SHADE.filled())
            }))
            .map_err(err)?;
        for run in scored_runs(windows) {
            let pts = run.iter().map(|w| (seg.x(w.file_row), axis.clamp(f64::from(w.score.unwrap_or(0.0)))));
            chart.draw_series(LineSeries::new(pts, SCORE_COLOR.stroke_width(1))).map_err(err)?;
        }
    }
    if let Some(t) = e.threshold {
        let t = f64::from(t);
        chart
            .draw_series(LineSeries::new([(x0, t), (x1, t)], THRESHOLD_COLOR.stroke_width(2)))
            .map_err(err)?;
    }
    // Windows beyond the axis: a triangle at the edge, its tip on the edge, pointing out.
    for seg in segs {
        let windows = &e.windows[seg.windows.clone()];
        let beyond = windows.iter().filter_map(|w| Some((seg.x(w.file_row), f64::from(w.score?))));
        chart
            .draw_series(beyond.filter(|&(_, s)| s > axis.hi || s < axis.lo).map(|(x, s)| {
                let (at, dir) = if s > axis.hi { (axis.hi, (0, -1)) } else { (axis.lo, (0, 1)) };
                EmptyElement::at((x, at)) + shifted(triangle(dir, 11), (0, -dir.1), BEYOND_COLOR)
            }))
            .map_err(err)?;
    }
    if segs.len() > 1 {
        for (k, seg) in segs.iter().enumerate() {
            let x = seg.offset - pad;
            if k > 0 {
                chart
                    .draw_series(LineSeries::new([(x, axis.lo), (x, axis.hi)], BLACK.mix(0.5)))
                    .map_err(err)?;
            }
            let label = font(TICK_FONT).pos(Pos::new(HPos::Left, VPos::Top));
            chart
                .draw_series([
                    EmptyElement::at((x, axis.hi)) + Text::new(format!("{}", k + 1), (4, 14), label)
                ])
                .map_err(err)?;
        }
    }
    Ok(())
}

/// A linear x axis with ticks where [`segment_ticks`] puts them (plotters' own `WithKeyPoints`
/// cannot take a label formatter on `f64`).
struct RowAxis {
    rows: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ranged for RowAxis {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.rows.map(value, limit)
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, _: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.rows.range()
    }
}

/// The x ticks of a panel `width` pixels wide over `x`: plotters' round values for one
/// recording; for several end to end, each recording's first row and round rows of its own
/// file as its share of the width holds, so no tick straddles two files.
fn segment_ticks(segs: &[Segment], x: std::ops::Range<f64>, width: u32) -> Vec<f64> {
    if segs.len() <= 1 {
        return ticks(x, X_TICKS);
    }
    // Row labels are some 30 to 50 pixels wide: keep 70 between ticks.
    let room = 70.0 * (x.end - x.start) / f64::from(width.max(1));
    let mut out = Vec::new();
    for s in segs {
        out.push(s.offset);
        let n = ((s.rows.1 - s.rows.0) / room) as usize;
        if n > 0 {
            let inside = ticks(s.rows.0..s.rows.1, n)
                .into_iter()
                .filter(|r| r - s.rows.0 > 0.7 * room && s.rows.1 - r > 0.4 * room);
            out.extend(inside.map(|row| s.offset + row - s.rows.0));
        }
    }
    out
}

/// The typical step between windows' first rows (the hop), for the width of the shading.
fn hop(windows: &[EvalWindow]) -> f64 {
    let mut steps: Vec<usize> =
        windows.windows(2).map(|p| p[1].file_row.saturating_sub(p[0].file_row)).filter(|&d| d > 0).collect();
    steps.sort_unstable();
    steps.get(steps.len() / 2).map_or(1.0, |&d| d as f64)
}

/// The runs of labelled windows, as first and last index.
fn labelled_spans(windows: &[EvalWindow]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start: Option<usize> = None;
    for (i, w) in windows.iter().enumerate() {
        match (w.label, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, i - 1));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, windows.len() - 1));
    }
    spans
}

/// The runs of consecutive scored windows: the score line breaks where a window was not
/// scored rather than bridging it.
fn scored_runs(windows: &[EvalWindow]) -> impl Iterator<Item = &[EvalWindow]> {
    windows.split(|w| w.score.is_none()).filter(|run| !run.is_empty())
}

/// Histograms (share of each class per bin) of the scores of normal and anomalous windows,
/// over the score axis of [`score_axis`]; windows beyond it are not binned, but counted in
/// the legend and marked at the edge.
pub fn histograms(e: &Evaluation, path: &Path) -> Result<(), String> {
    let scores: Vec<f32> = e.windows.iter().filter_map(|w| w.score).collect();
    let axis = score_axis(&scores, e.threshold);
    let (x0, x1) = (axis.lo, axis.hi);
    const BINS: usize = 50;
    let width = (x1 - x0) / BINS as f64;
    let mut counts = [[0usize; BINS]; 2];
    let mut totals = [0usize; 2];
    let mut beyond = [[0usize; 2]; 2];
    for w in &e.windows {
        if let Some(s) = w.score.map(f64::from) {
            let class = usize::from(w.label);
            totals[class] += 1;
            if s > x1 || s < x0 {
                beyond[usize::from(s > x1)][class] += 1;
            } else {
                counts[class][(((s - x0) / width).floor() as usize).min(BINS - 1)] += 1;
            }
        }
    }
    let share = |class: usize, b: usize| counts[class][b] as f64 / totals[class].max(1) as f64;
    let top = (0..BINS).flat_map(|b| [share(0, b), share(1, b)]).fold(0.0f64, f64::max).max(1e-3) * 1.1;
    let root = BitMapBackend::new(path, HISTOGRAM_SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (head, body) = root.split_vertically(HEADER);
    let mut legend = vec![
        (Glyph::Fill(NORMAL_COLOR.mix(0.45)), format!("normal ({})", totals[0])),
        (Glyph::Fill(ANOMALOUS_COLOR.mix(0.45)), format!("anomalous ({})", totals[1])),
    ];
    if let Some(t) = e.threshold {
        legend.push((Glyph::Line(THRESHOLD_COLOR, 2), format!("threshold {}", compact(f64::from(t)))));
    }
    let classes = |b: [usize; 2]| format!(": {} normal, {} anomalous, not binned", b[0], b[1]);
    if axis.above.count > 0 {
        legend.push((
            Glyph::Triangle(BEYOND_COLOR, (1, 0)),
            beyond_text(&axis.above, "above", "max", &classes(beyond[1])),
        ));
    }
    if axis.below.count > 0 {
        legend.push((
            Glyph::Triangle(BEYOND_COLOR, (-1, 0)),
            beyond_text(&axis.below, "below", "min", &classes(beyond[0])),
        ));
    }
    header(&head, &format!("{}: scores of normal and anomalous windows", e.model_name), &legend)?;
    let span = x1 - x0;
    let x_label = |x: &f64| tick(*x, span);
    let y_label = |y: &f64| tick(*y, top);
    let (x_desc, y_desc) = ("score", "share of the class's windows");
    let areas = LabelAreas::of(
        &body,
        (&ticks(x0..x1, X_TICKS), &x_label),
        (&ticks(0.0..top, Y_TICKS), &y_label),
        x_desc,
        y_desc,
    )?;
    let mut chart = ChartBuilder::on(&body)
        .margin(10)
        .margin_right(24)
        .set_label_area_size(LabelAreaPosition::Left, areas.y)
        .set_label_area_size(LabelAreaPosition::Bottom, areas.x)
        .build_cartesian_2d(x0..x1, 0f64..top)
        .map_err(err)?;
    mesh(&mut chart, (&x_label, &y_label), (x_desc, y_desc))?;
    for (class, color) in [(0, NORMAL_COLOR), (1, ANOMALOUS_COLOR)] {
        chart
            .draw_series((0..BINS).filter(|&b| counts[class][b] > 0).map(|b| {
                let a = x0 + b as f64 * width;
                Rectangle::new([(a, 0.0), (a + width, share(class, b))], color.mix(0.45).filled())
            }))
            .map_err(err)?;
    }
    if let Some(t) = e.threshold {
        let t = f64::from(t);
        chart
            .draw_series(LineSeries::new([(t, 0.0), (t, top)], THRESHOLD_COLOR.stroke_width(2)))
            .map_err(err)?;
    }
    // Beyond the axis: a triangle at the bottom of the edge, pointing out.
    let marks = [(axis.above.count, x1, (1, 0)), (axis.below.count, x0, (-1, 0))];
    chart
        .draw_series(marks.into_iter().filter(|m| m.0 > 0).map(|(_, x, dir)| {
            EmptyElement::at((x, 0.0)) + shifted(triangle(dir, 11), (-dir.0, -8), BEYOND_COLOR)
        }))
        .map_err(err)?;
    root.present().map_err(err)
}

/// How a tick's value is written.
type TickLabel<'a> = &'a dyn Fn(&f64) -> String;

/// The mesh, ticks and axis descriptions of a chart of two `f64` axes, in the plots' style.
fn mesh<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    labels: (TickLabel<'_>, TickLabel<'_>),
    desc: (&str, &str),
) -> Result<(), String> {
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .set_all_tick_mark_size(TICK)
        .x_labels(X_TICKS)
        .y_labels(Y_TICKS)
        .x_label_formatter(labels.0)
        .y_label_formatter(labels.1)
        .label_style(font(TICK_FONT))
        .axis_desc_style(font(DESC_FONT))
        .x_desc(desc.0)
        .y_desc(desc.1)
        .draw()
        .map_err(err)
}

/// The ROC curve of the model and of the reference scores.
pub fn roc(e: &Evaluation, path: &Path) -> Result<(), String> {
    let root = BitMapBackend::new(path, (560, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let label = |v: &f64| tick(*v, 1.0);
    let (x_desc, y_desc) = ("false positive rate", "true positive rate");
    let areas = LabelAreas::of(
        &root,
        (&ticks(0.0..1.0, X_TICKS), &label),
        (&ticks(0.0..1.0, Y_TICKS), &label),
        x_desc,
        y_desc,
    )?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{}: ROC", e.model_name), font(TITLE_FONT))
        .margin(14)
        .set_label_area_size(LabelAreaPosition::Left, areas.y)
        .set_label_area_size(LabelAreaPosition::Bottom, areas.x)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)
        .map_err(err)?;
    mesh(&mut chart, (&label, &label), (x_desc, y_desc))?;
    chart
        .draw_series(LineSeries::new(vec![(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.3)))
        .map_err(err)?
        .label("chance")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.mix(0.3)));
    let labels: Vec<bool> = e.windows.iter().map(|w| w.label).collect();
    let curves: [(&str, Vec<f32>, RGBColor); 3] = [
        ("model", e.windows.iter().map(|w| w.score.unwrap_or(f32::NAN)).collect(), SCORE_COLOR),
        ("no-training", e.windows.iter().map(|w| w.no_training).collect(), RGBColor(120, 120, 120)),
        ("PCA", e.windows.iter().map(|w| w.pca.unwrap_or(f32::NAN)).collect(), RGBColor(60, 160, 60)),
    ];
    for (name, scores, color) in curves {
        let (s, l): (Vec<f32>, Vec<bool>) =
            scores.iter().zip(&labels).filter(|(s, _)| !s.is_nan()).map(|(&s, &l)| (s, l)).unzip();
        let pts = metrics::roc_curve(&s, &l);
        if pts.is_empty() {
            continue;
        }
        let auc = metrics::roc_auc(&s, &l).unwrap_or(f64::NAN);
        let width = if name == "model" { 3 } else { 1 };
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(width)))
            .map_err(err)?
            .label(format!("{name} (AUC {auc:.3})"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(width)));
    }
    chart
        .configure_series_labels()
        .label_font(font(DESC_FONT))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{Metrics, RecordingInfo};
    use vae_core::{Decision, Outcome, ScoreConfig, Transform, WindowScore};

    /// Deterministic noise in [0, 1).
    fn noise(seed: u64) -> impl FnMut() -> f64 {
        let mut x = seed | 1;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Scores around 50, a labelled event around 200 in the second recording, and one
    /// runaway window at 7.9e7 (a frozen signal); threshold 80.
    fn bulk_scores(n: usize, outlier: bool) -> Vec<(f32, bool)> {
        let mut r = noise(7);
        (0..n)
            .map(|i| {
                let label = (n / 2..n / 2 + 30).contains(&i);
                let s =
                    if label { 200.0 + 20.0 * (r() - 0.5) } else { 50.0 + 12.0 * (r() + r() + r() - 1.5) };
                let s = if outlier && i == n * 3 / 4 { 7.9e7 } else { s };
                (s as f32, label)
            })
            .collect()
    }

    /// An evaluation of `recordings` recordings of scored windows (hop 10, from file row 100).
    fn evaluation(recordings: Vec<Vec<(f32, bool)>>, threshold: Option<f32>) -> Evaluation {
        let mut windows = Vec::new();
        let mut infos = Vec::new();
        for (recording, scores) in recordings.iter().enumerate() {
            for (i, &(s, label)) in scores.iter().enumerate() {
                windows.push(EvalWindow {
                    recording,
                    start: i * 10,
                    file_row: 100 + i * 10,
                    label,
                    outcome: Outcome::Scored(WindowScore {
                        score: s,
                        bound: -s,
                        recon: -s,
                        kl: 0.0,
                        top_channel: 0,
                    }),
                    score: Some(s),
                    decision: if threshold.is_some_and(|t| s > t) {
                        Decision::Anomalous
                    } else {
                        Decision::Normal
                    },
                    no_training: s,
                    pca: None,
                });
            }
            infos.push(RecordingInfo {
                path: format!("data/recording-{recording}.csv").into(),
                first_row: 100,
                rows: scores.len() * 10 + 90,
                windows: scores.len(),
                anomalous_windows: scores.iter().filter(|w| w.1).count(),
                invalid_windows: 0,
            });
        }
        let scores: Vec<f32> = windows.iter().map(|w| w.score.unwrap_or(f32::NAN)).collect();
        let labels: Vec<bool> = windows.iter().map(|w| w.label).collect();
        let m = Metrics::of(&scores, &labels, threshold);
        Evaluation {
            model_name: "synthetic".into(),
            transform: Transform::Raw,
            smoothing: 1,
            config: ScoreConfig::DETERMINISTIC,
            threshold,
            channels: vec!["x".into()],
            recordings: infos,
            windows,
            metrics: m,
            flag_all: m,
            no_training: m,
            pca: None,
            pca_components: 0,
            invalid_windows: 0,
            requested_false_alarm_rate: None,
            alarms: None,
            no_training_alarms: None,
            notes: Vec::new(),
        }
    }

    /// Width and height of the PNG at `path`, after checking its signature and its end.
    fn png_size(path: &Path) -> (u32, u32) {
        let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
        assert_eq!(&b[12..16], b"IHDR");
        assert_eq!(&b[b.len() - 8..b.len() - 4], b"IEND", "{} is cut short", path.display());
        let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        (be(16), be(20))
    }

    /// Renders the score plot and histogram of `e` into a temporary directory (and into
    /// `$VAE_PLOTS_CHECK/name-*.png` when that is set, to look at) and checks their sizes.
    fn render(e: &Evaluation, name: &str) {
        let dir = tempfile::tempdir().unwrap();
        let keep = std::env::var_os("VAE_PLOTS_CHECK").map(std::path::PathBuf::from);
        for d in std::iter::once(dir.path().to_path_buf()).chain(keep) {
            std::fs::create_dir_all(&d).unwrap();
            let (scores, hist, roc_png) = (
                d.join(format!("{name}-scores.png")),
                d.join(format!("{name}-histogram.png")),
                d.join(format!("{name}-roc.png")),
            );
            score_over_time(e, &scores).unwrap();
            histograms(e, &hist).unwrap();
            roc(e, &roc_png).unwrap();
            assert_eq!(png_size(&scores), score_plot_size(e.recordings.len()));
            assert_eq!(png_size(&hist), HISTOGRAM_SIZE);
            assert_eq!(png_size(&roc_png), (560, 560));
        }
    }

    fn axis_of(scores: &[(f32, bool)], t: Option<f32>) -> ScoreAxis {
        score_axis(&scores.iter().map(|s| s.0).collect::<Vec<_>>(), t)
    }

    #[test]
    fn a_runaway_window_is_clipped_and_the_rest_stays_on_the_axis() {
        let scores = bulk_scores(5000, true);
        let axis = axis_of(&scores, Some(80.0));
        assert_eq!(axis.above, Beyond { count: 1, extreme: 7.9e7 });
        assert_eq!(axis.below.count, 0);
        assert!(axis.hi < 1000.0, "{axis:?}");
        assert!(axis.lo < 80.0 && 80.0 < axis.hi, "the threshold is on the axis: {axis:?}");
        for &(s, _) in scores.iter().filter(|s| s.0 < 1e6) {
            assert!(axis.lo < f64::from(s) && f64::from(s) < axis.hi, "{s} off {axis:?}");
        }
        assert_eq!(axis.clamp(7.9e7), axis.hi);
    }

    #[test]
    fn without_a_runaway_window_the_axis_covers_every_score() {
        let scores = bulk_scores(5000, false);
        let axis = axis_of(&scores, Some(80.0));
        assert_eq!((axis.above.count, axis.below.count), (0, 0));
        let (min, max) =
            scores.iter().fold((f64::MAX, f64::MIN), |(a, b), s| (a.min(s.0.into()), b.max(s.0.into())));
        assert!(axis.lo < min && max < axis.hi, "{axis:?}");
        // A twentieth of the windows frozen far out is clipped; a quarter is the data, shown.
        let frozen: Vec<f32> =
            (0..100).map(|i| if i % 20 == 0 { 7.9e7 } else { 50.0 + (i % 7) as f32 }).collect();
        let axis = score_axis(&frozen, Some(80.0));
        assert_eq!(axis.above, Beyond { count: 5, extreme: 7.9e7 });
        assert!(axis.hi < 1000.0);
        let loud: Vec<f32> = (0..100).map(|i| if i % 4 == 0 { 7.9e7 } else { 50.0 }).collect();
        let axis = score_axis(&loud, Some(80.0));
        assert_eq!(axis.above.count, 0);
        assert!(axis.hi > 7.9e7);
    }

    #[test]
    fn the_axis_takes_negative_scores_far_thresholds_and_overflow() {
        // Negative scores (nats): a runaway window either way is clipped, the bulk stays.
        let mut s: Vec<f32> = (0..1000).map(|i| -1234.5 + (i % 7) as f32).collect();
        s.extend([5e6, -1e9, f32::INFINITY, f32::NAN]);
        let axis = score_axis(&s, Some(-1220.0));
        assert_eq!(axis.above, Beyond { count: 2, extreme: f64::INFINITY });
        assert_eq!(axis.below, Beyond { count: 1, extreme: -1e9 });
        assert!(axis.lo < -1234.5 && -1220.0 < axis.hi && axis.hi < -1000.0, "{axis:?}");
        // A threshold far from every score is still on the axis.
        let axis = score_axis(&[1.0, 2.0, 3.0], Some(1e6));
        assert!(axis.lo < 1.0 && 1e6 < axis.hi, "{axis:?}");
        // Equal scores, no scores: a range with some width.
        let axis = score_axis(&[5.0; 10], None);
        assert!(axis.lo < 5.0 && 5.0 < axis.hi);
        let axis = score_axis(&[], None);
        assert!(axis.lo < axis.hi);
    }

    #[test]
    fn compact_numbers_stay_short() {
        for (v, s) in [
            (7.9e7, "7.9e7"),
            (-1234.5, "-1234.5"),
            (80.0, "80"),
            (0.125, "0.125"),
            (1e-4, "1e-4"),
            (0.0, "0"),
            (-2.5e-12, "-2.5e-12"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(compact(v), s);
        }
        assert_eq!(tick(1e-14, 100.0), "0");
    }

    #[test]
    fn plots_are_drawn_at_their_size() {
        // Two recordings, the second with the event and the runaway window.
        let e =
            evaluation(vec![bulk_scores(3000, false)[..1400].to_vec(), bulk_scores(2000, true)], Some(80.0));
        render(&e, "outlier");
        // Wide tick labels: negative scores with decimals.
        let mut r = noise(3);
        let neg: Vec<(f32, bool)> =
            (0..800).map(|i| ((-1234.5 + 3.0 * r()) as f32, (400..420).contains(&i))).collect();
        render(&evaluation(vec![neg], Some(-1231.7)), "negative");
        // Loud, not runaway: ticks up to 7.9e7.
        let loud: Vec<(f32, bool)> =
            (0..600).map(|i| if i % 4 == 0 { (7.9e7, true) } else { (50.0, false) }).collect();
        render(&evaluation(vec![loud], Some(80.0)), "loud");
        // More recordings than panels: end to end in one panel.
        let many = (0..MAX_PANELS + 2).map(|k| bulk_scores(200 + 50 * k, k == 3)).collect();
        render(&evaluation(many, None), "many");
    }
}
