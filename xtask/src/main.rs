//! `cargo xtask <task>`: the project's entry points.
//!
//! * `test`: every test: host crates, the no_std build, every firmware board, the firmware
//!   self-test and end-to-end tests in QEMU, the CUDA type-check, and a short bounded fuzz
//!   pass when cargo-fuzz is installed.
//! * `demo`: the end-to-end demo (simulated machine -> train -> firmware in QEMU -> table).
//! * `eval-real`: train and evaluate on SKAB, NAB and CWRU (`../shared/data`), one table.
//! * `capture`: record training data from a board (or QEMU replaying a CSV) into a CSV.
//! * `monitor`: watch a device's decisions live; write them as `vae-train score` does.
//! * `doctor`: only the check the firmware tasks run first (see [`toolchain`]): the target and
//!   components of `rust-toolchain.toml` and QEMU, installed when missing.
//!
//! `test`, `demo`, `bench-device` and `qemu` first make sure the active toolchain has the
//! target and components `rust-toolchain.toml` lists and that QEMU is installed, installing
//! what is missing or stopping at once with the exact command to run.

mod bench_device;
mod capture;
mod demo;
mod eval_real;
mod monitor;
mod run_qemu;
mod toolchain;

use std::process::{Command, ExitCode};
pub use toolchain::ensure_qemu;
use toolchain::Needs;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map(String::as_str);
    // What the task needs is checked (and installed) before anything is built.
    let needs = match task {
        Some("test" | "demo" | "bench-device" | "qemu" | "doctor") => Some(Needs::FIRMWARE),
        // QEMU only for `--board qemu`, checked by the task.
        Some("capture" | "monitor") => Some(Needs { rust: true, qemu: false }),
        _ => None,
    };
    let checked = needs.map(toolchain::ensure).transpose();
    let result = match (task, checked) {
        (_, Err(e)) => Err(e),
        (Some("doctor"), Ok(found)) => {
            for line in found.map(|f| f.lines).unwrap_or_default() {
                println!("{line}");
            }
            Ok(())
        }
        (Some("test"), _) => test(),
        (Some("demo"), _) => demo(&args[1..]),
        (Some("eval-real"), _) => eval_real::run(&args[1..]),
        (Some("bench-device"), _) => bench_device::run(),
        (Some("capture"), _) => capture::run(&args[1..]),
        (Some("monitor"), _) => match monitor::run(&args[1..]) {
            Ok(0) => Ok(()),
            Ok(status) => return ExitCode::from(u8::try_from(status).unwrap_or(1)),
            Err(e) => Err(e),
        },
        (Some("qemu"), _) => match run_qemu::run(&args[1..]) {
            Ok(0) => Ok(()),
            Ok(status) => return ExitCode::from(u8::try_from(status).unwrap_or(1)),
            Err(e) => Err(e),
        },
        _ => {
            eprintln!("usage: cargo xtask <test|demo|bench-device|eval-real|capture|monitor|doctor>\n  test          run every test (host, no_std build, firmware in QEMU)\n  demo          train on a simulated machine and score it on the emulated device\n  bench-device  instructions per scored window and flash/RAM of the firmware\n  eval-real     train and evaluate on the real data sets of ../shared/data, print the table\n  capture       record training data from a board (nrf52840) or QEMU replaying a CSV\n  monitor       watch a device's decisions live and write them as a score CSV\n  doctor        check (and install) the firmware target, the components of rust-toolchain.toml and QEMU");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a command from the workspace root, echoing it; an unsuccessful exit is an error.
fn run(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
    eprintln!("\n==> {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(vae_e2e::qemu::workspace_root())
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

fn cargo(args: &[&str]) -> Result<(), String> {
    run("cargo", args, &[])
}

/// `cargo xtask test`; [`toolchain::ensure`] has run first.
fn test() -> Result<(), String> {
    // Host crates: unit, property, integration and end-to-end tests (the e2e tests build the
    // firmware and run it in QEMU). They include the reliability tests: the bad-input corpus
    // through the CLI, SIGKILL/resume, divergence, atomic writes, the fuzz corpus replay
    // (`vae-train/tests/reliability_*`), hostile models and samples in QEMU and the
    // no-panic check of the firmware image (`tests/tests/reliability_*`).
    cargo(&["test", "--workspace", "--exclude", "firmware"])?;
    fuzz_pass()?;
    // The fast-math variant has its own error bounds.
    cargo(&["test", "-p", "vae-core", "--features", "fast-math"])?;
    // no_std, no allocator: vae-core builds for the microcontroller, with every feature.
    cargo(&["build", "-p", "vae-core", "--target", "thumbv7em-none-eabihf", "--release"])?;
    cargo(&[
        "build",
        "-p",
        "vae-core",
        "--target",
        "thumbv7em-none-eabihf",
        "--release",
        "--features",
        "arm-vfma,defmt,fast-math",
    ])?;
    // Every board builds; the self-test runs on the emulated Cortex-M4F.
    let fw = [
        "-p",
        "firmware",
        "--target",
        "thumbv7em-none-eabihf",
        "--profile",
        "firmware",
        "--no-default-features",
    ];
    for features in ["qemu", "qemu,bench", "nrf52840", "netduinoplus2", "stm32f411"] {
        let mut a = vec!["build"];
        a.extend(fw);
        a.extend(["--features", features]);
        cargo(&a)?;
    }
    // The Cortex-M33 image (Armv8-M Mainline; it runs in QEMU in `tests/tests/device_cores.rs`).
    cargo(&[
        "build",
        "-p",
        "firmware",
        "--target",
        "thumbv8m.main-none-eabihf",
        "--profile",
        "firmware",
        "--no-default-features",
        "--features",
        "mps2-an505",
    ])?;
    let mut a = vec!["run"];
    a.extend(fw);
    a.extend(["--features", "qemu", "--bin", "selftest"]);
    cargo(&a)?;
    // vae-core and vae-build package and build on their own, as a user's firmware gets them
    // (their manifests do not lean on this workspace).
    cargo(&["package", "-q", "-p", "vae-core", "-p", "vae-build", "--allow-dirty"])?;
    // The CUDA code type-checks without a GPU or toolkit.
    cargo(&["check", "-p", "vae-train", "--features", "cuda-ci-check"])?;
    eprintln!("\nall tests passed");
    Ok(())
}

/// A short coverage-guided pass over every fuzz target (`VAE_FUZZ_SECONDS` each, 20 by
/// default, 0 to skip), when cargo-fuzz and a nightly toolchain are installed. New inputs go
/// to `fuzz/corpus-new/` (not committed); a crash fails the run and leaves its reproducer in
/// `fuzz/artifacts/`. The committed corpus is replayed by `cargo test` regardless.
fn fuzz_pass() -> Result<(), String> {
    let seconds: u32 = match std::env::var("VAE_FUZZ_SECONDS") {
        Ok(s) => {
            s.parse().map_err(|_| format!("VAE_FUZZ_SECONDS must be a number of seconds, found {s:?}"))?
        }
        Err(_) => 20,
    };
    if seconds == 0 {
        return Ok(());
    }
    let installed = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .current_dir(vae_e2e::qemu::workspace_root())
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        eprintln!(
            "\nnote: skipping the bounded fuzz pass: cargo-fuzz or a nightly toolchain is missing \
             (`rustup toolchain install nightly && cargo +nightly install cargo-fuzz`); \
             the fuzz corpus was replayed by `cargo test`"
        );
        return Ok(());
    }
    let root = vae_e2e::qemu::workspace_root();
    for target in ["model_file", "csv", "npy", "npz"] {
        let work = format!("fuzz/corpus-new/{target}");
        std::fs::create_dir_all(root.join(&work)).map_err(|e| format!("{work}: {e}"))?;
        let seeds = format!("fuzz/corpus/{target}");
        let time = format!("-max_total_time={seconds}");
        let dict = format!("-dict=fuzz/dict/{target}.dict");
        cargo(&[
            "+nightly",
            "fuzz",
            "run",
            "--fuzz-dir",
            "fuzz",
            target,
            &work,
            &seeds,
            "--",
            &time,
            &dict,
            "-timeout=10",
        ])?;
    }
    Ok(())
}

fn demo(args: &[String]) -> Result<(), String> {
    demo::run(args)
}
