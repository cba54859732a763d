//! Embeds the model file and derives every compile-time size from its header.
//!
//! * `VAE_MODEL` (default `models/default.vaem`) names the model file. It is parsed with
//!   `vae-core` itself; a corrupt or unsupported file fails the build with the reader's error.
//! * The sizes (X, Z, C, W, hop, hidden widths) and the layer stack types are written to
//!   `$OUT_DIR/model.rs`, so a model of other sizes needs no code change.
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
use std::path::{Path, PathBuf};
use std::{env, fs, process};
use vae_core::model_file::ModelFile;

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    process::exit(1);
}

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());
    println!("cargo:rerun-if-changed=build.rs");

    let boards: Vec<&str> = ["qemu", "nrf52840"]
        .into_iter()
        .filter(|b| env::var_os(format!("CARGO_FEATURE_{}", b.to_uppercase())).is_some())
        .collect();
    let board = match boards.as_slice() {
        [b] => *b,
        _ => fail(&format!(
            "firmware: enable exactly one board feature (qemu or nrf52840), found {boards:?}; \
             e.g. --no-default-features --features nrf52840"
        )),
    };
    let layout = manifest.join("memory").join(format!("{board}.x"));
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
    println!("cargo:rerun-if-changed={}", model.display());
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
    let code = generate(&model, unchecked.as_deref(), rate)
        .unwrap_or_else(|e| fail(&format!("model file {}: {e}", model.display())));
    if let Err(e) = fs::write(out.join("model.rs"), code) {
        fail(&format!("{}: {e}", out.join("model.rs").display()));
    }
}

/// The Rust source describing the model at `path`, embedding the bytes of `embed` instead
/// when given (unchecked, for tests).
fn generate(path: &Path, embed: Option<&Path>, rate: u32) -> Result<String, String> {
    let bytes = fs::read(path)
        .map_err(|e| format!("cannot read it ({e}); set VAE_MODEL to a model written by `vae-train fit`"))?;
    // The reader is zero-copy and needs 4-byte alignment: parse an aligned copy.
    let mut words = vec![0u32; bytes.len().div_ceil(4)];
    bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..bytes.len()].copy_from_slice(&bytes);
    let file = ModelFile::parse(&bytemuck::cast_slice::<u32, u8>(&words)[..bytes.len()])
        .map_err(|e| e.to_string())?;
    let h = file.header();
    if h.threshold().is_none() {
        return Err("the model is not calibrated (no threshold); run `vae-train fit` to the end".into());
    }
    let layers = h.layers();
    let e = h.encoder_depth();
    let d = h.decoder_depth();
    let (x, z) = (h.input_len, h.latent_len);
    let stack = |range: std::ops::Range<usize>| -> String {
        let mut ty = String::new();
        for (k, i) in range.enumerate() {
            let l = layers[i];
            let dense = format!("Dense<'a, {}, {}>", l.inputs, l.outputs);
            ty = if k == 0 { dense } else { format!("Chain<{ty}, {dense}, {}>", l.inputs) };
        }
        ty
    };
    let he = layers[e - 1].outputs;
    let hd = layers[e + 2 + d - 1].outputs;
    let mut s = String::new();
    let abs = fs::canonicalize(path).map_err(|e| e.to_string())?;
    let embedded = match embed {
        Some(p) => fs::canonicalize(p).map_err(|e| format!("VAE_EMBED_UNCHECKED={}: {e}", p.display()))?,
        None => abs.clone(),
    };
    let _ = writeln!(s, "// Generated by build.rs from {} — do not edit.", abs.display());
    if embed.is_some() {
        let _ = writeln!(s, "// VAE_EMBED_UNCHECKED: embeds {} without checking it.", embedded.display());
    }
    let _ = writeln!(s, "#[allow(unused_imports)]\nuse vae_core::{{Chain, Dense}};");
    let _ = writeln!(
        s,
        "/// Network input width X: the transform `{}` turns a window of W x C samples into {} rows of C.\npub const X: usize = {x};",
        h.transform.name(),
        h.transform.features.rows(h.window)
    );
    let _ = writeln!(s, "/// Samples of one window, W * C.\npub const N: usize = {};", h.window * h.channels);
    let _ = writeln!(s, "/// Latent width.\npub const Z: usize = {z};");
    let _ = writeln!(s, "/// Channels.\npub const C: usize = {};", h.channels);
    let _ = writeln!(s, "/// Window length in samples.\npub const W: usize = {};", h.window);
    let _ = writeln!(s, "/// Hop in samples.\npub const HOP: usize = {};", h.hop);
    let _ = writeln!(s, "/// Last encoder hidden width.\npub const HE: usize = {he};");
    let _ = writeln!(s, "/// Last decoder hidden width.\npub const HD: usize = {hd};");
    let _ = writeln!(
        s,
        "/// Multiply-accumulates per deterministic score.\npub const MACS: usize = {};",
        h.macs()
    );
    let _ = writeln!(
        s,
        "/// The model's score is the deterministic one (the sampler is then not linked).\npub const DETERMINISTIC: bool = {};",
        !h.score.kind().is_sampled()
    );
    let t = h.transform;
    let _ = writeln!(
        s,
        "/// The model's transform, a constant so that the checks and code of the front ends it\n/// does not use fold away; the firmware refuses an embedded file whose transform differs.\npub const TRANSFORM: vae_core::transform::Transform = vae_core::transform::Transform {{ features: vae_core::transform::Features::{:?}, wandering: {:#x}, smoothing: {} }};",
        t.features, t.wandering, t.smoothing
    );
    let _ = writeln!(
        s,
        "/// Sampling rate of boards with an ADC, in Hz.\npub const SAMPLE_RATE_HZ: u32 = {rate};"
    );
    let _ = writeln!(s, "/// The encoder's hidden stack.\npub type EncoderBody<'a> = {};", stack(0..e));
    let _ = writeln!(
        s,
        "/// The decoder's hidden stack.\npub type DecoderBody<'a> = {};",
        stack(e + 2..e + 2 + d)
    );
    let _ = writeln!(s, "/// The model type.\npub type Model<'a> = vae_core::Vae<'a, EncoderBody<'a>, DecoderBody<'a>, X, HE, Z, HD>;");
    let _ = writeln!(
        s,
        "/// The model file, 4-byte aligned, in flash.\npub static MODEL_FILE: &vae_core::Aligned<[u8]> = &vae_core::Aligned(*include_bytes!({:?}));",
        embedded.display().to_string()
    );
    Ok(s)
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
    let max = if board == "nrf52840" { 8 } else { 64 };
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
    Ok(s)
}
