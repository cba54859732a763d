//! The evaluation metrics against hand-computed values (ROC-AUC with ties, PR-AUC as average
//! precision, best F1 and its threshold) and against properties that must hold for any
//! scores.

use proptest::prelude::*;
use vae_train::eval::metrics::{average_precision, best_f1, roc_auc, roc_curve, Confusion, Metrics};

const EPS: f64 = 1e-12;

#[test]
fn scikit_learn_documentation_example() {
    // sklearn.metrics: roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.75 and
    // average_precision_score of the same = 0.8333.
    let s = [0.1f32, 0.4, 0.35, 0.8];
    let l = [false, false, true, true];
    assert!((roc_auc(&s, &l).unwrap() - 0.75).abs() < EPS);
    assert!((average_precision(&s, &l).unwrap() - 5.0 / 6.0).abs() < EPS);
    // Flagging >= 0.8: F1 2/3; >= 0.4: 1/2; >= 0.35: 4/5; everything: 2/3.
    let b = best_f1(&s, &l).unwrap();
    assert!((b.f1 - 0.8).abs() < EPS);
    assert!((b.precision - 2.0 / 3.0).abs() < EPS && (b.recall - 1.0).abs() < EPS);
    // The threshold lies between 0.35 and 0.1 and flags exactly those windows with `>`.
    assert!(b.threshold > 0.1 && b.threshold < 0.35, "{}", b.threshold);
    let c = Confusion::at(&s, &l, b.threshold);
    assert_eq!((c.tp, c.fp, c.fn_, c.tn), (2, 1, 0, 1));
    assert!((c.f1() - b.f1).abs() < EPS);
}

#[test]
fn ties_count_one_half() {
    // Positives score 1 and 2, negatives 1 and 0: pairs (1,1) tie = 1/2, the other three
    // pairs are won: AUC = 3.5 / 4.
    let s = [1.0f32, 1.0, 2.0, 0.0];
    let l = [true, false, true, false];
    assert!((roc_auc(&s, &l).unwrap() - 0.875).abs() < EPS);
    // Average precision, one threshold per distinct score: at 2 recall 1/2 precision 1, at 1
    // recall 1 precision 2/3: 1/2 + 1/2 * 2/3.
    assert!((average_precision(&s, &l).unwrap() - (0.5 + 1.0 / 3.0)).abs() < EPS);
    // All scores equal: AUC 1/2, AP = prevalence.
    let flat = [3.0f32; 5];
    let l = [true, false, false, true, false];
    assert!((roc_auc(&flat, &l).unwrap() - 0.5).abs() < EPS);
    assert!((average_precision(&flat, &l).unwrap() - 0.4).abs() < EPS);
    assert_eq!(roc_curve(&flat, &l), vec![(0.0, 0.0), (1.0, 1.0)]);
}

#[test]
fn infinite_scores_rank_first_and_nan_is_left_out() {
    let s = [f32::INFINITY, 1.0, 0.5, f32::NAN];
    let l = [true, false, true, false];
    // Pairs over the three ranked windows: (inf, 1) won, (0.5, 1) lost: 1/2.
    assert!((roc_auc(&s, &l).unwrap() - 0.5).abs() < EPS);
    let b = best_f1(&s, &l).unwrap();
    let c = Confusion::at(&s[..3], &l[..3], b.threshold);
    assert!((c.f1() - b.f1).abs() < EPS, "{b:?}");
    let m = Metrics::of(&s, &l, Some(0.7));
    assert_eq!((m.windows, m.anomalous_windows), (3, 2));
    assert_eq!((m.precision, m.recall), (Some(0.5), Some(0.5)));
}

#[test]
fn undefined_cases() {
    assert_eq!(roc_auc(&[1.0, 2.0], &[true, true]), None);
    assert_eq!(roc_auc(&[1.0, 2.0], &[false, false]), None);
    assert_eq!(average_precision(&[1.0, 2.0], &[false, false]), None);
    assert_eq!(best_f1(&[], &[]), None);
    assert!(roc_curve(&[1.0], &[true]).is_empty());
    let c = Confusion::default();
    assert_eq!((c.precision(), c.recall(), c.f1()), (0.0, 0.0, 0.0));
}

#[test]
fn metrics_at_a_threshold_are_none_where_undefined() {
    let s = [0.1f32, 0.2, 0.3, 0.4];
    // Nothing flagged, anomalies present: precision is 0/0; every anomaly missed, F1 and
    // recall are 0.
    let m = Metrics::of(&s, &[false, true, false, true], Some(1.0));
    assert_eq!((m.precision, m.recall, m.f1), (None, Some(0.0), Some(0.0)));
    // No anomalous window: recall and F1 are undefined whether or not something is flagged
    // (not 0: the JSON says null, as the note says undefined).
    for t in [1.0, 0.25] {
        let m = Metrics::of(&s, &[false; 4], Some(t));
        assert_eq!((m.recall, m.f1, m.best_f1), (None, None, None), "{t}");
    }
    assert_eq!(Metrics::of(&s, &[false; 4], Some(0.25)).precision, Some(0.0));
    assert_eq!(Metrics::of(&s, &[false; 4], Some(1.0)).precision, None);
    // Defined cases are unchanged.
    let m = Metrics::of(&s, &[false, true, false, true], Some(0.25));
    assert_eq!((m.precision, m.recall), (Some(0.5), Some(0.5)));
    let c = Confusion { tp: 0, fp: 0, fn_: 2, tn: 2 };
    assert_eq!((c.precision_defined(), c.recall_defined(), c.f1_defined()), (None, Some(0.0), Some(0.0)));
}

