//! A model file in words.

use crate::error::Error;
use crate::output;
use std::fmt::Write as _;
use std::path::Path;
use vae_core::weights::Encoding;

/// What `vae-train inspect` prints: the header, layer by layer, the cost on the device, and
/// the checksum verdict.
pub fn describe(path: &Path) -> Result<String, Error> {
    let bytes = output::read_bounded(path, output::MAX_MODEL_FILE, "model file")?;
    let aligned = crate::model::AlignedBytes::new(&bytes);
    let f = vae_core::ModelFile::parse(aligned.bytes()).map_err(|e| Error::from(e).in_file(path))?;
    let h = f.header();
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{}: valid model file (format v{}, CRC-32 ok)",
        path.display(),
        // Bytes 4..6, little-endian (the parser checked them).
        u16::from_le_bytes([bytes[4], bytes[5]])
    );
    let _ = writeln!(o, "  name        {}", h.name);
    let _ = writeln!(
        o,
        "  input       window {} x {} channels = {} values, hop {}, transform {}",
        h.window,
        h.channels,
        h.input_len,
        h.hop,
        h.transform.name()
    );
    let t = h.transform;
    if t.wandering != 0 || t.smoothing > 1 {
        let names: Vec<&str> =
            h.channel_names().enumerate().filter(|(c, _)| t.is_wandering(*c)).map(|(_, n)| n).collect();
        let _ = writeln!(
            o,
            "  front end   {} ({} rows x {} channels){}; decisions on the mean score of {} window(s)",
            t.name(),
            t.features.rows(h.window),
            h.channels,
            if names.is_empty() {
                String::new()
            } else {
                format!(", wandering levels: {}", names.join(", "))
            },
            t.smoothing
        );
    }
    layers(&mut o, h, bytes.len());
    let _ = writeln!(o, "  seed        {}", h.seed);
    let _ = writeln!(o, "  normalisation (training data):");
    for ((name, m), s) in h.channel_names().zip(f.norm_mean()).zip(f.norm_std()) {
        let _ = writeln!(o, "    {name:<24} mean {m:>12.6}  std {s:>12.6}");
    }
    Ok(o)
}

/// The network, its cost, its score and thresholds.
fn layers(o: &mut String, h: &vae_core::model_file::Header<'_>, file_len: usize) {
    let _ = writeln!(o, "  latent      {}", h.latent_len);
    let _ = writeln!(
        o,
        "  layers      {} encoder hidden, {} decoder hidden",
        h.encoder_depth(),
        h.decoder_depth()
    );
    let shared = h.weights();
    for (i, l) in h.layers().iter().enumerate() {
        let _ = writeln!(
            o,
            "    {:<16} {:>4} -> {:<4} {}{}",
            h.part(i).name(),
            l.inputs,
            l.outputs,
            l.activation.name(),
            // Each layer's encoding only where they differ (vae-train writes one for all).
            if shared.is_none() { format!(", {} weights", h.encoding(i).name()) } else { String::new() }
        );
    }
    // Words the weights take as stored, and as f32: the rest of the file is the same.
    let (mut stored, mut plain) = (0, 0);
    for (i, l) in h.layers().iter().enumerate() {
        stored += h.encoding(i).words(l.inputs, l.outputs);
        plain += Encoding::F32.words(l.inputs, l.outputs);
    }
    // Values, not words: every weight counts once however it is stored.
    let values = h.param_count() - stored + plain;
    match shared {
        Some(Encoding::F32) => {
            let _ = writeln!(o, "  parameters  {values} (f32)");
            let _ = writeln!(o, "  flash       {file_len} bytes (the whole file is embedded)");
        }
        _ => {
            let weights = shared.map_or("mixed", Encoding::name);
            let _ = writeln!(o, "  parameters  {values} ({weights} weights, f32 biases)");
            let _ = writeln!(
                o,
                "  flash       {file_len} bytes ({} with f32 weights; the whole file is embedded)",
                // In this order: int8 with a scale per row can outweigh f32 for narrow layers.
                file_len + 4 * plain - 4 * stored
            );
        }
    }
    let _ = writeln!(o, "  cost        {} multiply-accumulates per deterministic score", h.macs());
    let _ = writeln!(o, "  score       {} (K = {})", h.score.kind().name(), h.score.samples());
    if h.thresholds().is_empty() {
        let _ = writeln!(o, "  threshold   none (uncalibrated)");
    }
    for (i, c) in h.thresholds().iter().enumerate() {
        let _ = writeln!(
            o,
            "  threshold   {:.4} at quantile {}{}",
            c.threshold,
            c.quantile,
            if i == 0 {
                // The contract the user asked for: the share of normal windows flagged.
                format!(" (decision: false-alarm rate {})", false_alarm_rate(c.quantile))
            } else {
                String::new()
            }
        );
    }
    let a = h.alarm;
    if a.learns() {
        let guard = if a.guard.is_finite() { format!("{:.4}", a.guard) } else { "none".into() };
        let relearn = match a.relearn_after {
            0 => "never re-learns".to_string(),
            n => format!("re-learns after {n} alarm windows in a row"),
        };
        let _ = writeln!(
            o,
            "  alarm       learns {} windows after boot, then mean + {:.2} sd{}; {relearn}; boot guard {guard}",
            a.learn,
            a.margin,
            if a.floor > 0.0 { format!(" (sd at least {:.4}, the calibration's)", a.floor) } else { String::new() }
        );
    } else {
        let _ = writeln!(o, "  alarm       static threshold (no on-device learning)");
    }
}

/// `1 - q` as the user wrote it (0.005, not 0.0049999952).
fn false_alarm_rate(q: f32) -> String {
    let rate = 1.0 - f64::from(q);
    format!("{}", (rate * 1e6).round() / 1e6)
}
