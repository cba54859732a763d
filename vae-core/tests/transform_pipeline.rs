//! Front ends and smoothing end to end in `vae-core`: recorded in the model file (and
//! refused when invalid), and the device's `Detector` (typed model, streaming) gives, window
//! by window, exactly what the host computes from the same file (`Transform::apply`,
//! `DynVae`, `Smoother`).

use vae_core::detector::{Detector, Settings};
use vae_core::model_file::{self, Calibration, ModelDesc};
use vae_core::transform::{Features, Smoother, Transform};
use vae_core::{
    Activation, Dense, DenseRef, DynLayers, Error, ModelFile, Normalizer, Outcome, Rng, ScoreConfig,
    ScoreKind, Threshold,
};

const C: usize = 2;
const W: usize = 4;
const N: usize = W * C;
/// Stats: one row of levels, one of spreads.
const X: usize = 2 * C;
const H: usize = 3;
const Z: usize = 2;

struct Weights {
    e: [[f32; X]; H],
    eb: [f32; H],
    mu: [[f32; H]; Z],
    lv: [[f32; H]; Z],
    zb: [f32; Z],
    d: [[f32; Z]; H],
    db: [f32; H],
    o: [[f32; H]; X],
    ob: [f32; X],
    s: [f32; X],
}

fn weights() -> &'static Weights {
    let mut r = Rng::new(42);
    let mut f = |scale: f32| scale * r.normal();
    let w = Weights {
        e: std::array::from_fn(|_| std::array::from_fn(|_| f(0.5))),
        eb: std::array::from_fn(|_| f(0.1)),
        mu: std::array::from_fn(|_| std::array::from_fn(|_| f(0.5))),
        lv: std::array::from_fn(|_| std::array::from_fn(|_| f(0.3))),
        zb: std::array::from_fn(|_| f(0.1)),
        d: std::array::from_fn(|_| std::array::from_fn(|_| f(0.5))),
        db: std::array::from_fn(|_| f(0.1)),
        o: std::array::from_fn(|_| std::array::from_fn(|_| f(0.5))),
        ob: std::array::from_fn(|_| f(0.1)),
        s: std::array::from_fn(|_| f(0.3)),
    };
    Box::leak(Box::new(w))
}

fn try_file(transform: Transform, score: ScoreConfig) -> Result<Vec<u32>, Error> {
    let w = weights();
    let d = |wt: &'static [f32], b: &'static [f32], i: usize, a| DenseRef::new(wt, b, i, a).unwrap();
    let enc = [d(w.e.as_flattened(), &w.eb, X, Activation::Tanh)];
    let dec = [d(w.d.as_flattened(), &w.db, Z, Activation::Tanh)];
    let cal = [Calibration { quantile: 0.995, threshold: 3.0 }];
    let desc = ModelDesc {
        weights: vae_core::weights::Encoding::F32,
        name: "stats",
        seed: 9,
        window: W,
        hop: 1,
        channel_names: &["temp", "flow"],
        norm_mean: &[1.0, -1.0],
        norm_std: &[2.0, 0.5],
        score,
        transform,
        thresholds: &cal,
        alarm: vae_core::AlarmRule::STATIC,
        layers: DynLayers {
            encoder: &enc,
            mu: d(w.mu.as_flattened(), &w.zb, H, Activation::Identity),
            log_var: d(w.lv.as_flattened(), &w.zb, H, Activation::Identity),
            decoder: &dec,
            mean: d(w.o.as_flattened(), &w.ob, H, Activation::Identity),
        },
        log_var: &w.s,
    };
    let mut out = vec![0u8; model_file::encoded_len(&desc)];
    let n = model_file::write(&desc, &mut out)?;
    let mut words = vec![0u32; n.div_ceil(4)];
    bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..n].copy_from_slice(&out[..n]);
    words.push(n as u32); // the length, last
    Ok(words)
}

fn file(transform: Transform, score: ScoreConfig) -> Vec<u32> {
    try_file(transform, score).unwrap()
}

fn bytes(words: &[u32]) -> &[u8] {
    let n = *words.last().unwrap() as usize;
    &bytemuck::cast_slice::<u32, u8>(&words[..words.len() - 1])[..n]
}

fn stats() -> Transform {
    Transform { features: Features::Stats, wandering: 0b01, smoothing: 3 }
}

#[test]
fn the_transform_round_trips_and_sets_the_input_width() {
    let words = file(stats(), ScoreConfig::DETERMINISTIC);
    let f = ModelFile::parse(bytes(&words)).unwrap();
    assert_eq!(f.header().transform, stats());
    assert_eq!(f.header().input_len, X);
    // A raw model of the same network would need X = W * C = 8 inputs: refused by the writer.
    assert_eq!(
        try_file(Transform::Raw, ScoreConfig::DETERMINISTIC),
        Err(Error::SizeMismatch { what: "input width (transform rows x channels)", expected: 8, found: 4 })
    );
    // Wandering channels need a level row: refused for raw windows.
    assert!(matches!(
        try_file(Transform { wandering: 1, ..Transform::new(Features::Raw) }, ScoreConfig::DETERMINISTIC),
        Err(Error::InvalidField { .. })
    ));
}

