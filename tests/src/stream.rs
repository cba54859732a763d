//! A device's log as it streams, one decoded line at a time: from QEMU (defmt frames over
//! semihosting, decoded here), from `probe-rs run` on a board (which decodes defmt itself),
//! or from any reader of text lines (a saved log, standard input).

use crate::qemu::{qemu_command, Error};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What the line handler wants next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading.
    Continue,
    /// Enough: stop the device.
    Stop,
}

/// How a stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The device exited with this status (QEMU's semihosting exit, probe-rs's status).
    Exited(i32),
    /// The handler asked to stop; the device was stopped.
    Stopped,
    /// The text input ended.
    Eof,
}

/// Runs `elf` in QEMU with `args` and hands each decoded defmt line to `on_line` as it
/// arrives. Stops QEMU when `on_line` says so or after `timeout`.
pub fn qemu(
    elf: &Path,
    args: &[&str],
    timeout: Duration,
    mut on_line: impl FnMut(&str) -> Flow,
) -> Result<End, Error> {
    let elf_bytes = std::fs::read(elf).map_err(|source| Error::Io { path: elf.to_path_buf(), source })?;
    let defmt = |message: String| Error::Defmt { path: elf.to_path_buf(), message };
    let table = defmt_decoder::Table::parse(&elf_bytes)
        .map_err(|e| defmt(e.to_string()))?
        .ok_or_else(|| defmt("no .defmt section".into()))?;
    let mut decoder = table.new_stream_decoder();
    let mut cmd = qemu_command(elf, args);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = Running::spawn(&mut cmd, "qemu-system-arm (install the Debian package qemu-system-arm)")?;
    let chunks = child.chunks()?;
    let start = Instant::now();
    loop {
        let left = timeout.checked_sub(start.elapsed()).ok_or(Error::Timeout(timeout))?;
        match chunks.recv_timeout(left.min(Duration::from_millis(100))) {
            Ok(bytes) => {
                decoder.received(&bytes);
                loop {
                    match decoder.decode() {
                        Ok(frame) => {
                            if on_line(&frame.display_message().to_string()) == Flow::Stop {
                                return Ok(End::Stopped);
                            }
                        }
                        Err(defmt_decoder::DecodeError::UnexpectedEof) => break,
                        Err(defmt_decoder::DecodeError::Malformed) => {
                            return Err(defmt("malformed frame".into()))
                        }
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return child.wait(timeout.saturating_sub(start.elapsed()))
            }
        }
    }
}

/// Runs `probe-rs run --chip CHIP --log-format {s} ELF` (flash, reset, stream the decoded
/// defmt log) and hands each line of its output to `on_line`. Stops probe-rs when
/// `on_line` says so.
pub fn probe_rs(elf: &Path, chip: &str, on_line: impl FnMut(&str) -> Flow) -> Result<End, Error> {
    let mut cmd = Command::new("probe-rs");
    cmd.args(["run", "--chip", chip, "--log-format", "{s}"])
        .arg(elf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child =
        Running::spawn(&mut cmd, "probe-rs (install it with `cargo install probe-rs-tools --locked`)")?;
    let stdout = child.stdout()?;
    match lines(BufReader::new(stdout), on_line)
        .map_err(|source| Error::Spawn { command: "probe-rs".into(), source })?
    {
        End::Stopped => Ok(End::Stopped),
        _ => child.wait(Duration::from_secs(10)),
    }
}

/// Hands each line of `input` (a saved or piped log) to `on_line`, until it ends or
/// `on_line` says stop.
pub fn lines(input: impl BufRead, mut on_line: impl FnMut(&str) -> Flow) -> std::io::Result<End> {
    for line in input.lines() {
        if on_line(line?.trim_end()) == Flow::Stop {
            return Ok(End::Stopped);
        }
    }
    Ok(End::Eof)
}

/// A child process that is killed when dropped (stopped early, or an error on the way).
struct Running {
    child: Child,
    name: &'static str,
}

impl Running {
    fn spawn(cmd: &mut Command, name: &'static str) -> Result<Self, Error> {
        let child = cmd.spawn().map_err(|source| Error::Spawn { command: name.into(), source })?;
        Ok(Self { child, name })
    }

    fn stdout(&mut self) -> Result<std::process::ChildStdout, Error> {
        self.child.stdout.take().ok_or_else(|| Error::Spawn {
            command: self.name.into(),
            source: std::io::Error::other("no standard output"),
        })
    }

    /// Its standard output in chunks, as they come, from a reader thread.
    fn chunks(&mut self) -> Result<mpsc::Receiver<Vec<u8>>, Error> {
        let mut stdout = self.stdout()?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Ok(rx)
    }

    /// Waits at most `timeout` for the exit status.
    fn wait(&mut self, timeout: Duration) -> Result<End, Error> {
        let start = Instant::now();
        loop {
            let status =
                self.child.try_wait().map_err(|source| Error::Spawn { command: self.name.into(), source })?;
            if let Some(s) = status {
                return Ok(End::Exited(s.code().unwrap_or(-1)));
            }
            if start.elapsed() > timeout {
                return Err(Error::Timeout(timeout));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
