//! `cargo xtask demo`: from a fresh clone to scores on an emulated device, with no data.
//!
//! 1. simulate a machine (`vae-train synth`): a normal stretch and a test stretch with five
//!    injected faults;
//! 2. train and calibrate a model on the normal stretch (`vae-train fit`, spectrum front end);
//! 3. score the test stretch on the host (`vae-train score`);
//! 4. build the firmware with that model and replay the test stretch in QEMU;
//! 5. print, per fault, whether host and device flagged it, and how closely their scores agree;
//! 6. write the evaluation report with plots (`vae-train eval --report`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use vae_e2e::device::{parse_summary, parse_window, read_host_scores, DeviceWindow, HostWindow};
use vae_e2e::qemu;

/// Settings of a demo run.
#[derive(Clone, Debug)]
pub struct Demo {
    /// Where everything is written.
    pub out: PathBuf,
    /// Rows of the normal recording.
    pub train_rows: usize,
    /// Rows of the test recording.
    pub test_rows: usize,
    /// Training epochs (early stopping may end sooner).
    pub epochs: usize,
    /// Show the training progress bar.
    pub progress: bool,
}

impl Default for Demo {
    fn default() -> Self {
        Self {
            out: qemu::workspace_root().join("target").join("demo"),
            train_rows: 12_000,
            test_rows: 6_000,
            epochs: vae_train::train::DEFAULT_EPOCHS,
            progress: true,
        }
    }
}

/// What a demo run found, for tests.
#[derive(Clone, Debug)]
#[cfg_attr(not(test), allow(dead_code))]
pub struct Findings {
    /// Per fault: kind, host flagged it, device flagged it.
    pub faults: Vec<(String, bool, bool)>,
    /// Windows compared.
    pub windows: usize,
    /// Largest relative difference between host and device scores.
    pub worst_relative: f64,
    /// Windows whose host and device decisions differ.
    pub decision_mismatches: usize,
    /// Normal windows flagged by the host.
    pub false_alarms: usize,
}

/// `cargo xtask demo [--out DIR]`.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut demo = Demo::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => demo.out = PathBuf::from(it.next().ok_or("--out needs a directory")?),
            "--quick" => {
                demo.train_rows = 6_000;
                demo.test_rows = 3_000;
                demo.epochs = 30;
            }
            other => return Err(format!("unknown demo option `{other}` (use --out DIR, --quick)")),
        }
    }
    demo.run().map(|_| ())
}

/// Runs `vae-train ARGS...`, echoing the command as the demo's transcript.
fn vae_train(args: &[&str]) -> Result<(), String> {
    eprintln!("\n$ vae-train {}", args.join(" "));
    vae_e2e::vae_train(args)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

struct Fault {
    kind: String,
    channel: String,
    start: u64,
    end: u64,
}

fn read_faults(path: &Path) -> Result<Vec<Fault>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let bad = || format!("{}: bad line `{l}`", path.display());
            Ok(Fault {
                kind: f.first().ok_or_else(bad)?.to_string(),
                channel: f.get(1).ok_or_else(bad)?.to_string(),
                start: f.get(2).and_then(|v| v.parse().ok()).ok_or_else(bad)?,
                end: f.get(3).and_then(|v| v.parse().ok()).ok_or_else(bad)?,
            })
        })
        .collect()
}

