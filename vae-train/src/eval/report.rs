//! The Markdown report of an evaluation, with its plots and a CSV of every window.

use super::alarms::{duration, percent};
use super::{fmt, plots, AlarmFigures, Evaluation};
use crate::atomic;
use crate::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The files [`write`] writes into its directory.
pub const FILES: [&str; 5] = ["report.md", "scores.png", "histogram.png", "roc.png", "windows.csv"];

/// Writes `report.md`, `scores.png`, `histogram.png`, `roc.png` and `windows.csv` into `dir`
/// (created if needed). A plot that cannot be drawn (e.g. no font for its text) is named in
/// the report instead of failing the whole report.
pub fn write(e: &Evaluation, dir: &Path) -> Result<PathBuf, Error> {
    std::fs::create_dir_all(dir).map_err(|err| Error::io(dir, err))?;
    let mut md = String::new();
    summary(&mut md, e);
    metrics_table(&mut md, e);
    alarms_section(&mut md, e);
    recordings_table(&mut md, e);
    plots_section(&mut md, e, dir);
    notes_section(&mut md, e);
    let csv_path = dir.join("windows.csv");
    atomic::write(&csv_path, windows_csv(e).as_bytes()).map_err(|err| Error::io(&csv_path, err))?;
    let path = dir.join("report.md");
    atomic::write(&path, md.as_bytes()).map_err(|err| Error::io(&path, err))?;
    Ok(path)
}

/// The title and what was scored, and how.
fn summary(md: &mut String, e: &Evaluation) {
    let m = &e.metrics;
    let _ = writeln!(md, "# Evaluation of `{}`\n", e.model_name);
    let wandering = e.wandering_names();
    let _ = writeln!(
        md,
        "Score {} (K = {}), transform `{}`{}, smoothing over {} window(s), decision threshold {}.\n",
        e.config.kind().name(),
        e.config.samples(),
        e.transform.name(),
        if wandering.is_empty() {
            String::new()
        } else {
            format!(" (wandering levels: {})", wandering.join(", "))
        },
        e.smoothing,
        e.threshold.map_or("none".to_string(), |t| format!("{t:.4}"))
    );
    let _ = writeln!(
        md,
        "{} windows scored, {} anomalous (prevalence {:.3}); {} not scored (NaN/Inf samples). A window is \
         anomalous when any of its rows is labelled. The references score the same normalised windows.\n",
        m.windows,
        m.anomalous_windows,
        m.anomalous_windows as f64 / m.windows.max(1) as f64,
        e.invalid_windows
    );
}

/// The model's metrics beside the references'.
fn metrics_table(md: &mut String, e: &Evaluation) {
    let _ = writeln!(md, "| scorer | ROC-AUC | PR-AUC | best F1 | F1 | precision | recall |");
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|");
    let mut rows = vec![
        ("model".to_string(), e.metrics),
        ("flag every window".to_string(), e.flag_all),
        ("no-training score".to_string(), e.no_training),
    ];
    if let Some(p) = e.pca {
        rows.push((format!("PCA reconstruction (k = {})", e.pca_components), p));
    }
    for (name, r) in &rows {
        let _ = writeln!(
            md,
            "| {name} | {} | {} | {} | {} | {} | {} |",
            fmt(r.roc_auc),
            fmt(r.pr_auc),
            fmt(r.best_f1),
            fmt(r.f1),
            fmt(r.precision),
            fmt(r.recall)
        );
    }
    let _ = writeln!(
        md,
        "\nF1, precision and recall are of the device's decisions: the model's threshold under its alarm rule (see `vae_core::alarm`; the references have none); \
         best F1 is the best over every threshold, chosen in hindsight on these labels.\n"
    );
}

