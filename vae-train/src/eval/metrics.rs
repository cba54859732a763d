//! Detection metrics over scored, labelled windows: ROC-AUC (ties count one half), PR-AUC as
//! average precision, the best F1 over all thresholds, and precision, recall and F1 at a
//! given threshold.
//!
//! Scores are `f32` and may be `+inf` (an overflowed window ranks above every finite score);
//! windows without a score (NaN/Inf input) are left out by the caller. A window is flagged
//! when its score is *above* the threshold, as on the device.
//!
//! An undefined metric is `None` (JSON `null`, `n/a` in text), never a made-up 0: without an
//! anomalous window, ROC-AUC, PR-AUC, best F1, recall and F1 are undefined; with nothing
//! flagged, precision is (0/0). F1 is 2 tp / (2 tp + fp + fn): with anomalous windows and
//! nothing flagged it is 0 (every anomalous window missed), a real score.

use serde::Serialize;

/// Counts of a confusion matrix and the rates derived from them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Confusion {
    /// Anomalous windows flagged.
    pub tp: usize,
    /// Normal windows flagged.
    pub fp: usize,
    /// Anomalous windows not flagged.
    pub fn_: usize,
    /// Normal windows not flagged.
    pub tn: usize,
}

impl Confusion {
    /// Windows flagged when `score > threshold`.
    pub fn at(scores: &[f32], labels: &[bool], threshold: f32) -> Self {
        Self::of_flags(scores.iter().map(|&s| s > threshold), labels)
    }

    /// The counts of `flagged` (one flag per window, in `labels` order).
    pub fn of_flags(flagged: impl Iterator<Item = bool>, labels: &[bool]) -> Self {
        let mut c = Confusion::default();
        for (f, &l) in flagged.zip(labels) {
            match (f, l) {
                (true, true) => c.tp += 1,
                (true, false) => c.fp += 1,
                (false, true) => c.fn_ += 1,
                (false, false) => c.tn += 1,
            }
        }
        c
    }

    /// tp / (tp + fp); 0 when nothing is flagged.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// tp / (tp + fn); 0 when there is no anomalous window.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// 2 tp / (2 tp + fp + fn); 0 when there is nothing to find and nothing flagged.
    pub fn f1(&self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }

    /// Precision, `None` when nothing is flagged (0/0).
    pub fn precision_defined(&self) -> Option<f64> {
        (self.tp + self.fp > 0).then(|| self.precision())
    }

    /// Recall, `None` when there is no anomalous window (0/0).
    pub fn recall_defined(&self) -> Option<f64> {
        (self.tp + self.fn_ > 0).then(|| self.recall())
    }

    /// F1, `None` when there is no anomalous window (nothing to find: only false alarms or
    /// nothing at all); 0 when there is one and nothing is flagged.
    pub fn f1_defined(&self) -> Option<f64> {
        (self.tp + self.fn_ > 0).then(|| self.f1())
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The groups of equal scores, highest first: (score, anomalous windows, normal windows).
fn groups(scores: &[f32], labels: &[bool]) -> Vec<(f32, usize, usize)> {
    let mut order: Vec<(f32, bool)> =
        scores.iter().zip(labels).filter(|(s, _)| !s.is_nan()).map(|(&s, &l)| (s, l)).collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out: Vec<(f32, usize, usize)> = Vec::new();
    for (s, l) in order {
        match out.last_mut() {
            Some(g) if g.0 == s => {
                if l {
                    g.1 += 1
                } else {
                    g.2 += 1
                }
            }
            _ => out.push((s, usize::from(l), usize::from(!l))),
        }
    }
    out
}

/// Area under the ROC curve: the probability that a random anomalous window scores above a
/// random normal one, ties counting one half (the Mann-Whitney U statistic over P N). `None`
/// when either class is empty.
pub fn roc_auc(scores: &[f32], labels: &[bool]) -> Option<f64> {
    let g = groups(scores, labels);
    let (p, n) = g.iter().fold((0usize, 0usize), |(p, n), x| (p + x.1, n + x.2));
    if p == 0 || n == 0 {
        return None;
    }
    // Walk from the top: each anomalous window beats every normal window below its group and
    // ties with the normal windows of its group.
    let mut normals_below = n;
    let mut u = 0.0f64;
    for &(_, gp, gn) in &g {
        normals_below -= gn;
        u += gp as f64 * (normals_below as f64 + 0.5 * gn as f64);
    }
    Some(u / (p as f64 * n as f64))
}

/// Average precision (the area under the precision-recall curve as a step function, as
/// scikit-learn's `average_precision_score`): sum over thresholds of (R_k - R_k-1) P_k, one
/// threshold per distinct score. `None` without anomalous windows.
pub fn average_precision(scores: &[f32], labels: &[bool]) -> Option<f64> {
    let g = groups(scores, labels);
    let p: usize = g.iter().map(|x| x.1).sum();
    if p == 0 {
        return None;
    }
    let (mut tp, mut fp, mut ap, mut last_recall) = (0usize, 0usize, 0.0f64, 0.0f64);
    for &(_, gp, gn) in &g {
        tp += gp;
        fp += gn;
        let recall = tp as f64 / p as f64;
        ap += (recall - last_recall) * tp as f64 / (tp + fp) as f64;
        last_recall = recall;
    }
    Some(ap)
}

/// The best F1 over every threshold, with the threshold that reaches it (`score > t` flags
/// exactly the windows of that F1: `t` lies halfway to the next lower score).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BestF1 {
    /// The F1.
    pub f1: f64,
    /// A threshold that reaches it.
    pub threshold: f32,
    /// Its precision.
    pub precision: f64,
    /// Its recall.
    pub recall: f64,
}

/// The best F1 over all thresholds (`None` without anomalous windows). Among equal F1 the
/// highest threshold wins.
pub fn best_f1(scores: &[f32], labels: &[bool]) -> Option<BestF1> {
    let g = groups(scores, labels);
    let p: usize = g.iter().map(|x| x.1).sum();
    if p == 0 {
        return None;
    }
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut best: Option<BestF1> = None;
    for (i, &(s, gp, gn)) in g.iter().enumerate() {
        tp += gp;
        fp += gn;
        let c = Confusion { tp, fp, fn_: p - tp, tn: 0 };
        if best.is_none_or(|b| c.f1() > b.f1) {
            let threshold = match g.get(i + 1) {
                // Halfway to the next lower score (that score itself when the midpoint rounds
                // onto it or is not finite): `> t` then flags exactly the groups down to `s`.
                Some(&(lower, _, _)) => {
                    let mid = lower + (s - lower) / 2.0;
                    if mid.is_finite() && mid > lower && mid < s {
                        mid
                    } else {
                        lower
                    }
                }
                None if s.is_finite() => s.next_down(),
                None => f32::MAX,
            };
            best = Some(BestF1 { f1: c.f1(), threshold, precision: c.precision(), recall: c.recall() });
        }
    }
    best
}

/// The ROC curve as (false positive rate, true positive rate) points, from (0, 0) to (1, 1),
/// one per distinct score. Empty when either class is empty.
pub fn roc_curve(scores: &[f32], labels: &[bool]) -> Vec<(f64, f64)> {
    let g = groups(scores, labels);
    let (p, n) = g.iter().fold((0usize, 0usize), |(p, n), x| (p + x.1, n + x.2));
    if p == 0 || n == 0 {
        return Vec::new();
    }
    let mut out = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0usize, 0usize);
    for &(_, gp, gn) in &g {
        tp += gp;
        fp += gn;
        out.push((fp as f64 / n as f64, tp as f64 / p as f64));
    }
    out
}

