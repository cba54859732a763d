//! Build the firmware with a given model and run it under QEMU's Cortex-M4F machine
//! (`mps2-an386`), replaying a CSV through semihosting; decode its defmt output.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Errors of building or running the firmware.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command could not be started.
    #[error("cannot run {command}: {source}")]
    Spawn {
        /// The program.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// `cargo build` of the firmware failed.
    #[error("firmware build failed (exit {status}):\n{stderr}")]
    Build {
        /// Exit status.
        status: i32,
        /// What cargo printed.
        stderr: String,
    },
    /// QEMU ran longer than allowed (a firmware stuck in a loop).
    #[error("QEMU did not finish within {0:?}")]
    Timeout(Duration),
    /// The ELF has no defmt table or it cannot be read.
    #[error("cannot decode defmt output of {path}: {message}")]
    Defmt {
        /// The ELF.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// Reading the ELF failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// A QEMU machine the firmware replays recordings on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Machine {
    /// MPS2 AN386, Cortex-M4F: the project's reference device.
    #[default]
    Mps2An386,
    /// MPS2 AN500, Cortex-M7 (FPU): runs the Cortex-M4F image as it is.
    Mps2An500,
    /// MPS2 AN505, Cortex-M33 with FPU (Armv8-M Mainline, secure state).
    Mps2An505,
    /// Netduino Plus 2, an STM32F405 (Cortex-M4F) with the STM32's memory map.
    Netduinoplus2,
}

impl Machine {
    /// Every machine.
    pub const ALL: [Machine; 4] =
        [Machine::Mps2An386, Machine::Mps2An500, Machine::Mps2An505, Machine::Netduinoplus2];

    /// QEMU's `-machine`.
    pub const fn name(self) -> &'static str {
        match self {
            Machine::Mps2An386 => "mps2-an386",
            Machine::Mps2An500 => "mps2-an500",
            Machine::Mps2An505 => "mps2-an505",
            Machine::Netduinoplus2 => "netduinoplus2",
        }
    }

    /// QEMU's `-cpu`.
    pub const fn cpu(self) -> &'static str {
        match self {
            Machine::Mps2An386 | Machine::Netduinoplus2 => "cortex-m4",
            Machine::Mps2An500 => "cortex-m7",
            Machine::Mps2An505 => "cortex-m33",
        }
    }

    /// The core, for reports.
    pub const fn core(self) -> &'static str {
        match self {
            Machine::Mps2An386 => "Cortex-M4F",
            Machine::Mps2An500 => "Cortex-M7",
            Machine::Mps2An505 => "Cortex-M33",
            Machine::Netduinoplus2 => "STM32F405 (Cortex-M4F)",
        }
    }

    /// The Rust target of its image.
    pub const fn target(self) -> &'static str {
        match self {
            Machine::Mps2An505 => "thumbv8m.main-none-eabihf",
            _ => "thumbv7em-none-eabihf",
        }
    }

    /// The firmware's board feature for it (the replay over semihosting, its memory map).
    pub const fn feature(self) -> &'static str {
        match self {
            Machine::Mps2An386 | Machine::Mps2An500 => "qemu",
            Machine::Mps2An505 => "mps2-an505",
            Machine::Netduinoplus2 => "netduinoplus2",
        }
    }
}

/// Options for a firmware build.
#[derive(Clone, Debug, Default)]
pub struct Build {
    /// The model file to embed (`VAE_MODEL`); the committed default when `None`.
    pub model: Option<PathBuf>,
    /// Cargo features besides the board (e.g. `bench`).
    pub features: Vec<String>,
    /// Board feature; the machine's (`qemu` for the default) when `None`.
    pub board: Option<String>,
    /// The QEMU machine the image is for (its target and memory map).
    pub machine: Machine,
    /// Target directory; a separate one per model keeps builds from invalidating each other.
    pub target_dir: Option<PathBuf>,
    /// More environment variables of the build (e.g. `VAE_CAPTURE_CHANNELS`).
    pub env: Vec<(String, String)>,
}

