//! Embeds the model file and derives every compile-time size from its header.
//!
//! * `VAE_MODEL` (default `models/default.vaem`, relative paths from the workspace root)
//!   names the model file. `vae-build` (the helper a user's firmware calls in one line)
//!   parses it with `vae-core` and writes its sizes, layer types and `detector()` to
//!   `$OUT_DIR/vae_model.rs`, which `vae_core::include_model!` brings in: a model of other
//!   sizes needs no code change, and a corrupt or unsupported file fails the build with the
//!   reader's error.
//! * The board feature picks the memory layout, which goes to OUT_DIR (a `memory.x` in the
//!   crate root would shadow it).
//! * `VAE_CAPTURE_CHANNELS` (default `ain0`): the comma-separated channel names the
//!   `capture` binary streams (channel `i` is the board's input `i`), and
//!   `VAE_SAMPLE_RATE_HZ` (default 100) its sampling rate and the scoring firmware's; written
//!   to `$OUT_DIR/capture.rs`.
//! * `VAE_EMBED_UNCHECKED` (tests only) names a file whose bytes are embedded *instead of*
//!   `VAE_MODEL`'s, without any check, while the sizes and types still come from
//!   `VAE_MODEL`: the image then holds a corrupted or mismatched model, as after a bad flash,
//!   so the tests can show that the firmware's boot-time check refuses it. Never set it for
//!   an image that is meant to score; the build prints a warning when it is set.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::{env, fs, process};

/// The source of `BUFFER_VALUES`, the size of the DMA buffers of a board with an ADC, written
/// before `BUFFER_FRAMES`: at most 64 values (i16) each, two buffers, 256 bytes of static RAM.
const BUFFER_VALUES_SRC: &str = "/// Values per DMA buffer at most (2 bytes each, two buffers).\n\
    pub const BUFFER_VALUES: usize = 64;\n\
    /// Scans of the `C` channels per DMA buffer.\n";

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    process::exit(1);
}

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());
    println!("cargo:rerun-if-changed=build.rs");

    let boards: Vec<&str> = ["qemu", "nrf52840", "stm32f411"]
        .into_iter()
        .filter(|b| env::var_os(format!("CARGO_FEATURE_{}", b.to_uppercase())).is_some())
        .collect();
    let board = match boards.as_slice() {
        [b] => *b,
        _ => fail(&format!(
            "firmware: enable exactly one board feature (qemu, nrf52840 or stm32f411), found {boards:?}; \
             e.g. --no-default-features --features nrf52840"
        )),
    };
    // QEMU machines other than the default mps2-an386 replay the same way with their own
    // memory maps.
    let machine = ["netduinoplus2", "mps2-an505"]
        .into_iter()
        .find(|m| env::var_os(format!("CARGO_FEATURE_{}", m.to_uppercase().replace('-', "_"))).is_some())
        .unwrap_or(board);
    let layout = manifest.join("memory").join(format!("{machine}.x"));
    if let Err(e) = fs::copy(&layout, out.join("memory.x")) {
        fail(&format!("{}: {e}", layout.display()));
    }
    println!("cargo:rerun-if-changed={}", layout.display());
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=--nmagic");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rustc-link-arg-bins=-Tdefmt.x");

    println!("cargo:rerun-if-env-changed=VAE_MODEL");
    println!("cargo:rerun-if-env-changed=VAE_SAMPLE_RATE_HZ");
    println!("cargo:rerun-if-env-changed=VAE_EMBED_UNCHECKED");
    println!("cargo:rerun-if-env-changed=VAE_CAPTURE_CHANNELS");
    let model = match env::var_os("VAE_MODEL") {
        Some(p) => {
            let p = PathBuf::from(p);
            // Relative paths are relative to the workspace root, where `cargo` is run.
            if p.is_absolute() {
                p
            } else {
                manifest.join("..").join(p)
            }
        }
        None => manifest.join("models").join("default.vaem"),
    };
    let rate: u32 = match env::var("VAE_SAMPLE_RATE_HZ") {
        Ok(s) => s.parse().ok().filter(|r| (1..=100_000).contains(r)).unwrap_or_else(|| {
            fail(&format!("VAE_SAMPLE_RATE_HZ must be an integer in 1..=100000, found {s:?}"))
        }),
        Err(_) => 100,
    };
    let unchecked = env::var_os("VAE_EMBED_UNCHECKED").map(PathBuf::from);
    if let Some(p) = &unchecked {
        println!("cargo:rerun-if-changed={}", p.display());
        println!(
            "cargo:warning=VAE_EMBED_UNCHECKED: embedding {} unchecked (sizes from {}); for tests only",
            p.display(),
            model.display()
        );
    }
    let names = env::var("VAE_CAPTURE_CHANNELS").unwrap_or_else(|_| "ain0".into());
    let capture = capture_constants(&names, rate, board).unwrap_or_else(|e| fail(&e));
    if let Err(e) = fs::write(out.join("capture.rs"), capture) {
        fail(&format!("{}: {e}", out.join("capture.rs").display()));
    }
    // The model's sizes, types and detector: the same helper a user's firmware calls.
    let mut embed = vae_build::Embed::new(&model);
    if let Some(p) = unchecked {
        embed = embed.embed_unchecked(p);
    }
    if let Err(e) = embed.write(&out) {
        fail(&e.to_string());
    }
    let mut board_consts =
        format!("/// Sampling rate of boards with an ADC, in Hz.\npub const SAMPLE_RATE_HZ: u32 = {rate};\n");
    if board != "qemu" {
        // Scans per DMA buffer: a divisor of the hop, so that the core scores a window while
        // the next buffer fills (`vae_core::sampling::buffer_frames`).
        board_consts.push_str(BUFFER_VALUES_SRC);
        board_consts.push_str(
            "pub const BUFFER_FRAMES: usize = vae_core::sampling::buffer_frames(HOP, C, BUFFER_VALUES);\n",
        );
    }
    if let Err(e) = fs::write(out.join("board.rs"), board_consts) {
        fail(&format!("{}: {e}", out.join("board.rs").display()));
    }
}

