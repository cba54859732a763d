//! `cargo xtask monitor`: watch what a device decides, live, and keep its decisions.
//!
//! ```text
//! cargo xtask monitor --model model.vaem --board nrf52840 [--out scores.csv]
//! cargo xtask monitor --model model.vaem --board qemu --data recording.csv [--out scores.csv]
//! cargo xtask monitor --model model.vaem --log device.log [--out scores.csv]   (`-`: standard input)
//! ```
//!
//! With a board, builds the scoring firmware with the model and runs it (`probe-rs run` on
//! the nRF52840-DK, QEMU replaying `--data`); with `--log`, reads a log already captured
//! (`probe-rs run` or `cargo xtask qemu` output). Prints a status line per window in a
//! terminal, a line per alarm raised and ended, the thresholds learnt and the device's
//! summary; writes the windows as `vae-train score --out` does (see [`vae_e2e::monitor`]),
//! for `vae-train eval --scores`. Ctrl-C stops a board and still writes the CSV.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use vae_e2e::monitor::{Event, Monitor};
use vae_e2e::stream::{self, End, Flow};

const USAGE: &str = "use --model MODEL.vaem and one of --board nrf52840, --board qemu --data RECORDING.csv, --log FILE|-; then [--out SCORES.csv] [--force] [--name FILE-COLUMN] [--rate HZ (the board's sampling rate, as captured; default 100)]";

/// Runs the task; returns the device's exit status (0 for a log that ended).
pub fn run(args: &[String]) -> Result<i32, String> {
    let (mut model, mut board, mut data, mut log, mut out, mut name, mut force) =
        (None, None, None, None, None, None, false);
    let mut rate = 100u32;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("{a} needs a value ({USAGE})"));
        match a.as_str() {
            "--model" => model = Some(PathBuf::from(value()?)),
            "--board" => board = Some(value()?),
            "--data" => data = Some(value()?),
            "--log" => log = Some(value()?),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--name" => name = Some(value()?),
            "--force" => force = true,
            "--rate" => {
                let v = value()?;
                rate =
                    v.parse().ok().filter(|r| (1..=100_000).contains(r)).ok_or_else(|| {
                        format!("--rate takes samples per second (1 to 100000), found {v:?}")
                    })?;
            }
            other => return Err(format!("unknown option `{other}` ({USAGE})")),
        }
    }
    let model = model.ok_or_else(|| format!("--model is required: the model the device runs ({USAGE})"))?;
    let loaded = vae_train::OwnedModel::load(&model).map_err(|e| e.to_string())?;
    let model = std::fs::canonicalize(&model).map_err(|e| format!("{}: {e}", model.display()))?;
    if let Some(out) = &out {
        let mut inputs = vec![model.as_path()];
        let (data_path, log_path) = (data.as_ref().map(PathBuf::from), log.as_ref().map(PathBuf::from));
        inputs.extend(data_path.as_deref());
        inputs.extend(log_path.as_deref().filter(|p| p != &Path::new("-")));
        vae_train::output::check(out, force, &inputs).map_err(|e| e.to_string())?;
    }
    let file = name.or_else(|| data.clone()).unwrap_or_else(|| "device".into());
    let mut monitor = Monitor::new(&file, loaded.meta.channels.clone(), loaded.meta.transform.smoothing > 1);
    let terminal = std::io::stdout().is_terminal();
    let stop = Arc::new(AtomicBool::new(false));
    let mut show = |line: &str| {
        match monitor.line(line) {
            Some(Event::Status(s)) if terminal => print!("\r{s}\x1b[K"),
            Some(Event::Note(n)) if terminal => println!("\r{n}\x1b[K"),
            Some(Event::Note(n)) => println!("{n}"),
            _ => {}
        }
        let _ = std::io::stdout().flush();
        if stop.load(Ordering::Relaxed) {
            Flow::Stop
        } else {
            Flow::Continue
        }
    };
    // The firmware for this model: its weights' reader, the board's sampling rate.
    let build =
        Firmware { model: &model, compact: loaded.meta.weights != vae_core::weights::Encoding::F32, rate };
    // What was read is written even when the stream fails (a timeout, a broken log).
    let end = (|| -> Result<End, String> {
        Ok(match (board.as_deref(), data.as_deref(), log.as_deref()) {
            (None, None, Some("-")) => stream::lines(std::io::stdin().lock(), &mut show)
                .map_err(|e| format!("standard input: {e}"))?,
            (None, None, Some(path)) => {
                let f = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
                stream::lines(std::io::BufReader::new(f), &mut show).map_err(|e| format!("{path}: {e}"))?
            }
            (Some("qemu"), Some(data), None) => {
                let abs = std::fs::canonicalize(data).map_err(|e| format!("{data}: {e}"))?;
                crate::ensure_qemu()?;
                let elf = build.run("qemu")?;
                stream::qemu(&elf, &[abs.to_str().unwrap_or_default()], Duration::from_secs(3600), &mut show)
                    .map_err(|e| e.to_string())?
            }
            (Some("nrf52840"), None, None) => {
                let elf = build.run("nrf52840")?;
                let flag = stop.clone();
                // Ctrl-C stops the board (probe-rs gets it too) and the CSV is still written.
                ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))
                    .map_err(|e| format!("Ctrl-C handler: {e}"))?;
                stream::probe_rs(&elf, "nRF52840_xxAA", &mut show).map_err(|e| e.to_string())?
            }
            (Some("qemu"), None, None) => {
                return Err("--board qemu needs --data RECORDING.csv to replay".into())
            }
            (Some(b), _, None) if b != "qemu" && b != "nrf52840" => {
                return Err(format!("unknown board `{b}`: nrf52840 or qemu"))
            }
            _ => return Err(format!("give one source ({USAGE})")),
        })
    })();
    if terminal {
        println!();
    }
    // Nothing read (a usage error, a build that failed): nothing written.
    if let Some(out) = out.as_ref().filter(|_| end.is_ok() || !monitor.rows().is_empty()) {
        if let Err(e) = &end {
            eprintln!("xtask: {e}; writing the {} windows read", monitor.rows().len());
        }
        vae_train::atomic::write(out, monitor.csv().as_bytes())
            .map_err(|e| format!("{}: {e}", out.display()))?;
        println!(
            "wrote {}: {} windows, {} alarm episode(s)",
            out.display(),
            monitor.rows().len(),
            monitor.episodes()
        );
    }
    Ok(match end? {
        End::Exited(status) => status,
        End::Stopped | End::Eof => 0,
    })
}

/// The scoring firmware of a model.
struct Firmware<'a> {
    model: &'a Path,
    /// Its weights are f16 or int8: the image needs their reader.
    compact: bool,
    /// The board's sampling rate (`VAE_SAMPLE_RATE_HZ`).
    rate: u32,
}

impl Firmware<'_> {
    /// Builds it for `board`.
    fn run(&self, board: &str) -> Result<PathBuf, String> {
        vae_e2e::qemu::Build {
            model: Some(self.model.to_path_buf()),
            board: Some(board.into()),
            features: if self.compact { vec!["compact-weights".into()] } else { Vec::new() },
            env: vec![("VAE_SAMPLE_RATE_HZ".into(), self.rate.to_string())],
            target_dir: Some(vae_e2e::qemu::workspace_root().join("target").join("monitor")),
            ..Default::default()
        }
        .run("firmware")
        .map_err(|e| e.to_string())
    }
}
