//! `cargo xtask bench-device`: the cost of scoring on the Cortex-M4F, as repeatable figures.
//!
//! QEMU does not model cycles, so the figure is the number of guest instructions executed
//! per scored window, counted by the `qemu-insn-count` plugin (shared/tools) between the
//! firmware's `bench_begin` and `bench_end` markers (`bench` feature). Divided by the
//! model's multiply-accumulates it gives instructions per MAC. Flash and static RAM come
//! from the ELF's sections (`llvm-size`), for the QEMU and the nRF52840 builds.

use std::path::{Path, PathBuf};
use std::process::Command;
use vae_e2e::qemu;

fn tool(name: &str) -> Result<PathBuf, String> {
    let out = Command::new("rustc").arg("-vV").output().map_err(|e| format!("rustc: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let host = text.lines().find_map(|l| l.strip_prefix("host: ")).ok_or("rustc -vV: no host line")?;
    let sysroot =
        Command::new("rustc").args(["--print", "sysroot"]).output().map_err(|e| format!("rustc: {e}"))?;
    let p = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim())
        .join("lib/rustlib")
        .join(host)
        .join("bin")
        .join(name);
    if p.exists() {
        Ok(p)
    } else {
        Err(format!("{} not found: `rustup component add llvm-tools`", p.display()))
    }
}

/// The first symbol of `elf` whose name passes `pick`, as (address, name).
fn find_symbol(elf: &Path, pick: impl Fn(&str) -> bool) -> Result<(String, String), String> {
    let out = Command::new(tool("llvm-nm")?).arg(elf).output().map_err(|e| format!("llvm-nm: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3 && pick(f[2])).then(|| (format!("0x{}", f[0]), f[2].to_string()))
        })
        .ok_or_else(|| format!("symbol not found in {}", elf.display()))
}

fn symbol(elf: &Path, name: &str) -> Result<String, String> {
    find_symbol(elf, |n| n == name).map(|(addr, _)| addr).map_err(|e| format!("{name}: {e}"))
}

/// (flash, static RAM) in bytes: text + rodata + data + vectors, and data + bss + uninit.
fn sizes(elf: &Path) -> Result<(u64, u64), String> {
    let out = Command::new(tool("llvm-size")?)
        .args(["-A"])
        .arg(elf)
        .output()
        .map_err(|e| format!("llvm-size: {e}"))?;
    let (mut flash, mut ram) = (0, 0);
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 3 {
            continue;
        }
        let size: u64 = f[1].parse().unwrap_or(0);
        match f[0] {
            ".vector_table" | ".text" | ".rodata" => flash += size,
            ".data" => {
                flash += size;
                ram += size;
            }
            ".bss" | ".uninit" => ram += size,
            _ => {}
        }
    }
    Ok((flash, ram))
}

/// Bytes of stack the firmware's main function reserves in its prologue (pushed registers
/// and locals): where the detector, the model's precomputed constants and the score's
/// buffers live. What the functions it calls add is small (the kernels push at most 96).
fn main_frame(elf: &Path) -> Result<u64, String> {
    let (_, name) = find_symbol(elf, |n| n.contains("__cortex_m_rt_main") && !n.contains("trampoline"))
        .map_err(|e| format!("main function: {e}"))?;
    let out = Command::new(tool("llvm-objdump")?)
        .args(["-d", "--no-show-raw-insn", &format!("--disassemble-symbols={name}")])
        .arg(elf)
        .output()
        .map_err(|e| format!("llvm-objdump: {e}"))?;
    let mut frame = 0;
    let text = String::from_utf8_lossy(&out.stdout);
    // Instruction lines: "     3dc:      \tpush\t{r4, r5, r7, lr}".
    let insns = text.lines().filter_map(|l| {
        let (addr, rest) = l.split_once(':')?;
        u64::from_str_radix(addr.trim(), 16).ok()?;
        Some(rest.trim().replacen('\t', " ", 1))
    });
    for insn in insns.take(8) {
        let insn = insn.as_str();
        let words = |list: &str| list.split(',').count() as u64;
        if let Some(regs) = insn.strip_prefix("push").and_then(|r| r.trim().strip_prefix('{')) {
            frame += 4 * words(regs.trim_end_matches('}'));
        } else if let Some(regs) = insn.strip_prefix("vpush").and_then(|r| r.trim().strip_prefix('{')) {
            let regs = regs.trim_end_matches('}');
            let n: u64 = match regs.split_once('-') {
                Some((a, b)) => {
                    let num = |r: &str| r.trim().trim_start_matches(['s', 'd']).parse::<u64>().unwrap_or(0);
                    num(b) - num(a) + 1
                }
                None => words(regs),
            };
            frame += if regs.trim_start().starts_with('d') { 8 * n } else { 4 * n };
        } else if insn.starts_with("sub") && insn.contains("sp, ") {
            if let Some(imm) = insn.rsplit('#').next() {
                let imm = imm.trim();
                frame += match imm.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16).unwrap_or(0),
                    None => imm.parse().unwrap_or(0),
                };
            }
        }
    }
    Ok(frame)
}

