//! The firmware under hostile conditions, in QEMU:
//!
//! * a corrupted, truncated, mismatched (other sizes or another transform) or uncalibrated model in flash (embedded past the
//!   build-time check with `VAE_EMBED_UNCHECKED`) is refused at boot: one
//!   `model refused, not scoring: ...` line, exit status 1, no window scored, no panic;
//! * a long replay (250,000 samples) with stretches of NaN, infinities, empty cells,
//!   numbers beyond f32, constant and zero signals and extreme finite values (1e30, 3.4e38)
//!   runs to the end without a panic or a stuck state: every window is reported once, in
//!   order; windows with NaN/Inf samples are invalid, windows with extreme finite samples
//!   overflow and are flagged anomalous (never invalid), on the device as on the host, and
//!   the counters say so; every window after a bad stretch is scored again, with the host's
//!   score to 1e-5;
//! * a single `f32::MAX` sample (3.4028235e38, a common sentinel) on a channel whose training
//!   std is below 1 is an anomaly, not a NaN/Inf: `vae-train score` and the device both flag
//!   its windows as overflowed, and count no invalid window and no non-finite value for it.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use vae_e2e::device::{parse_summary, parse_window, read_host_scores, DeviceWindow, HostWindow};
use vae_e2e::qemu;

/// Firmware builds share one target directory and an environment variable: one at a time,
/// each image copied out before the next build replaces it.
static BUILD: Mutex<()> = Mutex::new(());

fn cli(args: &[&str]) {
    vae_e2e::vae_train(args).unwrap_or_else(|e| panic!("{e}"));
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const WINDOW: usize = 16;
const HOP: usize = 8;

/// A model trained briefly on the simulated machine's `train.csv` in `dir` (4 channels,
/// window 16, hop 8, encoder hidden widths `hidden`).
fn train(dir: &Path, name: &str, hidden: &str) -> PathBuf {
    let model = dir.join(name);
    let (train, w, h) = (dir.join("train.csv"), WINDOW.to_string(), HOP.to_string());
    let mut args =
        vec!["fit", "--no-auto", "--data", s(&train), "--window", &w, "--hop", &h, "--hidden", hidden];
    args.extend(["--latent", "8", "--epochs", "6", "--quiet", "--out", s(&model)]);
    cli(&args);
    model
}

/// What both tests use: a directory (under the target directory, remade by every run) with
/// the simulated recording and a trained model.
struct Fixture {
    dir: PathBuf,
    model: PathBuf,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = target_dir().join("fixture");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        cli(&["synth", "--out", s(&dir), "--train-rows", "4000", "--test-rows", "60", "--seed", "11"]);
        let model = train(&dir, "good.vaem", "32");
        Fixture { dir, model }
    })
}

fn target_dir() -> PathBuf {
    qemu::workspace_root().join("target").join("e2e-reliability")
}

/// Builds the firmware for `model`, embedding `unchecked`'s bytes instead when given, and
/// returns a private copy of the image.
fn firmware(model: &Path, unchecked: Option<&Path>, out: &Path) -> PathBuf {
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    match unchecked {
        Some(p) => std::env::set_var("VAE_EMBED_UNCHECKED", p),
        None => std::env::remove_var("VAE_EMBED_UNCHECKED"),
    }
    let built = qemu::Build {
        model: Some(model.to_path_buf()),
        target_dir: Some(target_dir()),
        ..Default::default()
    }
    .run("firmware");
    std::env::remove_var("VAE_EMBED_UNCHECKED");
    let elf = built.unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(&elf, out).unwrap_or_else(|e| panic!("{}: {e}", elf.display()));
    out.to_path_buf()
}

fn assert_no_panic(run: &qemu::Run) {
    assert_ne!(run.status, 101, "the firmware panicked:\n{}", run.lines.join("\n"));
    for l in &run.lines {
        assert!(!l.contains("panic"), "panic line: {l}");
    }
}

