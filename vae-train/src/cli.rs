//! The `vae-train` command line: `fit`, `score`, `eval`, `inspect`, `export`, `import`,
//! `convert`, `synth`. It parses arguments into the pipeline's plans ([`crate::pipeline`]) and prints;
//! every error is printed as one line naming the file and place, with a non-zero exit.

use crate::data::{self, LoadOptions, NanPolicy};
use crate::error::Error;
use crate::model::OwnedModel;
use crate::pipeline::{self, FitFiles};
use crate::{atomic, eval, export, output, scoring, synth};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use vae_core::{Decision, Outcome};

mod args;
mod limits;

pub use args::{
    check_options, score_config, Cli, Command, ConvertArgs, DataArgs, EvalArgs, FitArgs, ReadArgs, ScoreArgs,
    SynthArgs,
};

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Fit(a) => fit(&a),
        Command::Score(a) => score(&a),
        Command::Eval(a) => eval(&a),
        Command::Inspect { model } => inspect(&model),
        Command::Export { model, safetensors, force } => {
            output::check(&safetensors, force, &[&model])?;
            let m = OwnedModel::load(&model)?;
            let bytes = export::to_safetensors(&m)?;
            atomic::write(&safetensors, &bytes).map_err(|e| Error::io(&safetensors, e))?;
            output::println(&format!(
                "wrote {} ({} bytes, {} tensors)",
                safetensors.display(),
                bytes.len(),
                2 * m.net.layers().count() + 3
            ))
        }
        Command::Import { safetensors, out, force } => {
            output::check(&out, force, &[&safetensors])?;
            let bytes = output::read_bounded(&safetensors, output::MAX_MODEL_FILE, "safetensors file")?;
            let m = export::from_safetensors(&bytes, &safetensors.display().to_string())?;
            m.save(&out)?;
            output::println(&format!("wrote {}", out.display()))?;
            inspect(&out)
        }
        Command::Convert(a) => convert(&a),
        Command::Synth(a) => synth(&a),
    }
}

/// `vae-train convert`: the model with its weights re-encoded, thresholds kept, and what
/// that does to the scores (measured on `--data` when given).
fn convert(a: &ConvertArgs) -> Result<(), Error> {
    let mut inputs: Vec<&Path> = a.input.data.iter().map(PathBuf::as_path).collect();
    inputs.push(&a.model);
    output::check(&a.out, a.force, &inputs)?;
    let old = OwnedModel::load(&a.model)?;
    let c = pipeline::convert(&old, a.weights)?;
    let (from, to) = (c.from.name(), a.weights.name());
    // Measured before writing: a bad --data file leaves no output behind.
    let change = if a.input.data.is_empty() {
        None
    } else {
        let opts = a.input.read.options(Some(old.meta.channels.clone()), old.meta.window, NanPolicy::Keep)?;
        let mut recs = data::load(&a.input.data, &opts)?;
        let mut again = recs.clone();
        let before = pipeline::score(&old, &mut recs, old.meta.score)?;
        let after = pipeline::score(&c.model, &mut again, c.model.meta.score)?;
        Some(pipeline::score_change(&old, &before, &c.model, &after)?)
    };
    c.model.save(&a.out)?;
    let mut text = format!(
        "wrote {} ({} bytes): weights {from} -> {to}, {} bytes of weights instead of {}; largest change of a weight {}\n",
        a.out.display(),
        std::fs::metadata(&a.out).map(|m| m.len()).unwrap_or(0),
        c.bytes_after,
        c.bytes_before,
        c.largest_change
    );
    if c.from == a.weights {
        let _ = writeln!(text, "note: the weights were already {to}: they are written unchanged");
    } else if c.from != vae_core::weights::Encoding::F32 {
        // f16 and int8 values cannot be made finer again: the trained ones are gone.
        let _ = writeln!(
            text,
            "note: the weights keep the precision of {from} ({to} {}): converting cannot restore the trained \
             values; convert the f32 model, or fit again with --weights {to}",
            if c.exact() { "holds its values exactly" } else { "rounds them again" }
        );
    }
    if c.exact() {
        let _ = writeln!(
            text,
            "note: the weights are unchanged, and so are the scores: the thresholds still hold"
        );
    } else {
        let _ = writeln!(
            text,
            "note: the thresholds and alarm rule are kept as calibrated on the scores of the {from} weights, \
             which the {to} weights change; `vae-train fit --weights {to}` calibrates them on the {to} weights' scores"
        );
    }
    if let Some(s) = change {
        let _ = writeln!(
            text,
            "on {} windows of --data the score moved by at most {} ({:.3}% of its value), and {} decision(s) changed",
            s.windows,
            s.largest,
            100.0 * s.largest_relative,
            s.decisions_changed
        );
    }
    output::print(&text)
}