#[test]
fn flagging_everything() {
    // Prevalence p = 3/5: F1 = 2p / (1 + p) = 0.75.
    let l = [true, false, true, true, false];
    let m = Metrics::flag_all(&l);
    assert!((m.f1.unwrap() - 0.75).abs() < EPS);
    assert_eq!((m.precision, m.recall, m.roc_auc), (Some(0.6), Some(1.0), Some(0.5)));
    assert!((m.pr_auc.unwrap() - 0.6).abs() < EPS);
    // The same as thresholding any scores below their minimum.
    let s = [0.3f32, 0.1, 0.9, 0.2, 0.4];
    assert!((Confusion::at(&s, &l, -1.0).f1() - m.f1.unwrap()).abs() < EPS);
    let none = Metrics::flag_all(&[false, false]);
    assert_eq!((none.f1, none.roc_auc), (None, None));
}

/// Brute-force AUC: every (anomalous, normal) pair, ties one half.
fn pairwise_auc(s: &[f32], l: &[bool]) -> Option<f64> {
    let (mut won, mut pairs) = (0.0, 0usize);
    for (i, &a) in s.iter().enumerate() {
        for (j, &b) in s.iter().enumerate() {
            if l[i] && !l[j] {
                pairs += 1;
                won += if a > b {
                    1.0
                } else if a == b {
                    0.5
                } else {
                    0.0
                };
            }
        }
    }
    (pairs > 0).then(|| won / pairs as f64)
}

fn cases() -> impl Strategy<Value = (Vec<f32>, Vec<bool>)> {
    // Few distinct values, so ties are common.
    prop::collection::vec((0i32..12, any::<bool>()), 2..60)
        .prop_map(|v| v.into_iter().map(|(s, l)| (s as f32 * 0.5, l)).unzip())
}

proptest! {
    #[test]
    fn auc_is_the_pairwise_probability((s, l) in cases()) {
        match (roc_auc(&s, &l), pairwise_auc(&s, &l)) {
            (Some(a), Some(b)) => prop_assert!((a - b).abs() < 1e-9, "{} vs {}", a, b),
            (a, b) => prop_assert_eq!(a, b),
        }
    }

    #[test]
    fn auc_is_rank_based((s, l) in cases()) {
        // Reversing the scores mirrors the AUC; a strictly increasing map keeps it.
        if let Some(a) = roc_auc(&s, &l) {
            let neg: Vec<f32> = s.iter().map(|v| -v).collect();
            let mono: Vec<f32> = s.iter().map(|v| v.exp() * 3.0 - 1.0).collect();
            prop_assert!((a + roc_auc(&neg, &l).unwrap() - 1.0).abs() < 1e-9);
            prop_assert!((a - roc_auc(&mono, &l).unwrap()).abs() < 1e-9);
            prop_assert!((0.0..=1.0).contains(&a));
            // The trapezoid area under the curve is the AUC.
            let pts = roc_curve(&s, &l);
            let area: f64 = pts.windows(2).map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0).sum();
            prop_assert!((area - a).abs() < 1e-9);
        }
    }

    #[test]
    fn best_f1_bounds_every_threshold((s, l) in cases()) {
        if let Some(b) = best_f1(&s, &l) {
            for &t in &s {
                for t in [t, t - 0.25] {
                    prop_assert!(Confusion::at(&s, &l, t).f1() <= b.f1 + 1e-12);
                }
            }
            prop_assert!((Confusion::at(&s, &l, b.threshold).f1() - b.f1).abs() < 1e-12);
            let p = l.iter().filter(|&&x| x).count() as f64 / l.len() as f64;
            prop_assert!(b.f1 >= 2.0 * p / (1.0 + p) - 1e-12, "never below flagging everything");
            let ap = average_precision(&s, &l).unwrap();
            prop_assert!(ap > 0.0 && ap <= 1.0 + 1e-12);
        }
    }

    #[test]
    fn perfect_separation((n_neg, n_pos) in (1usize..20, 1usize..20)) {
        let s: Vec<f32> = (0..n_neg + n_pos).map(|i| i as f32).collect();
        let l: Vec<bool> = (0..n_neg + n_pos).map(|i| i >= n_neg).collect();
        prop_assert_eq!(roc_auc(&s, &l), Some(1.0));
        prop_assert!((average_precision(&s, &l).unwrap() - 1.0).abs() < 1e-12);
        prop_assert_eq!(best_f1(&s, &l).unwrap().f1, 1.0);
    }
}