/// Every metric of one scorer on one set of windows.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Metrics {
    /// Windows with a score.
    pub windows: usize,
    /// Of them, anomalous.
    pub anomalous_windows: usize,
    /// ROC-AUC (`None`: a class is empty).
    pub roc_auc: Option<f64>,
    /// Average precision.
    pub pr_auc: Option<f64>,
    /// Best F1 over all thresholds.
    pub best_f1: Option<f64>,
    /// The threshold of the best F1.
    pub best_f1_threshold: Option<f32>,
    /// The threshold of the F1, precision and recall below (the model's calibrated one).
    pub threshold: Option<f32>,
    /// F1 at `threshold` (`None` without a threshold or an anomalous window).
    pub f1: Option<f64>,
    /// Precision at `threshold` (`None` without a threshold or a flagged window).
    pub precision: Option<f64>,
    /// Recall at `threshold` (`None` without a threshold or an anomalous window).
    pub recall: Option<f64>,
}

impl Metrics {
    /// The metrics of `scores` against `labels`, with F1, precision and recall at
    /// `threshold` when one is given and they are defined. NaN scores are left out.
    pub fn of(scores: &[f32], labels: &[bool], threshold: Option<f32>) -> Self {
        let (s, l): (Vec<f32>, Vec<bool>) =
            scores.iter().zip(labels).filter(|(s, _)| !s.is_nan()).map(|(&s, &l)| (s, l)).unzip();
        let best = best_f1(&s, &l);
        let at = threshold.map(|t| Confusion::at(&s, &l, t));
        Metrics {
            windows: s.len(),
            anomalous_windows: l.iter().filter(|&&x| x).count(),
            roc_auc: roc_auc(&s, &l),
            pr_auc: average_precision(&s, &l),
            best_f1: best.map(|b| b.f1),
            best_f1_threshold: best.map(|b| b.threshold),
            threshold,
            f1: at.and_then(|c| c.f1_defined()),
            precision: at.and_then(|c| c.precision_defined()),
            recall: at.and_then(|c| c.recall_defined()),
        }
    }

    /// These metrics with F1, precision and recall of the decisions `flagged` (the device's
    /// alarms, one per scored window, in `labels` order) rather than of a threshold on the
    /// scores: with on-device learning the decision is not a fixed threshold.
    pub fn with_decisions(mut self, flagged: &[bool], labels: &[bool]) -> Self {
        let c = Confusion::of_flags(flagged.iter().copied(), labels);
        (self.f1, self.precision, self.recall) = (c.f1_defined(), c.precision_defined(), c.recall_defined());
        self
    }

    /// Flagging every window: F1 = 2p / (1 + p) for the prevalence p, precision p, recall 1,
    /// ROC-AUC 1/2, PR-AUC p.
    pub fn flag_all(labels: &[bool]) -> Self {
        let n = labels.len();
        let a = labels.iter().filter(|&&x| x).count();
        let c = Confusion { tp: a, fp: n - a, fn_: 0, tn: 0 };
        let p = ratio(a, n);
        let defined = a > 0;
        Metrics {
            windows: n,
            anomalous_windows: a,
            roc_auc: (defined && a < n).then_some(0.5),
            pr_auc: defined.then_some(p),
            best_f1: defined.then_some(c.f1()),
            best_f1_threshold: None,
            threshold: None,
            f1: defined.then_some(c.f1()),
            precision: defined.then_some(c.precision()),
            recall: defined.then_some(c.recall()),
        }
    }
}
