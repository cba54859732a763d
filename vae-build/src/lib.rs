//! # vae-build
//!
//! Embeds a model file written by `vae-train fit` in a `#![no_std]` firmware, with every
//! size and layer type derived from the file at compile time: one line in `build.rs`,
//!
//! ```no_run
//! // build.rs
//! fn main() {
//!     vae_build::embed("model.vaem");
//! }
//! ```
//!
//! and one in the firmware, `vae_core::include_model!(mod model);`, which brings in what this
//! crate wrote to `$OUT_DIR/vae_model.rs`:
//!
//! * the sizes: `C` channels (named, in the order `push` takes them, by `CHANNELS`), `W`
//!   samples per window, `HOP`, `N = W * C`, the network input `X`, latent `Z`, hidden
//!   widths `HE`/`HD`, `MACS` per score;
//! * the constants the code folds on: `TRANSFORM` (front end, wandering levels, smoothing),
//!   `DETERMINISTIC` (the score kind);
//! * the types: `EncoderBody`, `DecoderBody`, `Vae`, `Scorer` and `Detector`;
//! * `MODEL_FILE` (the bytes, 4-byte aligned, in flash), `file()` (parse and check it) and
//!   `detector()`: the detector with every setting the file records (normalisation, hop,
//!   transform, smoothing, threshold and alarm rule, score kind, seed), checked at boot
//!   against the sizes and transform of the build.
//!
//! The model file is `VAE_MODEL` when that is set (absolute, or relative to the package
//! root), else the path given (relative to the package root). A corrupt, unsupported or
//! uncalibrated file fails the build with the reader's error; the build reruns when the file
//! or `VAE_MODEL` changes.
#![deny(missing_docs)]
// The examples are build scripts, whose `fn main` is the point.
#![allow(clippy::needless_doctest_main)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use vae_core::model_file::ModelFile;

/// Name of the generated file in `OUT_DIR`, the one [`vae_core::include_model!`] includes.
pub const GENERATED: &str = "vae_model.rs";