/// The alarm figures of the model at its threshold and of the no-training reference at its
/// own, with the rules that count them.
fn alarms_section(md: &mut String, e: &Evaluation) {
    let _ = writeln!(md, "## Alarms at the threshold\n");
    let rows: Vec<(&str, &AlarmFigures)> =
        [("model", &e.alarms), ("no-training score", &e.no_training_alarms)]
            .into_iter()
            .filter_map(|(name, a)| a.as_ref().map(|a| (name, a)))
            .collect();
    if rows.is_empty() {
        let _ = writeln!(md, "No scorer has a threshold here (see the notes).\n");
        return;
    }
    let requested = e.requested_false_alarm_rate.map_or("n/a".to_string(), percent);
    let _ = writeln!(
        md,
        "| scorer | threshold | false-alarm rate (requested {requested}) | episodes per 1,000 normal windows | \
         episodes per day | events caught | event recall | median delay | max delay |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("n/a".to_string(), f);
    for (name, a) in rows {
        let delay = |r: Option<f64>, s: Option<f64>| match (r, s) {
            (Some(r), Some(s)) => format!("{r} rows ({})", duration(s)),
            (Some(r), None) => format!("{r} rows"),
            _ => "n/a".to_string(),
        };
        let _ = writeln!(
            md,
            "| {name} | {:.4} | {} | {} | {} | {} of {} | {} | {} | {} |",
            a.threshold,
            opt(a.false_alarm_rate, &percent),
            opt(a.episodes_per_1000, &|x| format!("{x:.1}")),
            opt(a.episodes_per_day, &|x| format!("{x:.2}")),
            a.events_detected,
            a.events,
            fmt(a.event_recall),
            delay(a.median_delay_rows, a.median_delay_seconds),
            delay(a.max_delay_rows.map(|x| x as f64), a.max_delay_seconds)
        );
    }
    let _ = writeln!(
        md,
        "\nA false alarm is a labelled-normal window flagged; an episode a run of consecutive flagged \
         normal windows of one recording; an event a run of consecutive anomalous windows of one \
         recording, caught when one of its windows is flagged; the delay runs from the event's first \
         labelled row to the last row of its first flagged window. Per day counts the normal windows \
         times the hop times the median sampling step. The no-training score decides as the model \
         does: smoothed over the model's {} window(s), at the quantile of the model's calibration over \
         its smoothed scores on the training windows.\n",
        e.smoothing
    );
}

/// One line per recording evaluated.
fn recordings_table(md: &mut String, e: &Evaluation) {
    let _ = writeln!(md, "## Recordings\n\n| file | first row | rows | windows | anomalous | invalid |\n|---|---:|---:|---:|---:|---:|");
    for r in &e.recordings {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            r.path.display(),
            r.first_row,
            r.rows,
            r.windows,
            r.anomalous_windows,
            r.invalid_windows
        );
    }
}

/// Draws the plots into `dir` and links them; a plot that cannot be drawn is named with why.
fn plots_section(md: &mut String, e: &Evaluation, dir: &Path) {
    let _ = writeln!(md, "\n## Plots\n");
    type Plot = fn(&Evaluation, &Path) -> Result<(), String>;
    let plots: [(&str, &str, Plot); 3] = [
        (
            "scores.png",
            "Score over the rows of each recording, threshold, labelled anomalies shaded",
            plots::score_over_time,
        ),
        ("histogram.png", "Scores of normal and anomalous windows", plots::histograms),
        ("roc.png", "ROC curves", plots::roc),
    ];
    for (file, title, draw) in plots {
        match draw(e, &dir.join(file)) {
            Ok(()) => {
                let _ = writeln!(md, "### {title}\n\n![{title}]({file})\n");
            }
            Err(why) => {
                let _ = writeln!(md, "### {title}\n\n(not drawn: {why})\n");
            }
        }
    }
}

/// The evaluation's notes, if any.
fn notes_section(md: &mut String, e: &Evaluation) {
    if !e.notes.is_empty() {
        let _ = writeln!(md, "## Notes\n");
        for n in &e.notes {
            let _ = writeln!(md, "* {n}");
        }
    }
}

/// `windows.csv`: one line per window scored (a file name holding `,` or `"` is quoted).
fn windows_csv(e: &Evaluation) -> String {
    let mut csv = String::from("file,window_start_row,label,score,decision,no_training,pca\n");
    for w in &e.windows {
        let file = e.recordings.get(w.recording).map(|r| r.path.display().to_string()).unwrap_or_default();
        let file =
            if file.contains([',', '"']) { format!("\"{}\"", file.replace('"', "\"\"")) } else { file };
        let _ = writeln!(
            csv,
            "{file},{},{},{},{:?},{},{}",
            w.file_row,
            u8::from(w.label),
            w.score.map_or("nan".to_string(), |s| s.to_string()),
            w.decision,
            w.no_training,
            w.pca.map_or(String::new(), |p| p.to_string())
        );
    }
    csv
}
