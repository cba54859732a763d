//! Scores sensor windows by ELBO on a Cortex-M4F with the model embedded at build time.
//!
//! samples (board) -> vae-core `Detector` (normalise, window, transform, score, smooth,
//! decide) -> defmt log.
//! Every window logs one line; NaN/Inf samples are counted and their windows reported as
//! invalid, never scored and never a panic. A finite sample, however large (`f32::MAX`),
//! is not NaN/Inf: its window's score overflows and the window is flagged anomalous. The board feature picks the sample source and
//! the logger: `qemu` replays a CSV from the host over semihosting, `nrf52840` samples its
//! SAADC.
#![no_std]
#![no_main]

#[cfg(feature = "bench")]
mod bench;
mod board;

/// The embedded model: sizes, types and `detector()` derived from its file by build.rs
/// (`vae_build`), and the board's sampling rate.
#[allow(dead_code)]
mod model {
    vae_core::include_model!();
    include!(concat!(env!("OUT_DIR"), "/board.rs"));
}

use board::Stop;
// The critical-section implementation defmt needs comes from cortex-m.
use cortex_m as _;
use model::{C, HOP, MACS, W, X};
use vae_core::alarm::{Alarm, Phase};
use vae_core::detector::Report;
use vae_core::model_file::ChannelNames;
use vae_core::Outcome;

#[cortex_m_rt::entry]
fn main() -> ! {
    let stop = match run() {
        Ok(()) => Stop::EndOfStream,
        Err(stop) => stop,
    };
    match &stop {
        Stop::EndOfStream => defmt::info!("end of stream"),
        // The kind only (every variant's fields would cost 824 B of flash); the build checked
        // the same file, and `vae-train inspect` on it gives the whole message.
        Stop::Model(e) => {
            defmt::error!("model refused, not scoring: {} (vae-train inspect on the file says why)", e.kind())
        }
        Stop::Source(e) => defmt::error!("sample source failed: {}", e),
    }
    board::exit(&stop)
}

/// Scores until the source ends (`Ok`) or something fails.
fn run() -> Result<(), Stop> {
    let file = model::file().map_err(Stop::Model)?;
    let header = file.header();
    // Every setting of the file (normalisation, hop, transform, smoothing, threshold, alarm
    // rule, score, seed), checked against the sizes and transform this image was built for.
    let mut detector = model::detector_of(&file).map_err(Stop::Model)?;
    let (config, threshold) = (header.score, detector.threshold().value());
    defmt::info!(
        "model {=str}: X={=usize} C={=usize} W={=usize} hop={=usize} macs={=usize} score={} K={=u16} threshold={=f32}",
        header.name,
        X,
        C,
        W,
        HOP,
        MACS,
        config.kind(),
        config.samples(),
        threshold
    );
    let rule = header.alarm;
    defmt::info!(
        "alarm: learn={=u16} relearn_after={=u16} margin={=f32} floor={=f32} guard={=f32}",
        rule.learn,
        rule.relearn_after,
        rule.margin,
        rule.floor,
        rule.guard
    );
    let mut source = board::Source::open(header.channel_names()).map_err(Stop::Source)?;
    while let Some(sample) = source.next().map_err(Stop::Source)? {
        if let Some(window) = detector.push(sample) {
            let before = (detector.alarm().phase(), detector.alarm().threshold());
            #[cfg(feature = "bench")]
            bench::bench_begin();
            let report = detector.score(window);
            #[cfg(feature = "bench")]
            bench::bench_end();
            log(&report, header.channel_names(), model::TRANSFORM.smoothing > 1);
            log_phase(before, detector.alarm());
        }
    }
    let c = detector.counters();
    let a = detector.alarm().counters();
    defmt::println!(
        "summary samples={=u64} windows={=u64} scored={=u64} anomalous={=u64} invalid={=u64} non_finite_values={=u64} episodes={=u64} learnt={=u64} relearns={=u32} returns={=u32} dropped={=u32} overruns={=u32}",
        c.samples,
        c.scored + c.invalid,
        c.scored,
        c.anomalous,
        c.invalid,
        c.non_finite_values,
        a.episodes,
        a.learnt,
        a.relearns,
        a.returns,
        source.dropped(),
        source.overruns()
    );
    Ok(())
}

/// Logs a change of the alarm logic's state (`before`: phase and threshold before the last
/// window): the end of learning with the threshold learnt, the start of a re-learn, or the
/// return to the threshold learnt after boot.
fn log_phase(before: (Phase, f32), alarm: &Alarm) {
    match (before.0, alarm.phase()) {
        (Phase::Watching, Phase::Watching) if before.1 != alarm.threshold() => {
            defmt::info!("returned: threshold={=f32} (learnt after boot)", alarm.threshold())
        }
        (Phase::Learning { .. }, Phase::Watching) => {
            defmt::info!(
                "learnt: threshold={=f32} after {=u64} windows",
                alarm.threshold(),
                alarm.counters().learnt
            )
        }
        (Phase::Watching, Phase::Learning { .. }) => {
            defmt::info!("re-learning: the alarm held, relearns={=u32}", alarm.counters().relearns)
        }
        _ => {}
    }
}

/// One line per window, in a fixed format the host tests parse. With smoothing, the score
/// the decision used (the mean of the last window scores) follows as `smoothed=`.
fn log(r: &Report, mut names: ChannelNames<'static>, smoothing: bool) {
    let (i, start) = (r.window.index, r.window.start);
    match r.outcome {
        Outcome::Scored(s) if smoothing => defmt::println!(
            "window {=u64} start={=u64} score={=f32} smoothed={=f32} decision={} top={=str}",
            i,
            start,
            s.score,
            r.score.unwrap_or(f32::NAN),
            r.decision,
            names.nth(s.top_channel).unwrap_or("?")
        ),
        Outcome::Scored(s) => defmt::println!(
            "window {=u64} start={=u64} score={=f32} decision={} top={=str}",
            i,
            start,
            s.score,
            r.decision,
            names.nth(s.top_channel).unwrap_or("?")
        ),
        Outcome::NonFinite { count, first } => defmt::println!(
            "window {=u64} start={=u64} invalid non_finite={=usize} first={=usize} decision={}",
            i,
            start,
            count,
            first,
            r.decision
        ),
        Outcome::Overflow => {
            defmt::println!("window {=u64} start={=u64} overflow decision={}", i, start, r.decision)
        }
    }
}