#[test]
fn a_bad_model_in_flash_is_refused_at_boot_not_scored_and_no_panic() {
    let (dir, model) = (tempfile::tempdir().unwrap(), &fixture().model);
    let good = std::fs::read(model).unwrap();
    let other = train(&fixture().dir, "other.vaem", "24");
    let m = vae_train::OwnedModel::from_bytes(&good).unwrap();
    let mut uncalibrated = m.clone();
    uncalibrated.thresholds.clear();
    uncalibrated.alarm = vae_core::AlarmRule::STATIC;
    // Same sizes, another smoothing: the front end compiled into the image differs.
    let mut retransformed = m.clone();
    retransformed.meta.transform.smoothing = m.meta.transform.smoothing % 4 + 2;
    // Same sizes and transform, a sampled score: the image was built without the sampler.
    let mut rescored = m.clone();
    rescored.meta.score = vae_core::ScoreConfig::new(vae_core::ScoreKind::Iwae, 4).unwrap();
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x01;

    let csv = fixture().dir.join("train.csv");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("flipped", flipped, "Checksum"),
        ("truncated", good[..good.len() / 2].to_vec(), "LengthMismatch"),
        ("mismatched", std::fs::read(&other).unwrap(), "LayerShape"),
        // The device names the kind; which field, the build's check (vae_build) says.
        ("uncalibrated", uncalibrated.to_bytes().unwrap(), "InvalidField"),
        ("retransformed", retransformed.to_bytes().unwrap(), "InvalidField"),
        ("rescored", rescored.to_bytes().unwrap(), "InvalidField"),
    ];
    for (name, bytes, expected) in cases {
        let bad = dir.path().join(format!("{name}.vaem"));
        std::fs::write(&bad, bytes).unwrap();
        let elf = firmware(model, Some(&bad), &dir.path().join(format!("{name}.elf")));
        let run =
            qemu::run(&elf, &[s(&csv)], Duration::from_secs(60)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let log = run.lines.join("\n");
        assert_no_panic(&run);
        assert_eq!(run.status, 1, "{name}: exit status; log:\n{log}");
        let refused: Vec<&String> =
            run.lines.iter().filter(|l| l.contains("model refused, not scoring:")).collect();
        assert_eq!(refused.len(), 1, "{name}: log:\n{log}");
        assert!(refused[0].contains(expected), "{name}: `{expected}` not in {}", refused[0]);
        eprintln!("{name}: {}", refused[0]);
        assert!(
            run.lines.iter().all(|l| parse_window(l).is_none() && parse_summary(l).is_none()),
            "{name} scored:\n{log}"
        );
    }
}

/// What a stretch of the hostile replay holds.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    /// NaN, infinities, empty cells, 1e39: the device counts them as non-finite.
    NonFinite,
    /// Finite values far beyond any training data: the score overflows, the window is
    /// anomalous (never invalid: no sample is NaN/Inf).
    Extreme,
    /// Plausible but flat signals: scored.
    Flat,
}

struct Stretch {
    rows: std::ops::Range<usize>,
    kind: Kind,
    /// The cell text for (row offset, channel), or `None` to keep the recording's.
    cell: fn(usize, usize) -> Option<String>,
}

const ROWS: usize = 250_000;

fn stretches() -> Vec<Stretch> {
    vec![
        Stretch { rows: 10_000..10_050, kind: Kind::NonFinite, cell: |_, c| (c == 0).then(|| "NaN".into()) },
        Stretch {
            rows: 20_000..20_010,
            kind: Kind::NonFinite,
            cell: |r, c| (c == 3).then(|| if r % 2 == 0 { "inf".into() } else { "-inf".into() }),
        },
        Stretch { rows: 30_000..30_020, kind: Kind::NonFinite, cell: |_, c| (c == 1).then(String::new) },
        Stretch { rows: 35_000..35_003, kind: Kind::NonFinite, cell: |_, c| (c == 2).then(|| "1e39".into()) },
        Stretch {
            rows: 40_000..42_000,
            kind: Kind::Flat,
            cell: |_, c| Some(["0.1", "-0.1", "40", "2"][c].into()),
        },
        Stretch {
            rows: 50_000..50_100,
            kind: Kind::Extreme,
            cell: |r, c| (c == 2).then(|| if r % 2 == 0 { "1e30".into() } else { "-1e30".into() }),
        },
        Stretch { rows: 60_000..60_050, kind: Kind::Extreme, cell: |_, _| Some("3.4e38".into()) },
        Stretch {
            rows: 70_000..70_001,
            kind: Kind::Extreme,
            cell: |_, c| (c == 0).then(|| "-3.4e38".into()),
        },
        // f32::MAX and its negative, one sample each, on channels whose training std is below
        // 1: their normalised values used to overflow to infinity, and the windows were
        // reported invalid (NaN/Inf) with `non_finite_values` unchanged.
        Stretch {
            rows: 80_000..80_001,
            kind: Kind::Extreme,
            cell: |_, c| (c == 1).then(|| "3.4028235e38".into()),
        },
        Stretch {
            rows: 85_003..85_004,
            kind: Kind::Extreme,
            cell: |_, c| (c == 3).then(|| "-3.4028235e38".into()),
        },
        Stretch { rows: 90_000..95_000, kind: Kind::Flat, cell: |_, _| Some("0".into()) },
        Stretch {
            rows: 100_000..100_400,
            kind: Kind::NonFinite,
            cell: |r, c| match (r % 4, c) {
                (0, 0) => Some("nan".into()),
                (1, _) => Some("-inf".into()),
                (2, 3) => Some("1e30".into()),
                _ => None,
            },
        },
        // Long stretches: a dead sensor, then a saturated one.
        Stretch {
            rows: 200_000..202_000,
            kind: Kind::NonFinite,
            cell: |_, c| (c == 1).then(|| "NaN".into()),
        },
        Stretch {
            rows: 220_000..221_000,
            kind: Kind::Extreme,
            cell: |r, c| (c == 3).then(|| if r % 3 == 0 { "-3.4e38".into() } else { "3.4e38".into() }),
        },
    ]
}