fn synth(a: &SynthArgs) -> Result<(), Error> {
    if a.test_rows < limits::MIN_SYNTH_TEST_ROWS {
        return Err(Error::Usage(format!(
            "--test-rows must be at least {} (room for the five faults), found {}",
            limits::MIN_SYNTH_TEST_ROWS,
            a.test_rows
        )));
    }
    match output::Existing::at(&a.out) {
        output::Existing::Nothing | output::Existing::Directory => {}
        _ => return Err(Error::Output(format!("{}: is a file, expected a directory", a.out.display()))),
    }
    if a.out.is_dir() {
        for name in synth::FILES {
            output::check(&a.out.join(name), a.force, &[])?;
        }
    }
    let cfg = synth::SynthConfig {
        seed: a.seed,
        train_rows: a.train_rows,
        test_rows: a.test_rows,
        rate_hz: a.rate,
        ..Default::default()
    };
    let s = synth::generate(&cfg);
    synth::write(&a.out, &cfg, &s)?;
    let mut text = format!(
        "wrote {}/{{train.csv, test.csv, faults.csv}}: {} + {} rows at {} Hz\n",
        a.out.display(),
        a.train_rows,
        a.test_rows,
        a.rate
    );
    for f in &s.faults {
        let _ = writeln!(
            text,
            "  fault {:<17} on {:<12} rows {}..{}",
            f.kind.name(),
            f.kind.channel(),
            f.start,
            f.end
        );
    }
    output::print(&text)
}

fn inspect(path: &Path) -> Result<(), Error> {
    output::print(&pipeline::describe(path)?)
}

fn fit(a: &FitArgs) -> Result<(), Error> {
    let mut plan = a.plan()?;
    a.input.require()?;
    let inputs: Vec<&Path> = a.input.data.iter().map(PathBuf::as_path).collect();
    let files = FitFiles::prepare(&a.out, a.log.as_deref(), &inputs, a.force, a.resume)?;
    plan.checkpoint = Some(files.checkpoint.clone());
    plan.log = Some(files.log.clone());
    let recordings = a.load()?;
    // Ctrl-C stops at the next batch with the resume state of the last finished epoch on disk;
    // a second Ctrl-C exits at once (the state is written atomically, so it stays valid).
    static STOP: AtomicBool = AtomicBool::new(false);
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: stopping after this batch (Ctrl-C again to quit now)");
    });
    let parts = a.auto_parts();
    let fitted = if parts.any() {
        let (fitted, search) =
            pipeline::fit_auto(&recordings, &plan, parts, Some(&STOP), &mut |line| eprintln!("{line}"))
                .inspect_err(|_| files.discard_empty_log())?;
        files.discard_empty_log();
        output::println(&auto_summary(&search))?;
        fitted
    } else {
        pipeline::fit(&recordings, &plan, Some(&STOP), &mut |line| eprintln!("{line}"))
            .inspect_err(|_| files.discard_empty_log())?
    };
    fitted.model.save(&a.out)?;
    files.finish();
    let rule = match fitted.decision_rule {
        scoring::ThresholdRule::Cantelli => format!(
            "by the Cantelli bound for quantile {} (mean + {:.1} sd)",
            plan.quantile,
            scoring::cantelli_factor(plan.quantile)
        ),
        _ => format!("at the {} quantile", plan.quantile),
    };
    output::println(&format!(
        "wrote {} ({} bytes): best epoch {} of {}{}, {} loss {:.3} nats/window; threshold {:.3} {rule} of {} {} scores",
        a.out.display(),
        std::fs::metadata(&a.out).map(|m| m.len()).unwrap_or(0),
        fitted.best_epoch,
        fitted.epochs,
        if fitted.stopped_early { " (early stop)" } else { "" },
        fitted.loss_on,
        fitted.best_loss,
        fitted.model.thresholds[0].threshold,
        fitted.calibration_windows,
        fitted.calibrated_on
    ))?;
    if let Some(r) = &fitted.rounded {
        let w = r.weights.name();
        output::println(&format!(
            "weights stored as {w}: {} bytes of weights instead of {} ({:.0}%); threshold calibrated on the \
             {w} weights' scores: {:.4} ({:.4} with the f32 weights; no calibration score moved by more than {})",
            r.bytes,
            r.f32_bytes,
            100.0 * r.bytes as f64 / r.f32_bytes.max(1) as f64,
            fitted.model.thresholds.first().map_or(f32::NAN, |c| c.threshold),
            r.f32_threshold,
            r.largest_change
        ))?;
    }
    Ok(())
}

