//! A simulated machine, so the toolchain can be tried without any data: two vibration axes
//! (a rotation frequency with harmonics and noise), a temperature that warms up and drifts,
//! and a motor current that follows a slowly varying load. Every slow cycle (load 47 s and
//! 13 s, temperature 60 s) repeats within the default 120 s training stretch, so the test
//! stretch is new data from the same machine, not an extrapolation. A normal stretch is for training;
//! a test stretch that continues it carries injected faults of five kinds.

use crate::atomic;
use crate::error::Error;
use std::f32::consts::TAU;
use std::fmt::Write as _;
use std::path::Path;
use vae_core::Rng;

/// Channel names, in column order.
pub const CHANNELS: [&str; 4] = ["vib_x", "vib_y", "temperature", "current"];

/// A kind of injected fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// One sample of a vibration axis jumps (a knock).
    Spike,
    /// The current steps up and stays there (a jammed load).
    LevelShift,
    /// The rotation frequency changes (a slipping belt).
    FrequencyChange,
    /// The temperature sensor repeats its last value (a stuck sensor).
    StuckSensor,
    /// Vibration noise grows several-fold (a loose mount).
    NoiseBurst,
}

impl FaultKind {
    /// All kinds, in injection order.
    pub const ALL: [FaultKind; 5] = [
        FaultKind::Spike,
        FaultKind::LevelShift,
        FaultKind::FrequencyChange,
        FaultKind::StuckSensor,
        FaultKind::NoiseBurst,
    ];

    /// Name as written to `faults.csv`.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Spike => "spike",
            FaultKind::LevelShift => "level-shift",
            FaultKind::FrequencyChange => "frequency-change",
            FaultKind::StuckSensor => "stuck-sensor",
            FaultKind::NoiseBurst => "noise-burst",
        }
    }

    /// The channel the fault acts on.
    pub fn channel(self) -> &'static str {
        match self {
            FaultKind::Spike => "vib_x",
            FaultKind::LevelShift => "current",
            FaultKind::FrequencyChange => "vib_x",
            FaultKind::StuckSensor => "temperature",
            FaultKind::NoiseBurst => "vib_y",
        }
    }

    fn duration(self, rate: f32) -> usize {
        match self {
            FaultKind::Spike => 1,
            FaultKind::LevelShift => (2.0 * rate) as usize,
            FaultKind::FrequencyChange => (3.0 * rate) as usize,
            FaultKind::StuckSensor => (3.0 * rate) as usize,
            FaultKind::NoiseBurst => (1.5 * rate) as usize,
        }
    }
}

/// One injected fault: rows `start..end` of the test recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// What.
    pub kind: FaultKind,
    /// First affected row of the test recording.
    pub start: usize,
    /// One past the last affected row.
    pub end: usize,
}

/// Parameters of the simulation.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthConfig {
    /// Seed of every random draw.
    pub seed: u64,
    /// Rows of the normal (training) recording.
    pub train_rows: usize,
    /// Rows of the test recording.
    pub test_rows: usize,
    /// Sampling rate in Hz.
    pub rate_hz: f32,
    /// Rotation frequency in Hz.
    pub rotation_hz: f32,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self { seed: 1, train_rows: 12_000, test_rows: 6_000, rate_hz: 100.0, rotation_hz: 7.0 }
    }
}

/// The generated recordings.
#[derive(Clone, Debug)]
pub struct Synth {
    /// Normal operation, row-major `rows x 4`.
    pub train: Vec<[f32; 4]>,
    /// The continuation with faults.
    pub test: Vec<[f32; 4]>,
    /// Per test row: inside a fault.
    pub labels: Vec<bool>,
    /// The faults injected into `test`.
    pub faults: Vec<Fault>,
}

