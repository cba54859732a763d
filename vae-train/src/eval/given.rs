//! `eval --scores`: the model's verdicts read from a score CSV (`vae-train score --out`, or
//! the device's log turned into one) instead of computed, matched to the windows cut from
//! the labelled recordings. See [`super::evaluate_given`] for the rules.

use super::{outcome_of, Verdict};
use crate::data::{Recording, Windows};
use crate::error::{Error, EvalError};
use crate::model::OwnedModel;
use crate::pipeline::{Flag, ScoreRow, ScoresFile};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use vae_core::{Decision, Outcome};

/// The verdicts of every window and what the file says about decisions.
pub(super) struct Given {
    /// One per window, in window order.
    pub verdicts: Vec<Verdict>,
    /// Some window is scored and no scored window has a decision (an empty `anomalous`
    /// column: the scores came from a model without threshold).
    pub undecided: bool,
}

/// The verdict of every window of `windows` (cut from `recs`) from its row of `file`.
pub(super) fn verdicts(
    model: &OwnedModel,
    file: &ScoresFile,
    recs: &[Recording],
    windows: &Windows,
    notes: &mut Vec<String>,
) -> Result<Given, Error> {
    let meta = &model.meta;
    if !file.channels.is_empty() && file.channels != meta.channels {
        return Err(EvalError::ScoresChannels {
            path: file.path.clone(),
            expected: meta.channels.join(", "),
            found: file.channels.join(", "),
        }
        .into());
    }
    if meta.transform.smoothing > 1 && !file.smoothed {
        notes.push(format!(
            "{} has no smoothed_score column: the metrics use its score column, though the model smooths over {} windows",
            file.path.display(),
            meta.transform.smoothing
        ));
    }
    let files = distinct_files(file);
    let keys: Vec<Option<&str>> = recs.iter().map(|r| file_of(r, recs.len(), &files)).collect();
    // (file, start_row) -> the row, and a second row with the same key if any.
    let mut index: HashMap<(&str, u64), (usize, Option<usize>)> = HashMap::with_capacity(file.rows.len());
    for (i, r) in file.rows.iter().enumerate() {
        index
            .entry((r.file.as_str(), r.start_row))
            .and_modify(|e| _ = e.1.get_or_insert(i))
            .or_insert((i, None));
    }
    let line = |i: usize| file.lines.get(i).copied().unwrap_or(0);
    let mut used = vec![false; file.rows.len()];
    let mut out = Vec::with_capacity(windows.len());
    let (mut decided, mut undecided) = (None::<usize>, None::<usize>);
    for o in &windows.origin {
        let rec = &recs[o.recording];
        let start_row = rec.file_row(o.start) as u64;
        let found = keys[o.recording].and_then(|f| index.get(&(f, start_row)));
        let Some(&(i, dup)) = found else {
            return Err(EvalError::ScoresMissingWindow {
                path: file.path.clone(),
                recording: rec.path.clone(),
                start_row,
                files: some_files(&files),
            }
            .into());
        };
        if let Some(j) = dup {
            return Err(EvalError::ScoresDuplicateRow {
                path: file.path.clone(),
                line: line(j),
                first_line: line(i),
                file: file.rows[i].file.clone(),
                start_row,
            }
            .into());
        }
        used[i] = true;
        let v = verdict(model, file, &file.rows[i]);
        if v.score.is_some() {
            let slot = if file.rows[i].flag == Flag::Unknown { &mut undecided } else { &mut decided };
            slot.get_or_insert(i);
        }
        out.push(v);
    }
    if let (Some(d), Some(u)) = (decided, undecided) {
        return Err(EvalError::ScoresCell {
            path: file.path.clone(),
            line: line(u),
            number: 5,
            column: "anomalous".into(),
            expected: format!(
                "a decision (yes, no, learning) for every scored window, as on line {} (an empty cell means the model has no threshold)",
                line(d)
            ),
            found: String::new(),
        }
        .into());
    }
    let unmatched = used.iter().filter(|u| !**u).count();
    if unmatched > 0 {
        notes.push(format!(
            "{unmatched} row(s) of {} match no window of the recordings evaluated: ignored",
            file.path.display()
        ));
    }
    Ok(Given { verdicts: out, undecided: undecided.is_some() })
}

/// The verdict of one row: its decision score (`smoothed_score` when the file has it),
/// not scored when that or its own score is NaN or its flag is `invalid`.
fn verdict(model: &OwnedModel, file: &ScoresFile, row: &ScoreRow) -> Verdict {
    let v = if file.smoothed { row.smoothed.unwrap_or(f32::NAN) } else { row.score };
    let valid = !row.score.is_nan() && !v.is_nan() && row.flag != Flag::Invalid;
    if !valid {
        return Verdict {
            outcome: Outcome::NonFinite { count: 1, first: 0 },
            score: None,
            decision: Decision::Invalid,
        };
    }
    let top = model.meta.channels.iter().position(|c| *c == row.top_channel).unwrap_or(0);
    Verdict {
        outcome: outcome_of(row.score, top),
        score: Some(v),
        decision: row.flag.decision().unwrap_or(Decision::Normal),
    }
}

/// The distinct `file` cells of `file`, in order of first appearance.
fn distinct_files(file: &ScoresFile) -> Vec<&str> {
    let mut seen = HashSet::new();
    file.rows.iter().map(|r| r.file.as_str()).filter(|f| seen.insert(*f)).collect()
}

/// The `file` cell whose rows belong to recording `r` (one of `recordings`): its path as
/// given, else the only file with its file name, else the only file when there is one
/// recording.
fn file_of<'f>(r: &Recording, recordings: usize, files: &[&'f str]) -> Option<&'f str> {
    let given = r.path.display().to_string();
    if let Some(f) = files.iter().find(|f| **f == given) {
        return Some(f);
    }
    let name = r.path.file_name();
    let same_name: Vec<&str> =
        files.iter().copied().filter(|f| name.is_some() && Path::new(f).file_name() == name).collect();
    match (same_name.as_slice(), files) {
        ([f], _) => Some(f),
        (_, [f]) if recordings == 1 => Some(f),
        _ => None,
    }
}

/// The first few of `files`, for a message.
fn some_files(files: &[&str]) -> String {
    if files.is_empty() {
        return "none, the file has no rows".into();
    }
    let mut s: Vec<String> = files.iter().take(3).map(|f| format!("`{f}`")).collect();
    if files.len() > 3 {
        s.push(format!("and {} more", files.len() - 3));
    }
    s.join(", ")
}