impl Demo {
    /// Runs every step and prints the table.
    pub fn run(&self) -> Result<Findings, String> {
        let t0 = Instant::now();
        let data = self.out.join("data");
        let model = self.out.join("model.vaem");
        let host_csv = self.out.join("host-scores.csv");
        std::fs::create_dir_all(&self.out).map_err(|e| format!("{}: {e}", self.out.display()))?;

        eprintln!("== 1/5 simulate a machine with injected faults");
        let (tr, te) = (self.train_rows.to_string(), self.test_rows.to_string());
        vae_train(&[
            "synth",
            "--out",
            s(&data),
            "--train-rows",
            &tr,
            "--test-rows",
            &te,
            "--seed",
            "1",
            "--force",
        ])?;

        eprintln!("\n== 2/5 train and calibrate on the normal stretch");
        let epochs = self.epochs.to_string();
        let train = data.join("train.csv");
        // Log-magnitude spectra of each channel plus its level: frequency changes, noise bursts
        // and a stuck (silent) sensor show in the spectrum, shifts in the level row.
        let mut fit = vec![
            "fit",
            "--no-auto",
            "--data",
            s(&train),
            "--window",
            "16",
            "--hop",
            "4",
            "--transform",
            "spectrum",
        ];
        fit.extend([
            "--hidden",
            "32",
            "--latent",
            "8",
            "--epochs",
            &epochs,
            "--seed",
            "1",
            "--out",
            s(&model),
            "--force",
        ]);
        fit.extend(["--name", "simulated machine (cargo xtask demo)"]);
        if !self.progress {
            fit.push("--quiet");
        }
        vae_train(&fit)?;
        vae_train(&["inspect", s(&model)])?;

        eprintln!("\n== 3/5 score the test stretch on the host");
        let test = data.join("test.csv");
        vae_train(&["score", "--model", s(&model), "--data", s(&test), "--out", s(&host_csv), "--force"])?;
        let host_text =
            std::fs::read_to_string(&host_csv).map_err(|e| format!("{}: {e}", host_csv.display()))?;
        let host = read_host_scores(&host_text)?;

        eprintln!("\n== 4/5 build the firmware with this model and replay the test stretch in QEMU");
        crate::ensure_qemu()?;
        let elf = qemu::Build {
            model: Some(model.clone()),
            target_dir: Some(qemu::workspace_root().join("target").join("demo-firmware")),
            ..Default::default()
        }
        .run("firmware")
        .map_err(|e| e.to_string())?;
        let tq = Instant::now();
        let run = qemu::run(&elf, &[s(&test)], Duration::from_secs(600)).map_err(|e| e.to_string())?;
        if run.status != 0 {
            return Err(format!("firmware exited with status {}:\n{}", run.status, run.lines.join("\n")));
        }
        let device: Vec<DeviceWindow> = run.lines.iter().filter_map(|l| parse_window(l)).collect();
        let log = self.out.join("device-log.txt");
        std::fs::write(&log, run.lines.join("\n") + "\n").map_err(|e| format!("{}: {e}", log.display()))?;
        if let Some(l) = run.lines.first() {
            eprintln!("device: {l}");
        }
        if let Some(sm) = run.lines.iter().find_map(|l| parse_summary(l)) {
            eprintln!(
                "device: {} samples, {} windows scored, {} anomalous, {} invalid ({:.1} s in QEMU)",
                sm.samples,
                sm.scored,
                sm.anomalous,
                sm.invalid,
                tq.elapsed().as_secs_f64()
            );
        }

        eprintln!("\n== 5/5 compare");
        let faults = read_faults(&data.join("faults.csv"))?;
        let findings = self.table(&faults, &host, &device)?;

        let report = self.out.join("report");
        let eval = vae_train(&[
            "eval",
            "--model",
            s(&model),
            "--data",
            s(&test),
            "--labels",
            "anomaly",
            "--train",
            s(&train),
            "--report",
            s(&report),
            "--force",
        ]);
        match eval {
            Ok(()) => println!("\nevaluation report and plots: {}", report.join("report.md").display()),
            Err(e) => println!("\n(no evaluation report: {e})"),
        }
        println!(
            "model: {}\nhost scores: {}\ndevice log: {}\ndone in {:.0} s",
            model.display(),
            host_csv.display(),
            log.display(),
            t0.elapsed().as_secs_f64()
        );
        Ok(findings)
    }