impl Build {
    /// Builds the firmware (`--profile firmware`) and returns the path of the ELF.
    pub fn run(&self, bin: &str) -> Result<PathBuf, Error> {
        let root = workspace_root();
        let target_dir = self.target_dir.clone().unwrap_or_else(|| root.join("target"));
        let board = self.board.clone().unwrap_or_else(|| self.machine.feature().into());
        let target = self.machine.target();
        let mut features = vec![board];
        features.extend(self.features.iter().cloned());
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(&root)
            .args(["build", "-q", "-p", "firmware", "--target", target, "--profile", "firmware"])
            .args(["--no-default-features", "--features", &features.join(","), "--bin", bin])
            .arg("--target-dir")
            .arg(&target_dir)
            .stderr(Stdio::piped());
        match &self.model {
            Some(m) => cmd.env("VAE_MODEL", m),
            None => cmd.env_remove("VAE_MODEL"),
        };
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        let out = cmd.output().map_err(|source| Error::Spawn { command: "cargo".into(), source })?;
        if !out.status.success() {
            return Err(Error::Build {
                status: out.status.code().unwrap_or(-1),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        Ok(target_dir.join(target).join("firmware").join(bin))
    }
}

/// Builds the stand-alone firmware template (`firmware/template`: its own workspace, lock
/// file and `.cargo/config.toml`, as a user's firmware has) with `model` embedded
/// (`VAE_MODEL`), into `target_dir`; returns the ELF.
pub fn build_template(model: &Path, target_dir: &Path) -> Result<PathBuf, Error> {
    let dir = workspace_root().join("firmware").join("template");
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        // Cargo reads `.cargo/config.toml` from the directory it runs in.
        .current_dir(&dir)
        .args(["build", "-q", "--release", "--locked", "--target-dir"])
        .arg(target_dir)
        .env("VAE_MODEL", model)
        .stderr(Stdio::piped())
        .output()
        .map_err(|source| Error::Spawn { command: "cargo".into(), source })?;
    if !out.status.success() {
        return Err(Error::Build {
            status: out.status.code().unwrap_or(-1),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(target_dir.join("thumbv7em-none-eabihf").join("release").join("vae-firmware-template"))
}

/// What a QEMU run produced.
#[derive(Clone, Debug)]
pub struct Run {
    /// Exit status through semihosting (0 = ran to the end).
    pub status: i32,
    /// The decoded defmt log, one entry per line.
    pub lines: Vec<String>,
    /// Raw bytes QEMU wrote to its stdout.
    pub raw: Vec<u8>,
}

/// The QEMU command line for `elf` with program arguments `args` (semihosting `arg=`) on the
/// default machine.
pub fn qemu_command(elf: &Path, args: &[&str]) -> Command {
    qemu_command_on(Machine::default(), elf, args)
}

/// [`qemu_command`] on `machine`.
pub fn qemu_command_on(machine: Machine, elf: &Path, args: &[&str]) -> Command {
    // Commas inside a -semihosting-config value are written twice.
    let esc = |s: &str| s.replace(',', ",,");
    let mut config = format!("enable=on,target=native,arg={}", esc(&elf.display().to_string()));
    for a in args {
        config.push_str(&format!(",arg={}", esc(a)));
    }
    let mut cmd = Command::new("qemu-system-arm");
    cmd.args([
        "-cpu",
        machine.cpu(),
        "-machine",
        machine.name(),
        "-nographic",
        "-semihosting-config",
        &config,
    ])
    .arg("-kernel")
    .arg(elf);
    cmd
}

/// Runs `elf` in QEMU with `args`, waits at most `timeout`, and decodes its defmt log.
pub fn run(elf: &Path, args: &[&str], timeout: Duration) -> Result<Run, Error> {
    run_with(Machine::default(), elf, args, None, timeout)
}

/// [`run`] on `machine`, with QEMU started in `dir` when given (where relative semihosting
/// paths resolve).
pub fn run_with(
    machine: Machine,
    elf: &Path,
    args: &[&str],
    dir: Option<&Path>,
    timeout: Duration,
) -> Result<Run, Error> {
    let mut cmd = qemu_command_on(machine, elf, args);
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let mut child =
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().map_err(
            |source| Error::Spawn {
                command: "qemu-system-arm (install the Debian package qemu-system-arm)".into(),
                source,
            },
        )?;
    let mut stdout = child.stdout.take().ok_or_else(|| Error::Spawn {
        command: "qemu-system-arm".into(),
        source: std::io::Error::other("no stdout"),
    })?;
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|source| Error::Spawn { command: "qemu".into(), source })? {
            break s;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Timeout(timeout));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let raw = reader.join().unwrap_or_default();
    let lines = decode(elf, &raw)?;
    Ok(Run { status: status.code().unwrap_or(-1), lines, raw })
}

/// Decodes defmt frames written by the firmware `elf`.
pub fn decode(elf: &Path, bytes: &[u8]) -> Result<Vec<String>, Error> {
    let elf_bytes = std::fs::read(elf).map_err(|source| Error::Io { path: elf.to_path_buf(), source })?;
    let table = defmt_decoder::Table::parse(&elf_bytes)
        .map_err(|e| Error::Defmt { path: elf.to_path_buf(), message: e.to_string() })?
        .ok_or_else(|| Error::Defmt { path: elf.to_path_buf(), message: "no .defmt section".into() })?;
    let mut decoder = table.new_stream_decoder();
    decoder.received(bytes);
    let mut lines = Vec::new();
    loop {
        match decoder.decode() {
            Ok(frame) => lines.push(frame.display_message().to_string()),
            Err(defmt_decoder::DecodeError::UnexpectedEof) => break,
            Err(defmt_decoder::DecodeError::Malformed) => {
                return Err(Error::Defmt { path: elf.to_path_buf(), message: "malformed frame".into() })
            }
        }
    }
    Ok(lines)
}