#[test]
fn invalid_transform_fields_are_refused_by_name() {
    let words = file(stats(), ScoreConfig::DETERMINISTIC);
    let good = bytes(&words).to_vec();
    let fix = |b: &mut Vec<u8>| {
        let n = b.len();
        let crc = model_file::crc32(&b[..n - 4]);
        b[n - 4..].copy_from_slice(&crc.to_le_bytes());
    };
    let parse = |b: &[u8]| {
        let mut w = vec![0u32; b.len().div_ceil(4)];
        bytemuck::cast_slice_mut::<u32, u8>(&mut w)[..b.len()].copy_from_slice(b);
        ModelFile::parse(&bytemuck::cast_slice::<u32, u8>(&w)[..b.len()]).map(|_| ())
    };
    // Byte 37: front end; 42..44: smoothing; 44..52: wandering channels.
    let mut b = good.clone();
    b[37] = 9;
    fix(&mut b);
    assert_eq!(parse(&b), Err(Error::InvalidField { field: "transform", found: 9 }));
    let mut b = good.clone();
    b[42..44].copy_from_slice(&0u16.to_le_bytes());
    fix(&mut b);
    assert_eq!(parse(&b), Err(Error::InvalidField { field: "smoothing", found: 0 }));
    let mut b = good.clone();
    b[42..44].copy_from_slice(&65u16.to_le_bytes());
    fix(&mut b);
    assert_eq!(parse(&b), Err(Error::InvalidField { field: "smoothing", found: 65 }));
    let mut b = good.clone();
    b[44..52].copy_from_slice(&0b100u64.to_le_bytes());
    fix(&mut b);
    assert_eq!(parse(&b), Err(Error::InvalidField { field: "wandering channels", found: 4 }));
    // Demean of the same window needs (W + 1) * C inputs.
    let mut b = good.clone();
    b[37] = Features::Demean.code();
    fix(&mut b);
    assert_eq!(
        parse(&b),
        Err(Error::SizeMismatch { what: "input width (transform rows x channels)", expected: 10, found: 4 })
    );
    // The spectrum of 4 samples has 3 rows: X = 6, not 4.
    let mut b = good.clone();
    b[37] = Features::Spectrum.code();
    fix(&mut b);
    assert!(matches!(parse(&b), Err(Error::SizeMismatch { expected: 6, found: 4, .. })));
    assert!(parse(&good).is_ok());
}

#[test]
fn the_device_detector_equals_the_host_path_window_by_window() {
    for score in [ScoreConfig::DETERMINISTIC, ScoreConfig::new(ScoreKind::Iwae, 4).unwrap()] {
        let words = file(stats(), score);
        let f = ModelFile::parse(bytes(&words)).unwrap();
        let h = f.header();
        let typed: vae_core::Vae<'_, Dense<'_, X, H>, Dense<'_, Z, H>, X, H, Z, H> = f.vae().unwrap();
        // Every setting comes from the file.
        let mut det: Detector<_, C, W, N, X> = Detector::from_file(typed, &f).unwrap();
        // The same settings with raw windows are refused: raw windows of 4 x 2 are 8 inputs.
        let raw_settings = Settings { transform: Transform::Raw, ..Settings::of(&f).unwrap() };
        let raw: Result<Detector<_, C, W, N, X>, _> =
            Detector::new(f.vae::<Dense<'_, X, H>, Dense<'_, Z, H>, X, H, Z, H>().unwrap(), raw_settings);
        assert!(matches!(raw, Err(Error::SizeMismatch { expected: 8, found: 4, .. })));

        // The host: the same file through the run-time-sized model.
        let mut precision = vec![0.0f32; X];
        let dynamic = f.dyn_vae(&mut precision).unwrap();
        let mut work = vec![0.0f32; dynamic.work_len(C)];
        let norm = Normalizer::<C>::new([1.0, -1.0], [2.0, 0.5]).unwrap();
        let mut smoother = Smoother::new(h.transform.smoothing).unwrap();

        let mut rng = Rng::new(5);
        let samples: Vec<[f32; C]> = (0..60)
            .map(|t| {
                let drift = 0.05 * t as f32;
                let mut s = [1.0 + drift + 0.3 * rng.normal(), -1.0 + 0.2 * rng.normal()];
                if t == 20 {
                    s[1] = f32::NAN; // windows 17..=20 are invalid
                }
                if (40..48).contains(&t) {
                    s[1] += 3.0; // a level shift of the flow
                }
                s
            })
            .collect();
        let mut window: Vec<[f32; C]> = Vec::new();
        let (mut reports, mut flagged) = (0, 0);
        for s in &samples {
            let mut n = *s;
            norm.apply(&mut n);
            window.push(n);
            if window.len() > W {
                window.remove(0);
            }
            let Some(ready) = det.push(*s) else { continue };
            let report = det.score(ready);
            // Host path.
            let flat: Vec<f32> = window.iter().flatten().copied().collect();
            let mut x = [0.0f32; X];
            let want = match h.transform.apply(&flat, C, &mut x, &mut [0.0; W]).unwrap() {
                None => dynamic
                    .score(&x, h.score, &mut Rng::for_stream(h.seed, ready.index), &mut work, &mut [0.0; C])
                    .unwrap(),
                Some(o) => o,
            };
            assert_eq!(report.outcome, want, "window {}", ready.index);
            let smoothed = want.score().map(|v| smoother.push(v));
            assert_eq!(report.score, smoothed, "window {}", ready.index);
            reports += 1;
            flagged += usize::from(report.decision == vae_core::Decision::Anomalous);
            if (17..=20).contains(&ready.index) {
                assert!(matches!(report.outcome, Outcome::NonFinite { .. }));
            }
        }
        assert_eq!(reports, 60 - W + 1);
        assert_eq!(det.counters().invalid, 4);
        assert!(flagged > 0, "{score:?}: the flow shift should be flagged");
    }
}

#[test]
fn threshold_is_applied_to_the_smoothed_score() {
    // A smoother of 2 over scores 1, 5: the second decision compares 3 with the threshold.
    let mut s = Smoother::new(2).unwrap();
    let t = Threshold::new(4.0).unwrap();
    assert!(!t.is_exceeded(s.push(1.0)));
    assert!(!t.is_exceeded(s.push(5.0)));
    assert!(t.is_exceeded(s.push(5.0)));
}