/// Simulates `cfg.train_rows + cfg.test_rows` samples and injects one fault of each kind,
/// evenly spaced, into the test stretch.
pub fn generate(cfg: &SynthConfig) -> Synth {
    let mut rng = Rng::new(cfg.seed);
    let n = cfg.train_rows + cfg.test_rows;
    let dt = 1.0 / cfg.rate_hz;
    let gap = cfg.test_rows / (FaultKind::ALL.len() + 1);
    let faults: Vec<Fault> = FaultKind::ALL
        .iter()
        .enumerate()
        .map(|(i, &kind)| {
            // At most 3/4 of the spacing, so faults never overlap in a short test stretch.
            let duration = kind.duration(cfg.rate_hz).min(gap * 3 / 4).max(1);
            let start = (i + 1) * gap - duration / 2;
            Fault { kind, start, end: (start + duration).min(cfg.test_rows) }
        })
        .collect();
    let active = |row: usize, kind: FaultKind| {
        row >= cfg.train_rows
            && faults.iter().any(|f| f.kind == kind && (f.start..f.end).contains(&(row - cfg.train_rows)))
    };
    let (mut phase, mut out) = (0.0f32, Vec::with_capacity(n));
    let mut last_temp = 0.0f32;
    for row in 0..n {
        let t = row as f32 * dt;
        // Slowly varying load (minutes) and the machine's response to it.
        let load = 0.6 + 0.25 * (TAU * t / 47.0).sin() + 0.1 * (TAU * t / 13.0).sin();
        let freq = cfg.rotation_hz
            * (0.97 + 0.06 * load)
            * if active(row, FaultKind::FrequencyChange) { 1.6 } else { 1.0 };
        phase = (phase + TAU * freq * dt) % TAU;
        let amp = 0.5 + 0.5 * load;
        let burst = if active(row, FaultKind::NoiseBurst) { 6.0 } else { 1.0 };
        let mut vib_x = amp
            * (phase.sin() + 0.45 * (2.0 * phase + 0.3).sin() + 0.2 * (3.0 * phase + 1.1).sin())
            + 0.08 * rng.normal();
        let vib_y =
            amp * (0.8 * (phase + 1.2).sin() + 0.3 * (2.0 * phase + 2.0).sin()) + 0.08 * burst * rng.normal();
        if active(row, FaultKind::Spike) {
            vib_x += 4.0;
        }
        let warm_up = 1.0 - (-t / 8.0).exp();
        let mut temp =
            35.0 + 12.0 * warm_up + 2.0 * load + 0.8 * (TAU * t / 60.0).sin() + 0.05 * rng.normal();
        if active(row, FaultKind::StuckSensor) {
            temp = last_temp;
        }
        last_temp = temp;
        let shift = if active(row, FaultKind::LevelShift) { 1.5 } else { 0.0 };
        let current = 4.0 + 3.0 * load + 0.15 * amp * phase.sin().abs() + shift + 0.05 * rng.normal();
        out.push([vib_x, vib_y, temp, current]);
    }
    let test = out.split_off(cfg.train_rows);
    let labels = (0..cfg.test_rows).map(|r| faults.iter().any(|f| (f.start..f.end).contains(&r))).collect();
    Synth { train: out, test, labels, faults }
}

fn csv(rows: &[[f32; 4]], labels: Option<&[bool]>, rate: f32, t0: usize) -> String {
    let mut s = String::from("time,vib_x,vib_y,temperature,current");
    if labels.is_some() {
        s.push_str(",anomaly");
    }
    s.push('\n');
    for (i, r) in rows.iter().enumerate() {
        let _ = write!(s, "{:.2},{},{},{},{}", (t0 + i) as f32 / rate, r[0], r[1], r[2], r[3]);
        if let Some(l) = labels {
            let _ = write!(s, ",{}", u8::from(l.get(i).copied().unwrap_or(false)));
        }
        s.push('\n');
    }
    s
}

/// The files [`write()`] writes into its directory.
pub const FILES: [&str; 3] = ["train.csv", "test.csv", "faults.csv"];

/// Writes `train.csv` (normal), `test.csv` (with an `anomaly` 0/1 column) and `faults.csv`
/// (`kind,channel,start_row,end_row` of the test recording) into `dir`, atomically.
pub fn write(dir: &Path, cfg: &SynthConfig, s: &Synth) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let [train, test, faults] = FILES;
    let files = [
        (train, csv(&s.train, None, cfg.rate_hz, 0)),
        (test, csv(&s.test, Some(&s.labels), cfg.rate_hz, cfg.train_rows)),
        (faults, {
            let mut f = String::from("kind,channel,start_row,end_row\n");
            for x in &s.faults {
                let _ = writeln!(f, "{},{},{},{}", x.kind.name(), x.kind.channel(), x.start, x.end);
            }
            f
        }),
    ];
    for (name, text) in files {
        let p = dir.join(name);
        atomic::write(&p, text.as_bytes()).map_err(|e| Error::io(&p, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_faults_inside_the_test_stretch() {
        let cfg = SynthConfig { train_rows: 3000, test_rows: 1200, ..Default::default() };
        let a = generate(&cfg);
        let b = generate(&cfg);
        assert_eq!(a.train, b.train);
        assert_eq!(a.faults.len(), 5);
        assert_eq!(a.test.len(), 1200);
        for f in &a.faults {
            assert!(f.start < f.end && f.end <= 1200, "{f:?}");
        }
        assert_eq!(
            a.labels.iter().filter(|l| **l).count(),
            a.faults.iter().map(|f| f.end - f.start).sum::<usize>()
        );
        // The stuck sensor repeats one value.
        let f = a.faults.iter().find(|f| f.kind == FaultKind::StuckSensor).unwrap();
        assert!(a.test[f.start..f.end].windows(2).all(|w| w[0][2] == w[1][2]));
        assert!(a.train.iter().flatten().all(|v| v.is_finite()));
    }
}
