//! Capturing training data from a device: the firmware's `capture` binary streams the raw
//! samples its board reads (see `firmware/src/bin/capture.rs`), and this module turns the
//! stream into a CSV that `vae-train fit` reads as it is: a `time` column (seconds since
//! the first sampling instant) and one column per channel, every value the f32 the device
//! read, bit for bit (written in the shortest form that parses back to the same f32).
//!
//! Samples the device could not take (the core was busy past the next sampling instant)
//! leave a gap in its sample counter; gaps are rows missing from the CSV, and both the
//! device's own count and the gaps seen here are reported, never hidden.

use crate::qemu::{self, Build};
use crate::stream::{self, End, Flow};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Errors of a capture.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// Building or running the firmware failed.
    #[error(transparent)]
    Device(#[from] qemu::Error),
    /// A line of the stream does not read as the capture format.
    #[error("capture stream line {line}: {why}: `{text}`")]
    Line {
        /// 1-based line of the stream.
        line: usize,
        /// The line.
        text: String,
        /// What is wrong.
        why: String,
    },
    /// The device stopped before streaming the capture header.
    #[error("the device sent no `capture channels=...` line (is it running the capture firmware?){}", last_words(.0))]
    NoHeader(Vec<String>),
    /// The firmware exited with an error.
    #[error("the capture firmware exited with status {status}{}", last_words(.log))]
    Exit {
        /// Its exit status.
        status: i32,
        /// Its last log lines.
        log: Vec<String>,
    },
    /// Nothing was captured.
    #[error("no sample was captured{}", last_words(.0))]
    Empty(Vec<String>),
    /// Bad options.
    #[error("{0}")]
    Usage(String),
    /// Writing the CSV failed.
    #[error("{path}: {source}")]
    Write {
        /// The output file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn last_words(log: &[String]) -> String {
    if log.is_empty() {
        String::new()
    } else {
        format!("; its last lines:\n  {}", log.join("\n  "))
    }
}

/// What was captured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Capture {
    /// Channel names, in the device's order.
    pub channels: Vec<String>,
    /// Samples per second.
    pub rate_hz: u32,
    /// Every sample received: its sampling instant's index and one value per channel.
    pub samples: Vec<(u64, Vec<f32>)>,
    /// Sampling instants the device reports it missed (its last report).
    pub device_dropped: u64,
    /// Sampling instants missing from the stream (gaps in the counter), whatever lost them.
    pub gaps: u64,
    /// Whether the device's `capture end` line arrived.
    pub ended: bool,
}

/// Reads the capture stream line by line.
#[derive(Debug, Default)]
pub struct Parser {
    capture: Capture,
    header: bool,
    line: usize,
    /// Stop after this many sampling instants (`None`: until the stream ends).
    limit: Option<u64>,
    /// The last few lines that are not samples, for error messages.
    log: Vec<String>,
}

impl Parser {
    /// A parser that asks to stop after `limit` sampling instants.
    pub fn new(limit: Option<u64>) -> Self {
        Self { limit, ..Self::default() }
    }

    /// Takes one line; other log lines (e.g. an error) are kept for messages, not refused.
    pub fn line(&mut self, text: &str) -> Result<Flow, CaptureError> {
        self.line += 1;
        let text = text.trim();
        let bad = |why: &str| CaptureError::Line { line: self.line, text: text.to_string(), why: why.into() };
        if let Some(rest) = text.strip_prefix("capture channels=") {
            let mut parts = rest.split_whitespace();
            let names = parts.next().ok_or_else(|| bad("no channel names"))?;
            let rate = parts
                .next()
                .and_then(|r| r.strip_prefix("rate_hz="))
                .and_then(|r| r.parse().ok())
                .ok_or_else(|| bad("expected `rate_hz=N`"))?;
            self.capture.channels = names.split(',').map(str::to_string).collect();
            self.capture.rate_hz = rate;
            self.header = true;
        } else if let Some(rest) = text.strip_prefix("sample ").filter(|r| r.contains(" [")) {
            if !self.header {
                return Err(bad("a sample before the `capture channels=...` line"));
            }
            let (index, values) = rest.split_once(' ').ok_or_else(|| bad("expected `sample N [values]`"))?;
            let index: u64 = index.parse().map_err(|_| bad("the sample counter is not a number"))?;
            let values = values
                .trim()
                .strip_prefix('[')
                .and_then(|v| v.strip_suffix(']'))
                .ok_or_else(|| bad("expected the values in [ ]"))?;
            let values = values
                .split(',')
                .map(|v| v.trim().parse::<f32>())
                .collect::<Result<Vec<f32>, _>>()
                .map_err(|_| bad("a value is not a number"))?;
            if values.len() != self.capture.channels.len() {
                return Err(bad(&format!(
                    "{} values, expected one per channel ({})",
                    values.len(),
                    self.capture.channels.len()
                )));
            }
            let next = self.capture.samples.last().map_or(0, |(i, _)| i + 1);
            if index < next {
                return Err(bad(&format!("the sample counter went back (expected {next} or more)")));
            }
            if self.limit.is_some_and(|l| index >= l) {
                return Ok(Flow::Stop);
            }
            self.capture.gaps += index - next;
            self.capture.samples.push((index, values));
        } else if let Some(rest) =
            text.strip_prefix("capture end ").or_else(|| text.strip_prefix("capture dropped="))
        {
            let dropped = rest
                .split_whitespace()
                .find_map(|w| w.strip_prefix("dropped=").or(Some(w)).and_then(|d| d.parse().ok()));
            if let Some(d) = dropped {
                self.capture.device_dropped = d;
            }
            self.capture.ended |= text.starts_with("capture end ");
        } else {
            self.log.push(text.to_string());
            if self.log.len() > 5 {
                self.log.remove(0);
            }
        }
        Ok(Flow::Continue)
    }

