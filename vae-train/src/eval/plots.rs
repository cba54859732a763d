//! PNG plots of an evaluation (`plotters`, bitmap backend): the score over time with the
//! threshold and the labelled anomalies shaded, histograms of the scores of normal and
//! anomalous windows, and the ROC curve.

use super::{metrics, EvalWindow, Evaluation};
use plotters::prelude::*;
use std::path::Path;

const SCORE_COLOR: RGBColor = RGBColor(31, 90, 160);
const ANOMALY_SHADE: RGBColor = RGBColor(250, 205, 205);
const THRESHOLD_COLOR: RGBColor = RGBColor(200, 30, 30);
const NORMAL_COLOR: RGBColor = RGBColor(40, 120, 200);
const ANOMALOUS_COLOR: RGBColor = RGBColor(220, 90, 30);

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// A y range that shows the bulk of the scores and the threshold: one extreme window (a
/// fault 1000 times louder than normal) must not flatten everything else. Points above are
/// drawn at the top.
fn score_range(scores: &[f32], threshold: Option<f32>) -> (f64, f64) {
    let mut s: Vec<f64> = scores.iter().filter(|v| v.is_finite()).map(|&v| f64::from(v)).collect();
    if s.is_empty() {
        return (0.0, 1.0);
    }
    s.sort_by(f64::total_cmp);
    let lo = s[0];
    let hi = s[s.len() - 1];
    let q = s[((s.len() - 1) as f64 * 0.98) as usize];
    let mut top = if hi - lo > 4.0 * (q - lo) { lo + 1.25 * (q - lo) } else { hi };
    if let Some(t) = threshold.map(f64::from).filter(|t| t.is_finite()) {
        top = top.max(t + 0.1 * (t - lo).abs());
    }
    let lo = threshold.map(f64::from).filter(|t| t.is_finite()).map_or(lo, |t| lo.min(t));
    if top <= lo {
        top = lo + 1.0;
    }
    (lo - 0.02 * (top - lo), top + 0.02 * (top - lo))
}

/// Score (the one decisions use) of every window over time, recordings one after the other,
/// with the threshold and the labelled anomalous windows shaded.
pub fn score_over_time(e: &Evaluation, path: &Path) -> Result<(), String> {
    let threshold = e.threshold;
    let scores: Vec<f32> = e.windows.iter().map(|w| w.score.unwrap_or(f32::NAN)).collect();
    let (y0, y1) = score_range(&scores, threshold);
    let n = e.windows.len().max(2);
    let root = BitMapBackend::new(path, (1200, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{}: score per window", e.model_name), ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..(n - 1) as f64, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc("window (recordings in order)")
        .y_desc(if e.smoothing > 1 { "smoothed score" } else { "score" })
        .draw()
        .map_err(err)?;
    let spans = labelled_spans(&e.windows);
    chart
        .draw_series(spans.iter().map(|&(a, b)| {
            Rectangle::new([(a as f64 - 0.5, y0), (b as f64 + 0.5, y1)], ANOMALY_SHADE.filled())
        }))
        .map_err(err)?
        .label("labelled anomalous")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], ANOMALY_SHADE.filled()));
    // One line per recording (no line across the boundary), points above the range at the top.
    for (k, pts) in recording_lines(&e.windows, y1).into_iter().enumerate() {
        let series = chart.draw_series(LineSeries::new(pts, SCORE_COLOR.stroke_width(1))).map_err(err)?;
        if k == 0 {
            series.label("score").legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], SCORE_COLOR));
        }
    }
    if let Some(t) = threshold {
        chart
            .draw_series(LineSeries::new(
                vec![(0.0, f64::from(t)), ((n - 1) as f64, f64::from(t))],
                THRESHOLD_COLOR.stroke_width(2),
            ))
            .map_err(err)?
            .label(format!("threshold {t:.4}"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], THRESHOLD_COLOR));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
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

/// The points of the score line of every run of windows from one recording (index, score
/// capped at `top`), one line per run even when none of its windows was scored.
fn recording_lines(windows: &[EvalWindow], top: f64) -> Vec<Vec<(f64, f64)>> {
    let mut lines = Vec::new();
    let mut i = 0;
    while i < windows.len() {
        let rec = windows[i].recording;
        let mut pts = Vec::new();
        while i < windows.len() && windows[i].recording == rec {
            if let Some(s) = windows[i].score {
                pts.push((i as f64, f64::from(s).min(top)));
            }
            i += 1;
        }
        lines.push(pts);
    }
    lines
}

/// Histograms (share of each class per bin) of the scores of normal and anomalous windows.
pub fn histograms(e: &Evaluation, path: &Path) -> Result<(), String> {
    let scores: Vec<f32> = e.windows.iter().filter_map(|w| w.score).collect();
    let (x0, x1) = score_range(&scores, e.threshold);
    const BINS: usize = 50;
    let width = (x1 - x0) / BINS as f64;
    let mut counts = [[0usize; BINS]; 2];
    let mut totals = [0usize; 2];
    for w in &e.windows {
        if let Some(s) = w.score {
            let b = (((f64::from(s) - x0) / width).floor().max(0.0) as usize).min(BINS - 1);
            counts[usize::from(w.label)][b] += 1;
            totals[usize::from(w.label)] += 1;
        }
    }
    let share = |class: usize, b: usize| counts[class][b] as f64 / totals[class].max(1) as f64;
    let top = (0..BINS).flat_map(|b| [share(0, b), share(1, b)]).fold(0.0f64, f64::max).max(1e-3) * 1.1;
    let root = BitMapBackend::new(path, (900, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{}: scores of normal and anomalous windows", e.model_name), ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, 0f64..top)
        .map_err(err)?;
    chart.configure_mesh().x_desc("score").y_desc("share of the class's windows").draw().map_err(err)?;
    for (class, color, name) in [(0, NORMAL_COLOR, "normal"), (1, ANOMALOUS_COLOR, "anomalous")] {
        chart
            .draw_series((0..BINS).filter(|&b| counts[class][b] > 0).map(|b| {
                let a = x0 + b as f64 * width;
                Rectangle::new([(a, 0.0), (a + width, share(class, b))], color.mix(0.45).filled())
            }))
            .map_err(err)?
            .label(format!("{name} ({})", totals[class]))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], color.mix(0.45).filled()));
    }
    if let Some(t) = e.threshold {
        chart
            .draw_series(LineSeries::new(
                vec![(f64::from(t), 0.0), (f64::from(t), top)],
                THRESHOLD_COLOR.stroke_width(2),
            ))
            .map_err(err)?
            .label("threshold")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], THRESHOLD_COLOR));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// The ROC curve of the model and of the reference scores.
pub fn roc(e: &Evaluation, path: &Path) -> Result<(), String> {
    let root = BitMapBackend::new(path, (560, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{}: ROC", e.model_name), ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(36)
        .y_label_area_size(46)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)
        .map_err(err)?;
    chart.configure_mesh().x_desc("false positive rate").y_desc("true positive rate").draw().map_err(err)?;
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
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}
