//! The firmware under hostile conditions, in QEMU:
//!
//! * a corrupted, truncated, mismatched or uncalibrated model in flash (embedded past the
//!   build-time check with `VAE_EMBED_UNCHECKED`) is refused at boot: one
//!   `model refused, not scoring: ...` line, exit status 1, no window scored, no panic;
//! * a long replay (250,000 samples) with stretches of NaN, infinities, empty cells,
//!   numbers beyond f32, constant and zero signals and extreme finite values (1e30, 3.4e38)
//!   runs to the end without a panic or a stuck state: every window is reported once, in
//!   order; windows with bad samples are invalid or anomalous, never normal; every window
//!   after a bad stretch is scored again, with the host's score to 1e-5.

use clap::Parser;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use vae_e2e::device::{parse_summary, parse_window, DeviceWindow};
use vae_e2e::qemu;

/// Firmware builds share one target directory and an environment variable: one at a time,
/// each image copied out before the next build replaces it.
static BUILD: Mutex<()> = Mutex::new(());

fn cli(args: &[&str]) {
    let mut full = vec!["vae-train"];
    full.extend_from_slice(args);
    let cli = vae_train::cli::Cli::try_parse_from(&full).unwrap_or_else(|e| panic!("{e}"));
    vae_train::cli::run(cli).unwrap_or_else(|e| panic!("vae-train {}: {e}", args.join(" ")));
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
    let mut args = vec!["fit", "--data", s(&train), "--window", &w, "--hop", &h, "--hidden", hidden];
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
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x01;

    let csv = fixture().dir.join("train.csv");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("flipped", flipped, "Checksum"),
        ("truncated", good[..good.len() / 2].to_vec(), "LengthMismatch"),
        ("mismatched", std::fs::read(&other).unwrap(), "LayerShape"),
        ("uncalibrated", uncalibrated.to_bytes().unwrap(), "threshold count"),
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
    /// Finite values far beyond any training data: never a normal window.
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

/// Host scores of the same file (NaN kept, as on the device), by window start.
fn host_scores(model: &Path, csv: &Path, dir: &Path) -> Vec<(u64, Option<f32>)> {
    let out = dir.join("host.csv");
    cli(&["score", "--model", s(model), "--data", s(csv), "--out", s(&out)]);
    std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[2].parse().unwrap(), f[3].parse::<f32>().ok().filter(|v| v.is_finite()))
        })
        .collect()
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
    let mut clean = 0;
    for (w, (start, hs)) in windows.iter().zip(&host) {
        assert_eq!(w.start, *start);
        let kinds: Vec<Kind> = sts.iter().filter(|st| overlaps(w, st)).map(|st| st.kind).collect();
        if kinds.contains(&Kind::NonFinite) {
            assert_eq!(w.decision, "Invalid", "window {} over non-finite samples", w.index);
        } else if kinds.contains(&Kind::Extreme) {
            assert_ne!(w.decision, "Normal", "window {} over extreme samples", w.index);
        } else {
            // Clean or flat: scored, finite, and the host's score (no state left over from an
            // earlier bad stretch).
            let ds = w.score.unwrap_or_else(|| panic!("window {} not scored: {w:?}", w.index));
            let hs = hs.unwrap_or_else(|| panic!("window {}: host did not score it", w.index));
            assert!(ds.is_finite(), "window {}: {ds}", w.index);
            let rel = (ds - hs).abs() / hs.abs().max(1.0);
            assert!(rel <= 1e-5, "window {} at {}: device {ds}, host {hs}", w.index, w.start);
            clean += 1;
        }
    }
    assert!(clean > expected_windows * 9 / 10, "{clean} clean windows");
    // Recovery: the first window wholly after each stretch is scored.
    for st in &sts {
        let first = st.rows.end.div_ceil(HOP);
        let w = &windows[first];
        assert!(w.start as usize >= st.rows.end);
        assert!(w.score.is_some_and(f32::is_finite), "no recovery after {:?}: {w:?}", st.rows);
    }
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
    assert!(refused.contains("parameter count"), "{refused}");
}
