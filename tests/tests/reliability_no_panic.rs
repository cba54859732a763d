//! No panic is reachable from the scoring path of the firmware image.
//!
//! The firmware is built as shipped (`--profile firmware`: fat LTO, `panic = "abort"`) for a
//! deterministic and an importance-weighted model on raw windows (the sampled path links the
//! noise generator and the log-sum-exp), and an ELBO model on the spectrum front end (the
//! FFT) with a wandering channel and smoothed decisions. The image is disassembled with `llvm-objdump` (rustup
//! component `llvm-tools`) and:
//!
//! 1. the functions that can reach the panic handler (`rust_begin_unwind`) are found by
//!    walking the call graph backwards from it (direct calls, tail calls, conditional
//!    branches between functions);
//! 2. the *scoring code* is every function of `vae-core` left out of line, except the
//!    model-file reader and the error's log formatting (both run once at boot, before any
//!    window, and refuse a bad file with an error: the reader is fuzzed, see
//!    `docs/fuzzing.md`), plus everything those functions call (the matrix-vector kernel,
//!    `libm`); none of it may reach the panic handler, and none may call through a
//!    register (which the graph could not follow);
//! 3. the scoring code LTO inlined into the firmware's main loop is judged by the panic
//!    sites left there: each call to a panicking function passes the `core::panic::Location`
//!    of the source line that would panic (`#[track_caller]` carries the caller's line for
//!    indexing, `unwrap`, `assert!`...). Every such site must lie in the board's sample
//!    source or logger (`firmware/src/board/`, `semihosting`, `defmt`), never in `vae-core`,
//!    the firmware's scoring wrapper or an unattributable library line, and every call to a
//!    panicking function without a location must go to the logger or the board.
//!
//! The logger (defmt over semihosting) and the CSV source can panic (e.g. on a re-entrant
//! log call): that is outside the scoring path and allowed; the test prints them.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use vae_core::model_file::{Calibration, Features, Transform};
use vae_core::{Activation, ScoreConfig, ScoreKind};
use vae_e2e::qemu;
use vae_train::model::{Layer, ModelMeta, Network, OwnedModel};