    fn table(
        &self,
        faults: &[Fault],
        host: &[HostWindow],
        device: &[DeviceWindow],
    ) -> Result<Findings, String> {
        if host.len() != device.len() {
            return Err(format!("host scored {} windows, the device {}", host.len(), device.len()));
        }
        let window = 16u64;
        let overlaps = |start: u64, f: &Fault| start < f.end && start + window > f.start;
        let mut worst = 0.0f64;
        let mut mismatches = 0;
        for (h, d) in host.iter().zip(device) {
            if h.start != d.start {
                return Err(format!(
                    "window {}: host starts at row {}, device at {}",
                    h.index, h.start, d.start
                ));
            }
            if let (Some(hs), Some(ds)) = (h.score, d.score) {
                if hs.is_finite() && ds.is_finite() {
                    worst = worst.max(((hs - ds).abs() / hs.abs().max(1.0)) as f64);
                }
            }
            if (h.anomalous == "yes") != (d.decision == "Anomalous") {
                mismatches += 1;
            }
        }
        println!(
            "\n{:<17} {:<12} {:>12}  {:>4}  {:>6}  {:>9}  top channel (device)",
            "injected fault", "channel", "rows", "host", "device", "max score"
        );
        let mut out = Vec::new();
        for f in faults {
            let (mut hf, mut df, mut max) = (false, false, f32::NEG_INFINITY);
            let mut tops: Vec<String> = Vec::new();
            for (h, d) in host.iter().zip(device).filter(|(h, _)| overlaps(h.start, f)) {
                hf |= h.anomalous == "yes";
                if d.decision == "Anomalous" {
                    df = true;
                    if let Some(t) = &d.top {
                        if !tops.contains(t) {
                            tops.push(t.clone());
                        }
                    }
                }
                max = max.max(d.score.unwrap_or(f32::NEG_INFINITY));
            }
            let yn = |b: bool| if b { "yes" } else { "no" };
            println!(
                "{:<17} {:<12} {:>12}  {:>4}  {:>6}  {:>9.2}  {}",
                f.kind,
                f.channel,
                format!("{}..{}", f.start, f.end),
                yn(hf),
                yn(df),
                max,
                if tops.is_empty() { "-".to_string() } else { tops.join(", ") }
            );
            out.push((f.kind.clone(), hf, df));
        }
        let normal: Vec<&HostWindow> =
            host.iter().filter(|h| !faults.iter().any(|f| overlaps(h.start, f))).collect();
        let false_alarms = normal.iter().filter(|h| h.anomalous == "yes").count();
        println!(
            "normal windows: {} ({} flagged by the host)\nhost vs device: {} windows, largest relative score difference {:.1e}, {} differing decisions",
            normal.len(),
            false_alarms,
            host.len(),
            worst,
            mismatches
        );
        Ok(Findings {
            faults: out,
            windows: host.len(),
            worst_relative: worst,
            decision_mismatches: mismatches,
            false_alarms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo's own path in a shorter form: every step runs, host and device agree, and the
    /// loud faults are flagged by both.
    #[test]
    fn quick_demo_flags_the_loud_faults_on_host_and_device() {
        let dir = std::env::temp_dir().join(format!("vae-demo-test-{}", std::process::id()));
        let demo =
            Demo { out: dir.clone(), train_rows: 6_000, test_rows: 3_000, epochs: 30, progress: false };
        let f = demo.run().unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(f.windows, 747);
        assert!(f.worst_relative <= 1e-5, "host vs device {}", f.worst_relative);
        assert!(f.decision_mismatches <= 1, "{} decisions differ", f.decision_mismatches);
        for kind in ["spike", "frequency-change", "stuck-sensor", "noise-burst"] {
            let (_, host, device) = f.faults.iter().find(|(k, _, _)| k == kind).cloned().unwrap_or_default();
            assert!(host && device, "{kind} not flagged (host {host}, device {device})");
        }
        assert!(f.false_alarms <= 10, "{} false alarms", f.false_alarms);
    }
}