/// Why a model could not be embedded.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The model file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `vae-core` refused the file (CRC, version, a field, a size).
    Model {
        /// The file.
        path: PathBuf,
        /// The reader's error.
        source: vae_core::Error,
    },
    /// The model has no calibrated threshold (a fit that did not finish).
    NotCalibrated {
        /// The file.
        path: PathBuf,
    },
    /// The generated code could not be written.
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `OUT_DIR` is not set: not running in a build script.
    NoOutDir,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Read { path, source } => write!(
                f,
                "model file {}: cannot read it ({source}); set VAE_MODEL or the path in build.rs to a model written by `vae-train fit`",
                path.display()
            ),
            Error::Model { path, source } => write!(f, "model file {}: {source}", path.display()),
            Error::NotCalibrated { path } => write!(
                f,
                "model file {}: the model is not calibrated (no threshold); run `vae-train fit` to the end",
                path.display()
            ),
            Error::Write { path, source } => write!(f, "{}: {source}", path.display()),
            Error::NoOutDir => write!(f, "OUT_DIR is not set: call vae_build from a build script"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Read { source, .. } | Error::Write { source, .. } => Some(source),
            Error::Model { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Embeds `path` (or `VAE_MODEL`), writing `$OUT_DIR/vae_model.rs`; on error prints it and
/// fails the build. The one line of a firmware's `build.rs`.
pub fn embed(path: impl AsRef<Path>) {
    if let Err(e) = try_embed(path) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// [`embed`], returning the error instead of failing the build; `Ok` holds the model file
/// embedded.
pub fn try_embed(path: impl AsRef<Path>) -> Result<PathBuf, Error> {
    println!("cargo:rerun-if-env-changed=VAE_MODEL");
    let root = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_default();
    let chosen = std::env::var_os("VAE_MODEL").map_or_else(|| path.as_ref().to_path_buf(), PathBuf::from);
    let model = if chosen.is_absolute() { chosen } else { root.join(chosen) };
    let out = std::env::var_os("OUT_DIR").map(PathBuf::from).ok_or(Error::NoOutDir)?;
    Embed::new(&model).write(&out)?;
    Ok(model)
}

/// One model to embed; [`Embed::write`] writes its code.
#[derive(Clone, Debug)]
pub struct Embed {
    model: PathBuf,
    bytes: Option<PathBuf>,
}

impl Embed {
    /// The model file at `model`.
    pub fn new(model: impl Into<PathBuf>) -> Self {
        Self { model: model.into(), bytes: None }
    }

    /// For tests of a firmware's boot checks only: embeds the bytes of `file` *instead of*
    /// the model's, without any check, while the sizes and types still come from the model
    /// (the image then holds a corrupted or mismatched model, as after a bad flash).
    pub fn embed_unchecked(mut self, file: impl Into<PathBuf>) -> Self {
        self.bytes = Some(file.into());
        self
    }

    /// Writes the code to `out_dir/vae_model.rs` and tells cargo to rerun the build script
    /// when the files change; returns the path written.
    pub fn write(&self, out_dir: &Path) -> Result<PathBuf, Error> {
        println!("cargo:rerun-if-changed={}", self.model.display());
        if let Some(b) = &self.bytes {
            println!("cargo:rerun-if-changed={}", b.display());
        }
        let code = self.code()?;
        let path = out_dir.join(GENERATED);
        std::fs::write(&path, code).map_err(|source| Error::Write { path: path.clone(), source })?;
        Ok(path)
    }

    /// The Rust source describing the model (see the crate documentation).
    pub fn code(&self) -> Result<String, Error> {
        let path = &self.model;
        let read =
            |p: &Path| std::fs::read(p).map_err(|source| Error::Read { path: p.to_path_buf(), source });
        let bytes = read(path)?;
        // The reader is zero-copy and needs 4-byte alignment: parse an aligned copy.
        let mut words = vec![0u32; bytes.len().div_ceil(4)];
        bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..bytes.len()].copy_from_slice(&bytes);
        let file = ModelFile::parse(&bytemuck::cast_slice::<u32, u8>(&words)[..bytes.len()])
            .map_err(|source| Error::Model { path: path.clone(), source })?;
        let h = file.header();
        if h.threshold().is_none() {
            return Err(Error::NotCalibrated { path: path.clone() });
        }
        let canonical = |p: &Path| {
            std::fs::canonicalize(p).map_err(|source| Error::Read { path: p.to_path_buf(), source })
        };
        let abs = canonical(path)?;
        let embedded = match &self.bytes {
            Some(p) => canonical(p)?,
            None => abs.clone(),
        };
        Ok(generate(&file, &abs, &embedded, self.bytes.is_some()))
    }
}

/// The code for the parsed `file` (read from `abs`), embedding the bytes of `embedded`.
fn generate(file: &ModelFile<'_>, abs: &Path, embedded: &Path, unchecked: bool) -> String {
    let h = file.header();
    let layers = h.layers();
    let (e, d) = (h.encoder_depth(), h.decoder_depth());
    let (x, z) = (h.input_len, h.latent_len);
    // Each layer's weight encoding is part of its type: only the kernels used are linked.
    let store = |i: usize| match h.encoding(i) {
        vae_core::weights::Encoding::F32 => "vae_core::weights::F32",
        vae_core::weights::Encoding::F16 => "vae_core::weights::F16",
        vae_core::weights::Encoding::Int8 => "vae_core::weights::Int8",
    };
    let stack = |range: std::ops::Range<usize>| -> String {
        let mut ty = String::new();
        for (k, i) in range.enumerate() {
            let l = layers[i];
            let dense = format!("vae_core::Dense<'a, {}, {}, {}>", l.inputs, l.outputs, store(i));
            ty = if k == 0 { dense } else { format!("vae_core::Chain<{ty}, {dense}, {}>", l.inputs) };
        }
        ty
    };
    let he = layers[e - 1].outputs;
    let hd = layers[e + 2 + d - 1].outputs;
    let names: Vec<&str> = h.channel_names().collect();
    let t = h.transform;
    let mut s = String::new();
    let mut line = |text: String| {
        let _ = writeln!(s, "{text}");
    };
    line(format!("// Generated by vae-build from {} — do not edit.", abs.display()));
    if unchecked {
        line(format!("// VAE_EMBED_UNCHECKED: embeds {} without checking it.", embedded.display()));
    }
    line(format!(
        "/// Channels, in the order `Detector::push` takes them.\npub const C: usize = {};",
        h.channels
    ));
    line(format!("/// The channels' names, in order.\npub const CHANNELS: [&str; C] = {names:?};"));
    line(format!("/// Window length in samples.\npub const W: usize = {};", h.window));
    line(format!(
        "/// Samples between the starts of consecutive windows.\npub const HOP: usize = {};",
        h.hop
    ));
    line(format!("/// Samples of one window, W * C.\npub const N: usize = {};", h.window * h.channels));
    line(format!(
        "/// Network input width: the transform `{}` turns a window of W x C samples into {} rows of C.\npub const X: usize = {x};",
        t.name(),
        t.features.rows(h.window)
    ));
    line(format!("/// Latent width.\npub const Z: usize = {z};"));
    line(format!("/// Last encoder hidden width.\npub const HE: usize = {he};"));
    line(format!("/// Last decoder hidden width.\npub const HD: usize = {hd};"));
    line(format!(
        "/// The scorer's hidden buffer, the wider of HE and HD.\npub const H: usize = {};",
        he.max(hd)
    ));
    line(format!("/// Multiply-accumulates per deterministic score.\npub const MACS: usize = {};", h.macs()));
    line(format!(
        "/// The model's score is the deterministic one (the sampler is then not linked).\npub const DETERMINISTIC: bool = {};",
        !h.score.kind().is_sampled()
    ));
    line(format!(
        "/// The model's transform, a constant so that the code of the front ends it does not use\n/// folds away; the detector refuses a file whose transform differs.\npub const TRANSFORM: vae_core::Transform = vae_core::Transform {{ features: vae_core::Features::{:?}, wandering: {:#x}, smoothing: {} }};",
        t.features, t.wandering, t.smoothing
    ));
    line(format!("/// The encoder's hidden stack.\npub type EncoderBody<'a> = {};", stack(0..e)));
    line(format!("/// The decoder's hidden stack.\npub type DecoderBody<'a> = {};", stack(e + 2..e + 2 + d)));
    // The heads and the output layer share one encoding (the file says whether they do).
    let heads = store(e + 2 + d);
    if h.weights() != Some(vae_core::weights::Encoding::F32) {
        line(format!(
            "const _: () = assert!(vae_core::weights::COMPACT_WEIGHTS, \"this model stores its weights as {}: enable the `compact-weights` feature of vae-core\");",
            h.encoding(e + 2 + d).name()
        ));
    }
    line(format!("/// How the weights are stored: {}.\npub const WEIGHTS: vae_core::weights::Encoding = vae_core::weights::Encoding::{:?};", h.encoding(e + 2 + d).name(), h.encoding(e + 2 + d)));
    line(format!("/// The network.\npub type Vae = vae_core::Vae<'static, EncoderBody<'static>, DecoderBody<'static>, X, HE, Z, HD, {heads}>;"));
    line("/// What the build fixed: the transform, the score kind and the weights' encoding.\npub struct Spec;".into());
    line(format!("impl vae_core::embedded::Spec for Spec {{\n    const TRANSFORM: vae_core::Transform = TRANSFORM;\n    const DETERMINISTIC: bool = DETERMINISTIC;\n    type Weights = {heads};\n}}"));
    line("/// The network with its scoring buffers.\npub type Scorer = vae_core::embedded::Embedded<'static, EncoderBody<'static>, DecoderBody<'static>, Spec, X, HE, Z, HD, C, H>;".into());
    line(
        "/// The detector of this model.\npub type Detector = vae_core::Detector<Scorer, C, W, N, X>;".into(),
    );
    line(format!(
        "/// The model file, 4-byte aligned, in flash.\npub static MODEL_FILE: &vae_core::Aligned<[u8]> = &vae_core::Aligned(*include_bytes!({:?}));",
        embedded.display().to_string()
    ));
    line("/// The embedded model file, parsed and checked (CRC, every field and parameter).\npub fn file() -> Result<vae_core::ModelFile<'static>, vae_core::Error> {\n    vae_core::ModelFile::parse(&MODEL_FILE.0)\n}".into());
    line("/// The detector with every setting the embedded file records, checked against this\n/// build's sizes and transform.\npub fn detector() -> Result<Detector, vae_core::Error> {\n    detector_of(&file()?)\n}".into());
    line("/// [`detector`] for the already parsed `file` (e.g. to log its header too).\npub fn detector_of(file: &vae_core::ModelFile<'static>) -> Result<Detector, vae_core::Error> {\n    vae_core::embedded::detector(file)\n}".into());
    s
}
