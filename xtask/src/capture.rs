//! `cargo xtask capture`: record training data from a device, as the board samples it.
//!
//! ```text
//! cargo xtask capture --board nrf52840 --seconds 600 --out data.csv [--channels ain0,ain1] [--rate 100]
//! cargo xtask capture --board qemu --data recording.csv --out data.csv [--seconds N] [--channels ...]
//! ```
//!
//! Builds the firmware's `capture` binary for the board with the channel names and rate,
//! runs it (`probe-rs run` on the nRF52840-DK, QEMU replaying `--data` as the sensor), and
//! writes the samples it streams to a CSV that `vae-train fit --data` reads as it is (see
//! [`vae_e2e::capture`]). Samples the device missed are counted and reported.

use std::path::{Path, PathBuf};
use vae_e2e::capture::{self, Board, Options};

const USAGE: &str = "use --board nrf52840|qemu --out FILE.csv [--seconds N] [--channels a,b,...] [--rate HZ] [--data RECORDING.csv (qemu)] [--force]";

/// Runs the task.
pub fn run(args: &[String]) -> Result<(), String> {
    let (mut board, mut data, mut out, mut seconds, mut channels, mut rate, mut force) =
        (None, None, None, None, None, 100u32, false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("{a} needs a value ({USAGE})"));
        match a.as_str() {
            "--board" => board = Some(value()?),
            "--data" => data = Some(PathBuf::from(value()?)),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--seconds" => {
                let v = value()?;
                let s: f64 = v.parse().map_err(|_| format!("--seconds takes a number, found {v:?}"))?;
                if !(s > 0.0 && s.is_finite()) {
                    return Err(format!("--seconds must be positive, found {v}"));
                }
                seconds = Some(s);
            }
            "--channels" => {
                channels = Some(value()?.split(',').map(|c| c.trim().to_string()).collect::<Vec<_>>())
            }
            "--rate" => {
                let v = value()?;
                rate = v
                    .parse()
                    .map_err(|_| format!("--rate takes samples per second (1 to 100000), found {v:?}"))?;
            }
            "--force" => force = true,
            other => return Err(format!("unknown option `{other}` ({USAGE})")),
        }
    }
    let out = out.ok_or_else(|| format!("--out FILE.csv is required ({USAGE})"))?;
    let board = match (board.as_deref(), data) {
        (Some("qemu"), Some(recording)) => {
            let recording =
                std::fs::canonicalize(&recording).map_err(|e| format!("{}: {e}", recording.display()))?;
            crate::ensure_qemu()?;
            Board::Qemu { recording }
        }
        (Some("qemu"), None) => {
            return Err(
                "--board qemu needs --data RECORDING.csv: the recording QEMU replays as its sensor".into()
            )
        }
        (Some("nrf52840"), None) => Board::Nrf52840,
        (Some("nrf52840"), Some(_)) => {
            return Err("--data is for --board qemu; the nRF52840 samples its SAADC".into())
        }
        (Some(other), _) => return Err(format!("unknown board `{other}`: nrf52840 or qemu")),
        (None, _) => return Err(format!("--board is required ({USAGE})")),
    };
    if board == Board::Nrf52840 && seconds.is_none() {
        return Err("--board nrf52840 needs --seconds N: the board samples until stopped".into());
    }
    let inputs: Vec<&Path> = match &board {
        Board::Qemu { recording } => vec![recording.as_path()],
        Board::Nrf52840 => Vec::new(),
    };
    vae_train::output::check(&out, force, &inputs).map_err(|e| e.to_string())?;
    let channels = match (channels, &board) {
        (Some(c), _) => c,
        // The columns `vae-train fit` would take from the recording.
        (None, Board::Qemu { recording }) => {
            vae_train::data::load_file(recording, &vae_train::data::LoadOptions::default())
                .map_err(|e| e.to_string())?
                .channels
        }
        (None, Board::Nrf52840) => vec!["ain0".into()],
    };
    let opts = Options {
        board,
        channels,
        rate_hz: rate,
        seconds,
        target_dir: vae_e2e::qemu::workspace_root().join("target").join("capture"),
        stop: Some(std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false))),
    };
    if let (Board::Nrf52840, Some(flag)) = (&opts.board, opts.stop.clone()) {
        // Ctrl-C stops the board (probe-rs gets it too) and what was captured is written.
        ctrlc::set_handler(move || flag.store(true, std::sync::atomic::Ordering::Relaxed))
            .map_err(|e| format!("Ctrl-C handler: {e}"))?;
    }
    eprintln!(
        "capturing {} at {} Hz{} ...",
        opts.channels.join(","),
        opts.rate_hz,
        seconds.map_or(String::new(), |s| format!(" for {s} s"))
    );
    // A running count in a terminal; nothing between the first and last line otherwise.
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let captured = capture::run(&opts, |n| {
        if terminal {
            eprint!("\r{n} samples");
        }
    })
    .map_err(|e| e.to_string())?;
    if terminal {
        eprint!("\r\x1b[K");
    }
    captured.write(&out).map_err(|e| e.to_string())?;
    println!("wrote {}: {}", out.display(), captured.describe());
    if captured.device_dropped + captured.gaps > 0 {
        println!(
            "warning: samples are missing; lower --rate or the number of channels (the log over RTT must keep up)"
        );
    }
    Ok(())
}