    /// The capture so far, and the last lines that were not samples.
    pub fn finish(self) -> (Capture, Vec<String>) {
        (self.capture, self.log)
    }
}

impl Capture {
    /// The CSV `vae-train fit` reads: `time` in seconds from the first sampling instant, then
    /// the channels.
    pub fn csv(&self) -> String {
        let mut s = String::with_capacity(self.samples.len() * (12 + 12 * self.channels.len()));
        s.push_str("time");
        for c in &self.channels {
            s.push(',');
            s.push_str(c);
        }
        s.push('\n');
        let rate = f64::from(self.rate_hz.max(1));
        for (index, values) in &self.samples {
            s.push_str(&(*index as f64 / rate).to_string());
            for v in values {
                s.push(',');
                s.push_str(&v.to_string());
            }
            s.push('\n');
        }
        s
    }

    /// Writes [`Capture::csv`] to `path` atomically.
    pub fn write(&self, path: &Path) -> Result<(), CaptureError> {
        vae_train::atomic::write(path, self.csv().as_bytes())
            .map_err(|source| CaptureError::Write { path: path.to_path_buf(), source })
    }

    /// One line for the user: samples, seconds, and what was lost.
    pub fn describe(&self) -> String {
        let seconds =
            self.samples.last().map_or(0.0, |(i, _)| (*i + 1) as f64 / f64::from(self.rate_hz.max(1)));
        format!(
            "{} samples of {} channel(s) ({}) at {} Hz, {seconds:.2} s; {} sampling instant(s) missed by the device, {} missing from the stream",
            self.samples.len(),
            self.channels.len(),
            self.channels.join(","),
            self.rate_hz,
            self.device_dropped,
            self.gaps
        )
    }
}

/// The board to capture from.
#[derive(Clone, Debug, PartialEq)]
pub enum Board {
    /// QEMU's emulated Cortex-M4F, which replays this recording as its sensor.
    Qemu {
        /// The recording (CSV with the channels' names as columns).
        recording: PathBuf,
    },
    /// An nRF52840-DK over a debug probe (`probe-rs run`); channel `i` is input AIN`i`.
    Nrf52840,
}