/// The simulated machine's recording, `ROWS` rows, with the stretches written in; returns
/// the CSV path and the number of non-finite cells written.
fn hostile_csv(dir: &Path) -> (PathBuf, u64) {
    let src = dir.join("long");
    cli(&[
        "synth",
        "--out",
        s(&src),
        "--train-rows",
        "100",
        "--test-rows",
        &ROWS.to_string(),
        "--seed",
        "12",
    ]);
    let text = std::fs::read_to_string(src.join("test.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let channels: Vec<usize> = ["vib_x", "vib_y", "temperature", "current"]
        .iter()
        .map(|c| header.iter().position(|h| h == c).unwrap_or_else(|| panic!("no column {c}")))
        .collect();
    assert_eq!(lines.len(), ROWS + 1);
    let mut non_finite = 0;
    for st in stretches() {
        for row in st.rows.clone() {
            let mut f: Vec<String> = lines[row + 1].split(',').map(str::to_string).collect();
            for (c, &col) in channels.iter().enumerate() {
                if let Some(v) = (st.cell)(row - st.rows.start, c) {
                    let parsed = v.parse::<f32>().unwrap_or(f32::NAN);
                    non_finite += u64::from(!parsed.is_finite());
                    f[col] = v;
                }
            }
            lines[row + 1] = f.join(",");
        }
    }
    let path = dir.join("hostile.csv");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    (path, non_finite)
}

/// Host scores of the same file (NaN kept, as on the device), in window order.
fn host_scores(model: &Path, csv: &Path, dir: &Path) -> Vec<HostWindow> {
    let out = dir.join("host.csv");
    cli(&["score", "--model", s(model), "--data", s(csv), "--out", s(&out)]);
    read_host_scores(&std::fs::read_to_string(&out).unwrap()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_long_hostile_replay_runs_to_the_end_and_scoring_recovers_after_every_bad_stretch() {
    let (dir, model) = (tempfile::tempdir().unwrap(), &fixture().model);
    let (csv, non_finite) = hostile_csv(dir.path());
    let elf = firmware(model, None, &dir.path().join("good.elf"));
    let started = Instant::now();
    let run = qemu::run(&elf, &[s(&csv)], Duration::from_secs(400)).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("QEMU replay of {ROWS} samples: {:.1} s", started.elapsed().as_secs_f64());
    assert_no_panic(&run);
    assert_eq!(
        run.status,
        0,
        "exit status; log tail:\n{}",
        run.lines[run.lines.len().saturating_sub(20)..].join("\n")
    );
    let windows: Vec<DeviceWindow> = run.lines.iter().filter_map(|l| parse_window(l)).collect();
    let summary = run.lines.iter().find_map(|l| parse_summary(l)).expect("summary line");

    // Every window once, in order, and the counters agree.
    let expected_windows = (ROWS - WINDOW) / HOP + 1;
    assert_eq!(windows.len(), expected_windows);
    for (i, w) in windows.iter().enumerate() {
        assert_eq!((w.index, w.start), (i as u64, (i * HOP) as u64), "window order");
    }
    assert_eq!(summary.samples, ROWS as u64);
    assert_eq!(summary.windows, expected_windows as u64);
    assert_eq!(summary.non_finite_values, non_finite);
    assert_eq!(summary.scored + summary.invalid, summary.windows);
    let invalid = windows.iter().filter(|w| w.decision == "Invalid").count() as u64;
    assert_eq!(summary.invalid, invalid);
    assert_eq!(summary.anomalous, windows.iter().filter(|w| w.decision == "Anomalous").count() as u64);

    let host = host_scores(model, &csv, dir.path());
    assert_eq!(host.len(), windows.len());
    let sts = stretches();
    let overlaps = |w: &DeviceWindow, st: &Stretch| {
        let (a, b) = (w.start as usize, w.start as usize + WINDOW);
        a < st.rows.end && st.rows.start < b
    };
    let (mut clean, mut over_non_finite, mut over_extreme) = (0, 0u64, 0u64);
    for (w, h) in windows.iter().zip(&host) {
        assert_eq!(w.start, h.start);
        let kinds: Vec<Kind> = sts.iter().filter(|st| overlaps(w, st)).map(|st| st.kind).collect();
        if kinds.contains(&Kind::NonFinite) {
            assert_eq!(w.decision, "Invalid", "window {} over non-finite samples", w.index);
            assert_eq!((h.score, h.anomalous.as_str()), (None, "invalid"), "host window {}", w.index);
            over_non_finite += 1;
        } else if kinds.contains(&Kind::Extreme) {
            // Every sample finite: an overflowed score and an anomaly, on both sides.
            assert_eq!(
                (w.score, w.decision.as_str()),
                (Some(f32::INFINITY), "Anomalous"),
                "window {} at {} over extreme finite samples",
                w.index,
                w.start
            );
            assert_eq!(
                (h.score, h.anomalous.as_str()),
                (Some(f32::INFINITY), "yes"),
                "host window {} at {} over extreme finite samples",
                w.index,
                w.start
            );
            over_extreme += 1;
        } else {
            // Clean or flat: scored, finite, and the host's score (no state left over from an
            // earlier bad stretch).
            let ds = w.score.unwrap_or_else(|| panic!("window {} not scored: {w:?}", w.index));
            let hs = h.score.unwrap_or_else(|| panic!("window {}: host did not score it", w.index));
            assert!(ds.is_finite(), "window {}: {ds}", w.index);
            let rel = (ds - hs).abs() / hs.abs().max(1.0);
            assert!(rel <= 1e-5, "window {} at {}: device {ds}, host {hs}", w.index, w.start);
            clean += 1;
        }
    }
    assert!(clean > expected_windows * 9 / 10, "{clean} clean windows");
    // The counters tell the truth: invalid windows are exactly those with NaN/Inf samples,
    // and every window over extreme finite samples is among the anomalous ones.
    assert_eq!(summary.invalid, over_non_finite);
    assert!(summary.anomalous >= over_extreme, "{} anomalous, {over_extreme} extreme", summary.anomalous);
    assert_eq!(host.iter().filter(|h| h.anomalous == "invalid").count() as u64, over_non_finite);
    // Recovery: the first window wholly after each stretch is scored.
    for st in &sts {
        let first = st.rows.end.div_ceil(HOP);
        let w = &windows[first];
        assert!(w.start as usize >= st.rows.end);
        assert!(w.score.is_some_and(f32::is_finite), "no recovery after {:?}: {w:?}", st.rows);
    }
}

/// Found by a hostile test pass: a window holding one sample of `f32::MAX` (3.4028235e38, a
/// common sentinel) was reported `invalid (NaN/Inf)` and never flagged, by `vae-train score`
/// and by the device (whose summary then said `non_finite_values=0`): normalising it by a
/// std below 1 overflowed to infinity, and the scorer took it for a NaN/Inf sample. A
/// finite window whose score overflows is an anomaly. Host first (no QEMU), then the device
/// on the same file: both flag the windows of the spike as overflowed, count only the real
/// NaN as non-finite, and agree window by window.
#[test]
fn a_single_f32_max_sample_is_flagged_as_an_anomaly_on_the_host_and_on_the_device() {
    let (dir, model) = (tempfile::tempdir().unwrap(), &fixture().model);
    let m = vae_train::OwnedModel::load(model).unwrap();
    let channels = ["vib_x", "vib_y", "temperature", "current"];
    let spiked = channels
        .iter()
        .position(|c| {
            let i = m.meta.channels.iter().position(|n| n == c).unwrap();
            m.meta.norm_std[i] < 1.0
        })
        .expect("a channel with a training std below 1");
    let text = std::fs::read_to_string(fixture().dir.join("test.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let col = |c: &str| header.iter().position(|h| h == &c).unwrap_or_else(|| panic!("no column {c}"));
    let (spike_col, nan_col) = (col(channels[spiked]), col("temperature"));
    // Rows 0..60: windows start at 0, 8, ..., 40. The spike at row 30 is in the windows at
    // 16 and 24; the NaN at row 2 in the window at 0 only.
    let (spike_row, nan_row) = (30usize, 2usize);
    for (row, c, v) in [(spike_row, spike_col, "3.4028235e38"), (nan_row, nan_col, "NaN")] {
        let mut f: Vec<String> = lines[row + 1].split(',').map(str::to_string).collect();
        f[c] = v.into();
        lines[row + 1] = f.join(",");
    }
    assert_eq!("3.4028235e38".parse::<f32>().unwrap(), f32::MAX);
    let csv = dir.path().join("spike.csv");
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();
    let rows = lines.len() - 1;
    let spiked_window = |start: u64| (start as usize..start as usize + WINDOW).contains(&spike_row);
    let nan_window = |start: u64| (start as usize..start as usize + WINDOW).contains(&nan_row);

    // The host: `vae-train score`.
    let host = host_scores(model, &csv, dir.path());
    assert_eq!(host.len(), (rows - WINDOW) / HOP + 1);
    assert_eq!(host.iter().filter(|h| spiked_window(h.start)).count(), 2);
    for h in &host {
        let what = format!("host window {} at {}: {h:?}", h.index, h.start);
        if nan_window(h.start) {
            assert_eq!((h.score, h.anomalous.as_str()), (None, "invalid"), "{what}");
        } else if spiked_window(h.start) {
            assert_eq!((h.score, h.anomalous.as_str()), (Some(f32::INFINITY), "yes"), "{what}");
        } else {
            assert!(h.score.is_some_and(f32::is_finite), "{what}");
        }
    }

    // The device, on the same file.
    let elf = firmware(model, None, &dir.path().join("spike.elf"));
    let run = qemu::run(&elf, &[s(&csv)], Duration::from_secs(60)).unwrap_or_else(|e| panic!("{e}"));
    assert_no_panic(&run);
    assert_eq!(run.status, 0, "{}", run.lines.join("\n"));
    let windows: Vec<DeviceWindow> = run.lines.iter().filter_map(|l| parse_window(l)).collect();
    let summary = run.lines.iter().find_map(|l| parse_summary(l)).expect("summary line");
    assert_eq!(windows.len(), host.len());
    for (w, h) in windows.iter().zip(&host) {
        assert_eq!(w.start, h.start);
        let what = format!("device window {} at {}: {w:?}", w.index, w.start);
        if nan_window(w.start) {
            assert_eq!((w.score, w.decision.as_str()), (None, "Invalid"), "{what}");
        } else if spiked_window(w.start) {
            assert_eq!((w.score, w.decision.as_str()), (Some(f32::INFINITY), "Anomalous"), "{what}");
        } else {
            let (ds, hs) = (w.score.unwrap(), h.score.unwrap());
            assert!((ds - hs).abs() <= 1e-5 * hs.abs().max(1.0), "{what}: host {hs}");
            assert_eq!(w.decision == "Anomalous", h.anomalous == "yes", "{what}: host {h:?}");
        }
    }
    // The counters: one NaN sample, one invalid window; the spike is neither.
    assert_eq!(
        (summary.samples, summary.windows, summary.non_finite_values, summary.invalid),
        (rows as u64, host.len() as u64, 1, 1),
        "{summary:?}"
    );
    assert_eq!(summary.scored, host.len() as u64 - 1);
    let anomalous = windows.iter().filter(|w| w.decision == "Anomalous").count() as u64;
    assert!(summary.anomalous >= 2 && summary.anomalous == anomalous, "{summary:?}");
}

/// A model file for a 32-bit reader: the model `C = 1`, `W = X = 65535`, encoder 65535 wide,
/// `Z = 1`, decoder 1 wide, whose true parameter count (4,295,229,441) exceeds `u32`; the file
/// declares that count modulo 2^32 (262,145) and holds that many parameters, with a valid
/// length and CRC. Built by patching a small file from `vae-core`'s writer, so it follows
/// the format's field offsets.
fn wrapping_model(dir: &Path) -> PathBuf {
    use vae_core::model_file::{Calibration, Transform, FIXED_HEADER_LEN};
    use vae_core::{Activation, ScoreConfig};
    use vae_train::model::{Layer, ModelMeta, Network, OwnedModel};
    let (w, h) = (5usize, 3usize);
    let small = OwnedModel {
        meta: ModelMeta {
            weights: vae_core::weights::Encoding::F32,
            name: String::new(),
            seed: 0,
            window: w,
            hop: 1,
            channels: vec!["vib_x".into()],
            norm_mean: vec![0.0],
            norm_std: vec![1.0],
            score: ScoreConfig::DETERMINISTIC,
            transform: Transform::Raw,
        },
        net: Network {
            encoder: vec![Layer::zeros(w, h, Activation::Tanh)],
            mu: Layer::zeros(h, 1, Activation::Identity),
            log_var: Layer::zeros(h, 1, Activation::Identity),
            decoder: vec![Layer::zeros(1, 1, Activation::Tanh)],
            mean: Layer::zeros(1, w, Activation::Identity),
            decoder_log_var: vec![0.0; w],
        },
        thresholds: vec![Calibration { quantile: 0.99, threshold: 1.0 }],
        alarm: vae_core::AlarmRule::STATIC,
    };
    let mut bytes = small.to_bytes().unwrap();
    let (x, big) = (65_535u64, 65_535u64);
    let count = 2 + x + (x * big + big) + 2 * (big + 1) + 2 + (x + x);
    let declared = (count % (1 << 32)) as u32;
    let header_len = usize::from(u16::from_le_bytes([bytes[6], bytes[7]]));
    bytes.truncate(header_len);
    let put16 = |b: &mut Vec<u8>, at: usize, v: u16| b[at..at + 2].copy_from_slice(&v.to_le_bytes());
    put16(&mut bytes, 24, x as u16); // input width X
    put16(&mut bytes, 30, x as u16); // window W
                                     // Layer descriptors: encoder hidden (X -> 65535), then mu, log-variance, decoder, output.
    put16(&mut bytes, FIXED_HEADER_LEN, big as u16);
    put16(&mut bytes, FIXED_HEADER_LEN + 16, x as u16);
    bytes[12..16].copy_from_slice(&declared.to_le_bytes());
    for _ in 0..declared {
        bytes.extend_from_slice(&1.0f32.to_le_bytes());
    }
    let len = bytes.len() as u32 + 4;
    bytes[8..12].copy_from_slice(&len.to_le_bytes());
    let crc = vae_core::model_file::crc32(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    let path = dir.join("wrapping.vaem");
    std::fs::write(&path, &bytes).unwrap();
    path
}

/// On the 64-bit host the reader refuses the wrapping count at once.
#[test]
fn a_parameter_count_beyond_u32_is_refused_on_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(wrapping_model(dir.path())).unwrap();
    let aligned = vae_train::model::AlignedBytes::new(&bytes);
    match vae_core::ModelFile::parse(aligned.bytes()) {
        Err(vae_core::Error::SizeMismatch { what: "parameter count", expected, found }) => {
            assert_eq!((expected, found), (4_295_229_441, 262_145));
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
}

/// Found reviewing the reader for the device's 32-bit `usize` (the fuzzer runs on a 64-bit
/// host, where the sums cannot wrap): `ModelFile::parse` summed the expected parameter count
/// in `usize` without overflow checks, so on the device the count above wrapped to the
/// declared one and passed; the parameter check then walked about 4.3e9 weights before the
/// typed loader refused the shapes (30 s in QEMU, minutes on a real Cortex-M4: a boot that
/// seems to hang). Fixed in 0307dd3 (checked sums); the reader now refuses it at once.
#[test]
fn a_parameter_count_that_wraps_on_the_device_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let crafted = wrapping_model(dir.path());
    let elf = firmware(&fixture().model, Some(&crafted), &dir.path().join("wrapping.elf"));
    let csv = fixture().dir.join("train.csv");
    let run = qemu::run(&elf, &[s(&csv)], Duration::from_secs(10)).unwrap_or_else(|e| panic!("{e}"));
    assert_no_panic(&run);
    assert_eq!(run.status, 1, "{}", run.lines.join("\n"));
    let refused = run.lines.iter().find(|l| l.contains("model refused, not scoring:")).expect("refusal");
    assert!(refused.contains("InvalidField"), "{refused}");
}