/// Per scored window (mean over the windows of `csv`): instructions and estimated Cortex-M4F
/// cycles.
fn count(machine: qemu::Machine, elf: &Path, csv: &Path) -> Result<(f64, f64), String> {
    let tools = qemu::workspace_root().join("..").join("shared").join("tools").join("qemu-insn-count");
    let build = qemu::workspace_root().join("target").join("qemu-insn-count");
    let out = Command::new("sh")
        .arg(tools.join("build.sh"))
        .arg(&build)
        .output()
        .map_err(|e| format!("{}: {e}", tools.display()))?;
    if !out.status.success() {
        return Err(format!(
            "building the QEMU instruction-count plugin failed (needs ../shared/tools/qemu-insn-count, apt access and root): {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let plugin = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let (b, e) = (symbol(elf, "bench_begin")?, symbol(elf, "bench_end")?);
    let mut cmd = qemu::qemu_command_on(machine, elf, &[csv.to_str().unwrap_or_default()]);
    cmd.args(["-icount", "shift=0", "-plugin", &format!("{plugin},begin={b},end={e}"), "-d", "plugin"]);
    let out = cmd.output().map_err(|e| format!("qemu-system-arm: {e}"))?;
    let text = String::from_utf8_lossy(&out.stderr);
    let line = text
        .lines()
        .find(|l| l.starts_with("total insns"))
        .ok_or_else(|| format!("no plugin output:\n{text}"))?;
    let num = |key: &str| -> u64 {
        line.split(',')
            .find_map(|p| p.trim().strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let (windows, sum, cycles) = (num("windows:"), num("window sum:"), num("window cycles:"));
    if windows == 0 {
        return Err("no window was scored".into());
    }
    if cycles == 0 {
        return Err(format!("the plugin printed no cycle estimate (an old qemu-insn-count?): {line}"));
    }
    Ok((sum as f64 / windows as f64, cycles as f64 / windows as f64))
}

use vae_e2e::vae_train;

/// The nRF52840's core clock, Hz.
const NRF_HZ: f64 = 64e6;

/// `cargo xtask bench-device`.
pub fn run() -> Result<(), String> {
    crate::ensure_qemu()?;
    let dir = qemu::workspace_root().join("target").join("bench-device");
    let data = dir.join("data");
    let d = |p: &Path| p.to_str().unwrap_or_default().to_string();
    vae_train(&["synth", "--out", &d(&data), "--train-rows", "4000", "--test-rows", "1000", "--force"])?;
    // Raw-window models of the two reference shapes: 64 inputs (16 samples x 4 channels),
    // 32 hidden, 8 latent; and 128 inputs (32 x 4), 64 hidden, 8 latent. Their weights do not
    // change the instruction count, so a short training is enough.
    let train = d(&data.join("train.csv"));
    let mut models: Vec<(String, Option<PathBuf>)> =
        vec![("default (spectrum front end, 36-32-8)".into(), None)];
    for (name, window, hidden) in [("64-32-8", "16", "32"), ("128-64-8", "32", "64")] {
        let out = d(&dir.join(format!("{name}.vaem")));
        let mut args = vec![
            "fit",
            "--no-auto",
            "--data",
            &train,
            "--window",
            window,
            "--hop",
            "8",
            "--hidden",
            hidden,
            "--latent",
            "8",
        ];
        args.extend(["--epochs", "3", "--quiet", "--force", "--out", &out]);
        vae_train(&args)?;
        models.push((format!("{name} (raw windows)"), Some(PathBuf::from(&out))));
        // The same model with its weights stored in f16 and in int8.
        if name == "64-32-8" {
            let full = vae_train::OwnedModel::load(Path::new(&out)).map_err(|e| e.to_string())?;
            for enc in [vae_core::weights::Encoding::F16, vae_core::weights::Encoding::Int8] {
                let mut m = full.clone();
                m.meta.weights = enc;
                let path = dir.join(format!("{name}-{}.vaem", enc.name()));
                m.save(&path).map_err(|e| e.to_string())?;
                models.push((format!("{name} ({} weights)", enc.name()), Some(path)));
            }
        }
    }
    let csv = data.join("test.csv");
    println!(
        "\n{:<40} {:>6} {:>13} {:>10} {:>14} {:>10} {:>13} {:>14} {:>22} {:>22} {:>11}",
        "model",
        "MACs",
        "instr/window",
        "instr/MAC",
        "cycles/window",
        "cycles/MAC",
        "µs at 64 MHz",
        "max rate (Hz)",
        "flash qemu / nrf52840",
        "static RAM qemu / nrf",
        "main stack"
    );
    for (name, model) in models {
        let target = Some(qemu::workspace_root().join("target").join("bench-firmware"));
        // Images of f16 or int8 weights need their reader; f32 images go without it.
        let compact = name.contains("f16") || name.contains("int8");
        let mut features = vec!["bench".to_string()];
        let board_features: Vec<String> = if compact { vec!["compact-weights".into()] } else { Vec::new() };
        features.extend(board_features.iter().cloned());
        let bench =
            qemu::Build { model: model.clone(), features, target_dir: target.clone(), ..Default::default() }
                .run("firmware")
                .map_err(|e| e.to_string())?;
        let (per_window, cycles) = count(qemu::Machine::default(), &bench, &csv)?;
        let loaded = vae_train::OwnedModel::load(
            &model.clone().unwrap_or_else(|| qemu::workspace_root().join("firmware/models/default.vaem")),
        )
        .map_err(|e| e.to_string())?;
        let macs = loaded.net.layers().map(|l| l.inputs * l.outputs).sum::<usize>();
        // One window is scored every `hop` samples: the scoring keeps up while a hop's worth
        // of sampling periods holds the window's cycles.
        let max_rate = NRF_HZ * loaded.meta.hop as f64 / cycles;
        let qemu_elf = qemu::Build {
            model: model.clone(),
            features: board_features.clone(),
            target_dir: target.clone(),
            ..Default::default()
        }
        .run("firmware")
        .map_err(|e| e.to_string())?;
        let (qf, qr) = sizes(&qemu_elf)?;
        let nrf = qemu::Build {
            model: model.clone(),
            board: Some("nrf52840".into()),
            features: board_features,
            target_dir: target,
            ..Default::default()
        }
        .run("firmware")
        .map_err(|e| e.to_string())?;
        let (nf, nr) = sizes(&nrf)?;
        let stack = main_frame(&nrf)?;
        println!(
            "{:<40} {:>6} {:>13.0} {:>10.2} {:>14.0} {:>10.2} {:>13.0} {:>14.0} {:>22} {:>22} {:>11}",
            name,
            macs,
            per_window,
            per_window / macs as f64,
            cycles,
            cycles / macs as f64,
            cycles / NRF_HZ * 1e6,
            max_rate,
            format!("{qf} / {nf} B"),
            format!("{qr} / {nr} B"),
            format!("{stack} B")
        );
    }
    per_core(&dir, &csv)?;
    println!("\n(instructions counted under QEMU mps2-an386 between bench_begin and bench_end, i.e. one scored window: window copy, finite check, front end, encoder, decoder, likelihood, KL, smoothing, decision; cycles: the shared tool's Cortex-M4F estimate from the Technical Reference Manual's timings, zero wait states; µs and max rate at the nRF52840's 64 MHz, the rate the scoring alone keeps up with, one window every hop samples; main stack: the nRF52840 image's main frame)");
    Ok(())
}

/// Instructions per MAC of the 64-32-8 model on every core QEMU emulates (the same Rust code;
/// the Cortex-M33 image is built for Armv8-M Mainline). The cycle estimate models the
/// Cortex-M4F only: the M7's dual-issue pipeline and the M33's timings differ.
fn per_core(dir: &Path, csv: &Path) -> Result<(), String> {
    let model = dir.join("64-32-8.vaem");
    let macs = vae_train::OwnedModel::load(&model)
        .map_err(|e| e.to_string())?
        .net
        .layers()
        .map(|l| l.inputs * l.outputs)
        .sum::<usize>();
    println!(
        "\n{:<28} {:>13} {:>10}   (64-32-8, raw windows)",
        "core (QEMU machine)", "instr/window", "instr/MAC"
    );
    for machine in qemu::Machine::ALL {
        let elf = qemu::Build {
            model: Some(model.clone()),
            features: vec!["bench".into()],
            machine,
            target_dir: Some(qemu::workspace_root().join("target").join("bench-cores")),
            ..Default::default()
        }
        .run("firmware")
        .map_err(|e| e.to_string())?;
        let (per_window, _) = count(machine, &elf, csv)?;
        println!(
            "{:<40} {:>13.0} {:>10.2}",
            format!("{} ({})", machine.core(), machine.name()),
            per_window,
            per_window / macs as f64
        );
    }
    Ok(())
}