/// What to capture.
#[derive(Clone, Debug)]
pub struct Options {
    /// The board.
    pub board: Board,
    /// Channel names (at most 8 on the nRF52840).
    pub channels: Vec<String>,
    /// Samples per second (1 to 100,000).
    pub rate_hz: u32,
    /// Seconds of samples to capture (sampling instants = seconds x rate); `None`: until the
    /// device stops (the end of a replay).
    pub seconds: Option<f64>,
    /// Where the firmware is built.
    pub target_dir: PathBuf,
    /// Set (e.g. by a Ctrl-C handler) to stop the device and keep what was captured.
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// Builds the capture firmware for `opts`, runs it, and reads its stream. `on_progress`
/// sees the number of samples received every 1,000.
pub fn run(opts: &Options, mut on_progress: impl FnMut(usize)) -> Result<Capture, CaptureError> {
    if !(1..=100_000).contains(&opts.rate_hz) {
        return Err(CaptureError::Usage(format!("the rate must be 1 to 100000 Hz, found {}", opts.rate_hz)));
    }
    if opts.channels.is_empty() {
        return Err(CaptureError::Usage("no channel to capture".into()));
    }
    let board = match opts.board {
        Board::Qemu { .. } => "qemu",
        Board::Nrf52840 => "nrf52840",
    };
    let elf = Build {
        board: Some(board.into()),
        target_dir: Some(opts.target_dir.clone()),
        env: vec![
            ("VAE_CAPTURE_CHANNELS".into(), opts.channels.join(",")),
            ("VAE_SAMPLE_RATE_HZ".into(), opts.rate_hz.to_string()),
        ],
        ..Build::default()
    }
    .run("capture")?;
    let limit = opts.seconds.map(|s| (s * f64::from(opts.rate_hz)).ceil().max(0.0) as u64);
    let mut parser = Parser::new(limit);
    let mut failure = None;
    let stopped = || opts.stop.as_ref().is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed));
    let mut handle = |line: &str| match parser.line(line) {
        Ok(_) if stopped() => Flow::Stop,
        Ok(flow) => {
            let n = parser.capture.samples.len();
            if n.is_multiple_of(1000) && n > 0 && line.starts_with("sample ") && flow == Flow::Continue {
                on_progress(n);
            }
            flow
        }
        Err(e) => {
            failure = Some(e);
            Flow::Stop
        }
    };
    let end = match &opts.board {
        Board::Qemu { recording } => {
            let path = recording.to_str().ok_or_else(|| {
                CaptureError::Usage(format!("{}: the path must be UTF-8", recording.display()))
            })?;
            // The replay goes as fast as the emulator runs: one hour of 100 Hz samples in
            // well under ten minutes.
            stream::qemu(&elf, &[path], Duration::from_secs(3600), &mut handle)?
        }
        Board::Nrf52840 => stream::probe_rs(&elf, "nRF52840_xxAA", &mut handle)?,
    };
    if let Some(e) = failure {
        return Err(e);
    }
    let header = parser.header;
    let (capture, log) = parser.finish();
    match end {
        _ if !header => Err(CaptureError::NoHeader(log)),
        // A board stopped by the user (Ctrl-C reaches probe-rs too) exits non-zero.
        End::Exited(status) if status != 0 && !stopped() => Err(CaptureError::Exit { status, log }),
        _ if capture.samples.is_empty() => Err(CaptureError::Empty(log)),
        _ => Ok(capture),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_stream_with_a_gap_and_writes_the_csv() {
        let mut p = Parser::new(Some(4));
        for l in [
            "capture channels=a,b rate_hz=4",
            "sample 0 [0.5, -1e-7]",
            "sample 1 [0.25, 3.4028235e38]",
            "sample 3 [NaN, 1.0]",
        ] {
            assert_eq!(p.line(l).unwrap(), Flow::Continue, "{l}");
        }
        assert_eq!(p.line("sample 4 [1.0, 1.0]").unwrap(), Flow::Stop, "past the limit");
        assert_eq!(p.line("capture end samples=4 dropped=1").unwrap(), Flow::Continue);
        let (c, _) = p.finish();
        assert_eq!((c.gaps, c.device_dropped, c.ended), (1, 1, true));
        assert_eq!(
            c.csv(),
            "time,a,b\n0,0.5,-0.0000001\n0.25,0.25,340282350000000000000000000000000000000\n0.75,NaN,1\n"
        );
        // Every value parses back to the same bits.
        let back: Vec<u32> = c
            .csv()
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(2).unwrap().parse::<f32>().unwrap().to_bits())
            .collect();
        assert_eq!(back, [(-1e-7f32).to_bits(), f32::MAX.to_bits(), 1.0f32.to_bits()]);
    }

    #[test]
    fn refuses_what_is_not_the_capture_format_naming_the_line() {
        let mut p = Parser::new(None);
        let e = p.line("sample 0 [1.0]").unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("before"), "{e}");
        p.line("capture channels=a,b rate_hz=10").unwrap();
        let e = p.line("sample 0 [1.0]").unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("1 values, expected one per channel (2)"), "{e}");
        let e = p.line("sample x [1.0, 2.0]").unwrap_err().to_string();
        assert!(e.contains("counter"), "{e}");
        p.line("sample 5 [1.0, 2.0]").unwrap();
        let e = p.line("sample 4 [1.0, 2.0]").unwrap_err().to_string();
        assert!(e.contains("went back"), "{e}");
        // Other log lines are kept for the error message, not refused.
        assert_eq!(p.line("sample source failed: Read").unwrap(), Flow::Continue);
        assert_eq!(p.finish().1, ["sample source failed: Read"]);
    }
}