/// The constants of the `capture` binary: its channels (`names`, comma-separated, each a
/// plain CSV header cell) and sampling rate.
fn capture_constants(names: &str, rate: u32, board: &str) -> Result<String, String> {
    let list: Vec<&str> = names.split(',').map(str::trim).collect();
    let bad = |why: &str| format!("VAE_CAPTURE_CHANNELS={names:?}: {why}");
    if let Some(n) = list.iter().find(|n| {
        n.is_empty() || n.len() > 64 || n.chars().any(|c| c.is_whitespace() || c.is_control() || c == '"')
    }) {
        return Err(bad(&format!("channel name {n:?} must be 1 to 64 characters without blanks or quotes")));
    }
    let max = if board == "qemu" { 64 } else { 8 };
    if list.len() > max {
        return Err(bad(&format!("{} channels, the {board} board samples at most {max}", list.len())));
    }
    if let Some(i) = (1..list.len()).find(|&i| list[..i].contains(&list[i])) {
        return Err(bad(&format!("channel {:?} is named twice", list[i])));
    }
    let mut s = String::from(
        "// Generated by build.rs from VAE_CAPTURE_CHANNELS and VAE_SAMPLE_RATE_HZ — do not edit.\n",
    );
    let _ = writeln!(s, "/// Channels captured.\npub const C: usize = {};", list.len());
    let _ = writeln!(s, "/// Samples per second and channel.\npub const SAMPLE_RATE_HZ: u32 = {rate};");
    let _ = writeln!(s, "/// The channels' names, in order.\npub const NAMES: [&str; C] = {list:?};");
    let _ =
        writeln!(s, "/// The names as one CSV header line.\npub const HEADER: &str = {:?};", list.join(","));
    if board != "qemu" {
        // Each sample is logged as it is taken: short buffers keep the latency low.
        s.push_str(BUFFER_VALUES_SRC);
        s.push_str(
            "pub const BUFFER_FRAMES: usize = vae_core::sampling::buffer_frames(16, C, BUFFER_VALUES);\n",
        );
    }
    Ok(s)
}
