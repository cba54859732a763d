//! `cargo xtask <task>`: the project's entry points.
//!
//! * `test`: every test: host crates, the no_std build, every firmware board, the firmware
//!   self-test and end-to-end tests in QEMU, the CUDA type-check.
//! * `demo`: the end-to-end demo (simulated machine -> train -> firmware in QEMU -> table).

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("demo") => demo(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <test|demo>\n  test   run every test (host, no_std build, firmware in QEMU)\n  demo   train on a simulated machine and score it on the emulated device");
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

/// Makes sure `qemu-system-arm` is installed: installs the Debian package when running as
/// root with apt, otherwise says exactly what to install.
pub fn ensure_qemu() -> Result<(), String> {
    if Command::new("qemu-system-arm").arg("--version").output().is_ok_and(|o| o.status.success()) {
        return Ok(());
    }
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
    let apt = Command::new("apt-get").arg("--version").output().is_ok();
    if root && apt {
        eprintln!("qemu-system-arm is missing: installing the Debian package");
        run("apt-get", &["update", "-q"], &[])?;
        run(
            "apt-get",
            &["install", "-y", "-q", "qemu-system-arm"],
            &[("DEBIAN_FRONTEND", "noninteractive")],
        )?;
        return Ok(());
    }
    Err("qemu-system-arm is not installed: install it (Debian/Ubuntu: `sudo apt-get install qemu-system-arm`, \
         macOS: `brew install qemu`) and run again"
        .into())
}

fn test() -> Result<(), String> {
    ensure_qemu()?;
    // Host crates: unit, property, integration and end-to-end tests (the e2e tests build the
    // firmware and run it in QEMU).
    cargo(&["test", "--workspace", "--exclude", "firmware"])?;
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
    for features in ["qemu", "qemu,bench", "nrf52840"] {
        let mut a = vec!["build"];
        a.extend(fw);
        a.extend(["--features", features]);
        cargo(&a)?;
    }
    let mut a = vec!["run"];
    a.extend(fw);
    a.extend(["--features", "qemu", "--bin", "selftest"]);
    cargo(&a)?;
    // The CUDA code type-checks without a GPU or toolkit.
    cargo(&["check", "-p", "vae-train", "--features", "cuda-ci-check"])?;
    eprintln!("\nall tests passed");
    Ok(())
}

fn demo(_args: &[String]) -> Result<(), String> {
    Err("the demo is not built yet".into())
}