/// `llvm-objdump` of the active toolchain (`rustup component add llvm-tools`).
fn objdump() -> PathBuf {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = |args: &[&str]| {
        let o = Command::new(&rustc).args(args).output().expect("run rustc");
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let sysroot = out(&["--print", "sysroot"]);
    let verbose = out(&["-vV"]);
    let host = verbose.lines().find_map(|l| l.strip_prefix("host: ")).expect("rustc host");
    let path = Path::new(&sysroot).join("lib/rustlib").join(host).join("bin/llvm-objdump");
    assert!(path.is_file(), "{} not found: run `rustup component add llvm-tools`", path.display());
    path
}

/// Sections of a 32-bit little-endian ELF: (address, bytes) of every allocated section
/// with contents.
struct Image {
    sections: Vec<(u32, Vec<u8>)>,
}

impl Image {
    fn load(path: &Path) -> Self {
        let d = std::fs::read(path).unwrap();
        assert_eq!(&d[..6], b"\x7fELF\x01\x01", "not a 32-bit little-endian ELF");
        let u16_at = |o: usize| u16::from_le_bytes([d[o], d[o + 1]]) as usize;
        let u32_at = |o: usize| u32::from_le_bytes([d[o], d[o + 1], d[o + 2], d[o + 3]]);
        let (shoff, shentsize, shnum) = (u32_at(0x20) as usize, u16_at(0x2e), u16_at(0x30));
        let mut sections = Vec::new();
        for i in 0..shnum {
            let h = shoff + i * shentsize;
            let (typ, flags, addr, off, size) = (
                u32_at(h + 4),
                u32_at(h + 8),
                u32_at(h + 12),
                u32_at(h + 16) as usize,
                u32_at(h + 20) as usize,
            );
            // SHF_ALLOC, not SHT_NOBITS.
            if flags & 2 != 0 && typ != 8 && size > 0 {
                sections.push((addr, d[off..off + size].to_vec()));
            }
        }
        Self { sections }
    }

    fn read(&self, addr: u32, len: usize) -> Option<&[u8]> {
        self.sections.iter().find_map(|(a, bytes)| {
            let start = addr.checked_sub(*a)? as usize;
            bytes.get(start..start.checked_add(len)?)
        })
    }

    fn word(&self, addr: u32) -> Option<u32> {
        self.read(addr, 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The `core::panic::Location` at `addr` (file, line, column), if one is there.
    fn location(&self, addr: u32) -> Option<String> {
        let (ptr, len) = (self.word(addr)?, self.word(addr + 4)? as usize);
        let (line, col) = (self.word(addr + 8)?, self.word(addr + 12)?);
        if len == 0 || len > 400 || line == 0 {
            return None;
        }
        let file = std::str::from_utf8(self.read(ptr, len)?).ok()?;
        file.ends_with(".rs").then(|| format!("{file}:{line}:{col}"))
    }
}

struct Insn {
    addr: u32,
    op: String,
    args: String,
}

/// The disassembly, function by function.
fn disassemble(elf: &Path) -> Vec<(String, Vec<Insn>)> {
    let out = Command::new(objdump())
        .args(["-d", "-C", "--no-show-raw-insn"])
        .arg(elf)
        .output()
        .expect("run llvm-objdump");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut funcs: Vec<(String, Vec<Insn>)> = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(name) = line.strip_suffix(">:").and_then(|l| l.split_once(" <")).map(|(_, n)| n) {
            funcs.push((name.to_string(), Vec::new()));
            continue;
        }
        let Some((addr, rest)) = line.trim_start().split_once(':') else { continue };
        let (Ok(addr), Some((_, insns))) = (u32::from_str_radix(addr, 16), funcs.last_mut()) else {
            continue;
        };
        let rest = rest.trim();
        let (op, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        insns.push(Insn { addr, op: op.to_string(), args: args.trim().to_string() });
    }
    funcs
}

/// The function a branch goes to (`bl 0x2edc <core::panicking::panic_bounds_check> @ ...`),
/// when it is the start of a function.
fn branch_target(i: &Insn) -> Option<&str> {
    let op = i.op.as_str();
    let branch = matches!(op, "b" | "bl" | "blx" | "b.w" | "cbz" | "cbnz")
        || (op.starts_with('b') && (op.len() == 3 || (op.len() == 5 && op.ends_with(".w"))));
    if !branch {
        return None;
    }
    let body = i.args.split(" @ ").next()?;
    let start = body.find(" <")? + 2;
    let target = body[start..].strip_suffix('>')?;
    (!target.contains("+0x")).then_some(target)
}

/// A call through a register (`blx r3`, `bx r2`), which the call graph cannot follow.
fn indirect(i: &Insn) -> bool {
    matches!(i.op.as_str(), "blx" | "bx") && i.args.starts_with('r')
}

/// Whether an instruction ends a basic block (a branch that does not return, a return).
fn ends_block(i: &Insn) -> bool {
    let op = i.op.as_str();
    (op.starts_with('b') && op != "bl" && op != "blx" && !op.starts_with("bic") && !op.starts_with("bfi"))
        || op.starts_with("cb")
        || (op.starts_with("pop") && i.args.contains("pc"))
        || (op.starts_with("ldm") && i.args.contains("pc"))
}

/// The panic location passed to the call at `insns[at]`: the last `Location` address built
/// by a `movw`/`movt` pair, or loaded from a literal pool, in the call's basic block.
fn location_before(image: &Image, insns: &[Insn], at: usize) -> Option<String> {
    let mut start = at;
    while start > 0 && at - start < 16 && !ends_block(&insns[start - 1]) {
        start -= 1;
    }
    let mut regs: HashMap<String, u32> = HashMap::new();
    let mut found = None;
    for i in &insns[start..at] {
        let mut parts = i.args.splitn(2, ", #");
        let (reg, imm) = (parts.next().unwrap_or(""), parts.next());
        let imm = imm.and_then(|v| {
            let v = v.split_whitespace().next().unwrap_or("");
            v.strip_prefix("0x").map_or_else(|| v.parse().ok(), |h| u32::from_str_radix(h, 16).ok())
        });
        match (i.op.as_str(), imm) {
            ("movw", Some(v)) => {
                regs.insert(reg.to_string(), v);
            }
            ("movt", Some(v)) => {
                if let Some(lo) = regs.get(reg) {
                    let addr = (v << 16) | (lo & 0xffff);
                    found = image.location(addr).or(found);
                }
            }
            (op, _) if op.starts_with("ldr") => {
                if let Some(lit) = i.args.split("@ 0x").nth(1) {
                    let lit = lit.split_whitespace().next().unwrap_or("");
                    if let Some(addr) = u32::from_str_radix(lit, 16).ok().and_then(|a| image.word(a)) {
                        found = image.location(addr).or(found);
                    }
                }
            }
            _ => {}
        }
    }
    found
}

/// Scoring code left out of line: vae-core's functions but the boot-time model-file reader
/// and the error's log formatting, and the assembly kernels (`vae_core_*`).
fn is_scoring(name: &str) -> bool {
    name.starts_with("vae_core_")
        || (name.contains("vae_core")
            && !name.contains("model_file")
            && !name.contains("vae_core::error")
            && !name.contains("vae_core..error"))
}

/// Panic sites allowed outside the scoring path: the board (CSV replay over semihosting)
/// and the logger.
fn allowed_location(loc: &str) -> bool {
    loc.starts_with("firmware/src/board/") || loc.contains("/semihosting-") || loc.contains("/defmt")
}

/// Functions that may panic and that the firmware's main loop may call: the logger, the
/// semihosting host interface, the board, and the boot-time error formatting.
fn allowed_callee(name: &str) -> bool {
    name.starts_with("defmt::")
        || name.starts_with("_defmt_")
        || name.contains("semihosting")
        || name.starts_with("firmware::board::")
        || name.contains("vae_core..error..Error$u20$as$u20$defmt")
        || name == "<f32 as core::str::traits::FromStr>::from_str"
}

/// Checks one image; returns the panic sites it found outside the scoring path.
fn check(elf: &Path) -> Vec<String> {
    let image = Image::load(elf);
    let funcs = disassemble(elf);
    let names: HashSet<&str> = funcs.iter().map(|(n, _)| n.as_str()).collect();
    let mut calls: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (name, insns) in &funcs {
        let set = calls.entry(name.as_str()).or_default();
        for t in insns.iter().filter_map(branch_target) {
            if t != name && names.contains(t) {
                set.insert(t);
            }
        }
    }
    // 1. Everything that can reach the panic handler.
    let handler: Vec<&str> = names.iter().copied().filter(|n| n.ends_with("rust_begin_unwind")).collect();
    assert_eq!(handler.len(), 1, "no single panic handler in {}", elf.display());
    let mut panics: HashSet<&str> = handler.iter().copied().collect();
    loop {
        let more: Vec<&str> = calls
            .iter()
            .filter(|(f, callees)| !panics.contains(*f) && callees.iter().any(|c| panics.contains(c)))
            .map(|(f, _)| *f)
            .collect();
        if more.is_empty() {
            break;
        }
        panics.extend(more);
    }

    // 2. Out-of-line scoring code and all it calls: no panic, no indirect call.
    let mut scoring: Vec<&str> = names.iter().copied().filter(|n| is_scoring(n)).collect();
    assert!(scoring.contains(&"vae_core_matvec8_f32"), "the kernel is not in {}", elf.display());
    let mut seen: HashSet<&str> = HashSet::new();
    let mut problems = Vec::new();
    while let Some(f) = scoring.pop() {
        if !seen.insert(f) {
            continue;
        }
        if panics.contains(f) {
            problems.push(format!("scoring function {f} can reach the panic handler"));
        }
        if let Some((_, insns)) = funcs.iter().find(|(n, _)| n == f) {
            for i in insns.iter().filter(|i| indirect(i) && i.args != "lr") {
                problems.push(format!("scoring function {f} calls through a register at {:#x}", i.addr));
            }
        }
        scoring.extend(calls.get(f).into_iter().flatten().copied());
    }

    // 3. The code on the device's path that is not out-of-line scoring code: the main loop
    //    (with the scoring code LTO inlined into it) and the rest of vae-core. Each call to a
    //    panic primitive of `core` must carry a location in the board or the logger; each
    //    call to another panicking function must go to the board or the logger.
    let mut allowed = Vec::new();
    for (name, insns) in &funcs {
        if is_scoring(name) || handler.contains(&name.as_str()) || name.starts_with("core::panicking") {
            continue;
        }
        let on_device_path = name.contains("__cortex_m_rt_main") || name.contains("vae_core");
        for (k, i) in insns.iter().enumerate() {
            let Some(t) = branch_target(i).filter(|t| panics.contains(t)) else { continue };
            let site = format!("{:#x} in {name} -> {t}", i.addr);
            let primitive = t.starts_with("core::") || t.starts_with("<core::");
            if !primitive {
                if allowed_callee(t) || !on_device_path {
                    allowed.push(format!("{site} (a call into the logger, the board or a library)"));
                } else {
                    problems.push(format!("call to a panicking function: {site}"));
                }
                continue;
            }
            match location_before(&image, insns, k) {
                Some(loc) if allowed_location(&loc) || !on_device_path => {
                    allowed.push(format!("{site} at {loc}"))
                }
                Some(loc) => problems.push(format!("panic site: {site} at {loc}")),
                None if !on_device_path => allowed.push(site),
                None => problems.push(format!("panic site without a location: {site}")),
            }
        }
    }
    let mut checked: Vec<&str> = seen.into_iter().collect();
    checked.sort_unstable();
    eprintln!("{}: out-of-line scoring code checked: {}", elf.display(), checked.join(", "));
    assert!(
        problems.is_empty(),
        "{}: panic paths on the scoring path:\n{}",
        elf.display(),
        problems.join("\n")
    );
    allowed
}

fn layer(inputs: usize, outputs: usize, activation: Activation) -> Layer {
    let mut l = Layer::zeros(inputs, outputs, activation);
    for (k, w) in l.weight.iter_mut().enumerate() {
        *w = ((k * 13 % 17) as f32 - 8.0) / 32.0;
    }
    l
}

/// A calibrated model of the firmware's usual shape (4 channels, window 16, hidden 32,
/// latent 8) with the front end `transform`.
fn model(dir: &Path, kind: ScoreKind, samples: u16, transform: Transform) -> PathBuf {
    let (c, w, h, z) = (4, 16, 32, 8);
    let x = transform.input_len(w, c);
    let m = OwnedModel {
        meta: ModelMeta {
            weights: vae_core::weights::Encoding::F32,
            name: format!("nopanic-{}-{}", kind.name(), transform.name()),
            seed: 3,
            window: w,
            hop: 4,
            channels: ["vib_x", "vib_y", "temperature", "current"].map(String::from).to_vec(),
            norm_mean: vec![0.0; c],
            norm_std: vec![1.0; c],
            score: ScoreConfig::new(kind, samples).unwrap(),
            transform,
        },
        net: Network {
            encoder: vec![layer(x, h, Activation::Tanh)],
            mu: layer(h, z, Activation::Identity),
            log_var: layer(h, z, Activation::Identity),
            decoder: vec![layer(z, h, Activation::Tanh)],
            mean: layer(h, x, Activation::Identity),
            decoder_log_var: vec![0.0; x],
        },
        thresholds: vec![Calibration { quantile: 0.99, threshold: 100.0 }],
        alarm: vae_core::AlarmRule::STATIC,
    };
    let path = dir.join(format!("{}-{}.vaem", kind.name(), transform.name()));
    m.save(&path).unwrap();
    path
}

#[test]
fn no_panic_is_reachable_from_the_scoring_path_of_the_firmware() {
    let dir = tempfile::tempdir().unwrap();
    // Deterministic, sampled (noise, log-sum-exp), and a spectrum front end (FFT) with a
    // wandering channel and smoothed decisions.
    let spectrum = Transform { features: Features::Spectrum, wandering: 0b100, smoothing: 4 };
    for (kind, samples, transform) in [
        (ScoreKind::Deterministic, 1, Transform::Raw),
        (ScoreKind::Iwae, 4, Transform::Raw),
        (ScoreKind::Elbo, 2, spectrum),
    ] {
        let path = model(dir.path(), kind, samples, transform);
        let elf = qemu::Build {
            model: Some(path),
            target_dir: Some(qemu::workspace_root().join("target").join("e2e-reliability")),
            ..Default::default()
        }
        .run("firmware")
        .unwrap_or_else(|e| panic!("{e}"));
        let copy = dir.path().join(format!("{}-{}.elf", kind.name(), transform.name()));
        std::fs::copy(&elf, &copy).unwrap();
        let allowed = check(&copy);
        eprintln!("{}: panic sites outside the scoring path (allowed):", copy.display());
        for a in &allowed {
            eprintln!("  {a}");
        }
        // The check sees the board's panic sites, so it is not looking at an empty image.
        assert!(allowed.iter().any(|a| a.contains("firmware/src/board/")), "{allowed:?}");
    }
}