/// `fit --auto`'s table: every candidate with its criterion and device cost, the choice,
/// and what the search cost against a single fit.
fn auto_summary(search: &pipeline::Search) -> String {
    let mut out = format!("auto: window {}\n", search.window_reason);
    for (i, c) in search.candidates.iter().enumerate() {
        let mark = if i == search.chosen { "->" } else { "  " };
        out.push_str(&format!("{mark} {}\n", c.line()));
    }
    let c = &search.candidates[search.chosen];
    out.push_str(&format!(
        "auto: chose {} W={} smooth={} (criterion: mean ROC-AUC of faults injected into the held-out rows; within {} of the best, the fewest MACs wins); search {:.0} s for {} candidates, {:.1} times one candidate's training",
        c.features.name(),
        c.window,
        c.smoothing,
        pipeline::auto::TIE,
        search.seconds,
        search.candidates.len(),
        search.cost_in_fits()
    ));
    out
}

fn score(a: &ScoreArgs) -> Result<(), Error> {
    check_options(a.kind.as_deref(), a.samples)?;
    a.input.require()?;
    if let Some(out) = &a.out {
        let mut inputs: Vec<&Path> = a.input.data.iter().map(PathBuf::as_path).collect();
        inputs.push(&a.model);
        output::check(out, a.force, &inputs)?;
    }
    let model = OwnedModel::load(&a.model)?;
    let config = score_config(model.meta.score, a.kind.as_deref(), a.samples)?;
    let opts = a.input.read.options(Some(model.meta.channels.clone()), model.meta.window, NanPolicy::Keep)?;
    let mut recs = data::load(&a.input.data, &opts)?;
    let scored = pipeline::score(&model, &mut recs, config)?;
    let threshold = pipeline::threshold(&model);
    let decided = threshold.map(|t| pipeline::decisions(&model, &scored, Some(&t))).transpose()?;
    let text = pipeline::scores_csv(&model, &recs, &scored, decided.as_deref());
    match &a.out {
        Some(out) => {
            atomic::write(out, text.as_bytes()).map_err(|e| Error::io(out, e))?;
            let flagged = decided.iter().flatten().filter(|d| **d == Decision::Anomalous).count();
            let invalid = scored.iter().filter(|s| matches!(s.outcome, Outcome::NonFinite { .. })).count();
            output::println(&format!(
                "wrote {}: {} windows, {} anomalous, {} invalid (NaN/Inf); score {} K={}",
                out.display(),
                scored.len(),
                flagged,
                invalid,
                config.kind().name(),
                config.samples()
            ))
        }
        None => output::print(&text),
    }
}

/// `vae-train eval`.
fn eval(a: &EvalArgs) -> Result<(), Error> {
    check_options(a.kind.as_deref(), a.samples)?;
    if let Some(dir) = &a.report {
        check_report_dir(dir, a)?;
    }
    let model = OwnedModel::load(&a.model)?;
    let source = a.label_source()?;
    let opts = a.input.read.options(Some(model.meta.channels.clone()), model.meta.window, NanPolicy::Keep)?;
    let recs = source.load(&opts)?;
    let config = score_config(model.meta.score, a.kind.as_deref(), a.samples)?;
    let train = if a.train.is_empty() {
        None
    } else {
        let topts =
            LoadOptions { rows: a.train_rows, nan: NanPolicy::DropRows, label_column: None, ..opts.clone() };
        Some(data::load(&a.train, &topts)?)
    };
    let e = match &a.scores {
        Some(path) => eval::evaluate_given(&model, &recs, &pipeline::read_scores(path)?, train.as_deref())?,
        None => eval::evaluate(&model, &recs, config, train.as_deref())?,
    };
    if let Some(dir) = &a.report {
        let path = eval::write_report(&e, dir)?;
        if !a.json {
            output::println(&format!("wrote {}", path.display()))?;
        }
    }
    if a.json {
        let text = serde_json::to_string_pretty(&e.summary())
            .map_err(|err| Error::Input(format!("cannot write the JSON summary: {err}")))?;
        output::println(&text)
    } else {
        output::print(&eval::text_summary(&e))
    }
}

/// The report directory follows the clobber rule of [`crate::output`] for each file it gets.
fn check_report_dir(dir: &std::path::Path, a: &EvalArgs) -> Result<(), Error> {
    match output::Existing::at(dir) {
        output::Existing::Nothing => Ok(()),
        output::Existing::Directory => {
            let mut inputs: Vec<&std::path::Path> = a
                .input
                .data
                .iter()
                .chain(&a.normal)
                .chain(&a.anomalous)
                .chain(&a.scores)
                .map(PathBuf::as_path)
                .collect();
            inputs.push(&a.model);
            for name in eval::REPORT_FILES {
                output::check(&dir.join(name), a.force, &inputs)?;
            }
            Ok(())
        }
        _ => Err(Error::Output(format!("{}: is a file, expected a directory for the report", dir.display()))),
    }
}
