//! `cargo xtask eval-real`: trains and evaluates on the real labelled data sets of
//! `../shared/data` (SKAB, NAB, CWRU; see its README) and prints one Markdown table.
//!
//! Protocol for every row: a window is anomalous when any row inside it is labelled;
//! normalisation, feature scaling, wandering channels and the threshold come from the training
//! rows only (`vae-train fit` on those rows; the threshold is the 0.995 quantile of normal
//! training-side windows; `--threshold-rule` can replace it by the Cantelli bound); the
//! reference rows score the same windows as the model.
//!
//! * SKAB valve1 + valve2 (20 files): each file's first 400 rows train its own model, the
//!   rest is its test; metrics are means over the files.
//! * CWRU, 0 HP: one model on the first 70% of the normal drive-end recording; test on the
//!   other 30% and on the whole of the three 7-mil fault recordings.
//! * NAB realKnownCause (7 series): each series trains on the rows before its first label
//!   window and is tested on the whole series (the data README's split); metrics are means
//!   over the series.
//!
//! One configuration per data set, fixed in [`protocols`] and explained there; the window
//! length suits the signal (on NAB, one day of samples by a rule on the timestamps), the hop
//! is W/8 and the smoothing averages the W/hop windows that overlap a window's span. Nothing
//! is chosen on test labels.
//!
//! Alarms at the threshold, as a user of the device meets them (`vae_train::eval::alarms`):
//! the false-alarm rate (share of labelled-normal windows flagged) and event recall (share
//! of anomaly events, runs of anomalous windows of a file, with a window flagged), columns of
//! the table for the model and the no-training score, and under the table per seed, pooled
//! over files, with alarm episodes per 1,000 normal windows (and per day on NAB and SKAB,
//! whose files have timestamps). The no-training score flags by the model's rule: its score
//! smoothed as the model's, over the quantile `q` of the model's calibration of the same
//! smoothed score on *all* of the file's training rows (the rows `fit` was given, its
//! validation part included). On SKAB and NAB those are the rows the model's own threshold is
//! taken over (`--calibrate auto` uses every training-side window when the validation part
//! holds fewer than 1/(1-q) = 200); on CWRU the model calibrates on its validation windows
//! alone. The reference fits nothing but the normalisation, so its scores on the rows `fit`
//! trained on are not optimistic as the model's would be, and more windows estimate the
//! quantile better.
//!
//! Every model row is the mean over [`DEFAULT_SEEDS`] training seeds (`--seeds N`), with the
//! per-seed figures printed under the table. `--nab-category artificialWithAnomaly` runs the
//! NAB protocol on the development series on which NAB's configuration was chosen;
//! `--nab-dir` points at another copy of NAB (a checkout of its repository holds the real
//! categories `../shared/data` lacks, e.g. `realAWSCloudwatch` and `realTraffic`).
//!
//! Three configurations per data set (`--config`, default `all`): the hand-picked one
//! above; `fit --auto` with the data set's columns and rows only (front end, window, hop,
//! smoothing and width chosen per file from its training rows, see
//! `vae_train::pipeline::auto`: `fit`'s default); and `fit --no-auto`'s plain defaults with
//! the same columns and rows (raw windows of 32). The targets under the table compare them.
//! `--study FILE` appends, for every `--auto` fit, each candidate's criterion and its ROC-AUC
//! on the test labels (the study of `docs/evaluation.md`; a fit never sees it).
//!
//! With `EVAL_REAL_DUMP_TRAIN` set, each file's training windows are scored too and written
//! beside its report (`<report>-train/windows.csv`): the calibration scores the alarm-rule
//! study of `docs/evaluation.md` was run on.

use std::path::{Path, PathBuf};
use std::time::Instant;
use vae_train::data::{self, LoadOptions, NanPolicy, Recording, RowRange};
use vae_train::eval::{self, period, AlarmFigures, Evaluation, LabelSource, LabelWindows, Metrics};

/// The SKAB sensor columns (every one but the labels).
const SKAB_COLUMNS: [&str; 8] = [
    "Accelerometer1RMS",
    "Accelerometer2RMS",
    "Current",
    "Pressure",
    "Temperature",
    "Thermocouple",
    "Voltage",
    "Volume Flow RateRMS",
];

/// Share of each training stretch held out for validation and calibration (`fit`'s default).
const VAL_FRACTION: f64 = 0.2;

/// NAB: the fewest training windows (at hop W/8, in the training part of the rows before the
/// first label) the one-day window may leave; it is halved until there are at least this
/// many. Fixed on NAB's `artificialWithAnomaly` series (not on the evaluated ones), where
/// day-long windows trained on 38 to 63 windows.
const NAB_MIN_TRAIN_WINDOWS: usize = 32;

/// Network and training settings shared by every data set (the default shape).
/// Training runs until the validation ELBO has not improved for 20 epochs (at most 1000):
/// SKAB and NAB train on 43 to 701 windows, one to six minibatches an epoch, and a cap of
/// 50 epochs stopped most of them with the validation loss still falling. Chosen on the
/// development sets (SKAB `other`, NAB's AWS, traffic and artificial series).
/// The threshold: the 0.995 quantile over training and validation windows when validation
/// alone has fewer than 200 (`--calibrate auto`); `--threshold-rule` (default `quantile`)
/// is added from eval-real's own option.
/// The seed is added per run (`--seeds`).
const COMMON_FIT: [&str; 10] =
    ["--hidden", "32", "--latent", "8", "--epochs", "1000", "--patience", "20", "--calibrate", "auto"];

/// Training seeds of the table by default: each row is the mean over these seeds, so that
/// one lucky or unlucky initialisation does not decide a target (the spread is printed).
const DEFAULT_SEEDS: u64 = 3;

/// The NAB data sets evaluated by default (each a comma-separated list of categories):
/// realKnownCause, and the development series realAWSCloudwatch and realTraffic on which
/// the alarm rule was chosen. `--nab-category` runs one list instead;
/// `artificialWithAnomaly` is the set on which NAB's front end was chosen.
const NAB_SETS: [&str; 2] = ["realKnownCause", "realAWSCloudwatch,realTraffic"];

/// The SKAB data sets evaluated by default (comma-separated folders of `data/`): the valve
/// experiments, and the other experiments, a development set on which the alarm rule was
/// chosen. `--skab-sets` runs one list instead.
const SKAB_SETS: [&str; 2] = ["valve1,valve2", "other"];

/// One data set's configuration.
struct Protocol {
    name: &'static str,
    /// `fit` options besides data, rows and output.
    fit: Vec<&'static str>,
    /// Describes the model row.
    model_label: &'static str,
}

/// The configurations. Why each:
/// * SKAB: 8 slow process channels at 1 Hz. `stats` (window mean and spread per channel)
///   with wandering levels decided on the training rows: temperatures drift far beyond their
///   training range in normal operation, so their absolute level is replaced by its change
///   across the window. Window 32 s, hop 4.
/// * CWRU: vibration at 48 kHz. A log-magnitude spectrum of 256-sample windows (187.5 Hz
///   bins), hop 32.
/// * NAB: single series with a daily rhythm (5-minute samples; taxi 30-minute, ambient
///   temperature hourly) whose anomalies are changes of level and of the daily pattern: the
///   spectrum (pattern) with the window mean (level) of a window of about one day, chosen per
///   series from its timestamps by [`vae_train::eval::period::period_window`] (the power of
///   two nearest to a day of samples, halved while the training rows hold fewer than
///   [`NAB_MIN_TRAIN_WINDOWS`] windows), hop W/8. The rule was fixed on NAB's
///   `artificialWithAnomaly` series, where day-long windows (256 samples) beat 32 to 128.
fn protocols() -> [Protocol; 3] {
    [
        Protocol {
            name: "skab",
            fit: vec![
                "--columns",
                "",
                "--window",
                "32",
                "--hop",
                "4",
                "--transform",
                "stats",
                "--wandering",
                "auto",
                "--smooth",
                "8",
            ],
            model_label: "VAE, stats + wandering levels, smoothing 8",
        },
        Protocol {
            name: "cwru",
            fit: vec![
                "--columns",
                "DE",
                "--window",
                "256",
                "--hop",
                "32",
                "--transform",
                "spectrum",
                "--smooth",
                "8",
            ],
            model_label: "VAE, spectrum W=256, smoothing 8",
        },
        Protocol {
            name: "nab",
            // --window and --hop per series (see `nab`).
            fit: vec!["--columns", "value", "--transform", "spectrum", "--smooth", "8"],
            // Replaced in `run` by one that names --nab-transform and --nab-window.
            model_label: "VAE, spectrum W ≈ 1 day, smoothing 8",
        },
    ]
}

/// One training run of a data set: its seed and where its models and reports go.
struct Run<'a> {
    seed: u64,
    /// What every data set's evaluation shares.
    set: &'a EvalSetup<'a>,
    /// NAB categories (comma-separated folders of `data/`).
    nab_category: &'a str,
    /// SKAB's experiment sets (folders of `data/`).
    skab_sets: &'a [String],
}

impl Run<'_> {
    /// File stem of a model or report: seed 0 keeps the plain name.
    fn stem(&self, name: &str) -> String {
        let name = match self.set.config {
            Config::Hand => name.to_string(),
            Config::Auto => format!("{name}-auto"),
            Config::Defaults => format!("{name}-defaults"),
        };
        if self.seed == 0 {
            name
        } else {
            format!("{name}-seed{}", self.seed)
        }
    }
}

/// `cargo xtask eval-real [--data DIR] [--out DIR] [--only skab|cwru|nab] [--seeds N]
/// [--config hand|auto|defaults|all] [--study FILE] [--fit "OPTIONS"] [--skab-dir DIR] [--skab-sets LIST] [--nab-dir DIR] [--nab-category NAME]
/// [--nab-transform NAME] [--nab-window N] [--threshold-rule quantile|cantelli|auto]` (the
/// rule goes to every `fit`; see `vae-train fit --help`). For development studies: `--fit`
/// replaces `fit` options of every data set's configuration (e.g. `--fit "--smooth 4"`),
/// `--nab-transform` and `--nab-window` NAB's front end and one-day window, and the folder
/// options point at other copies of SKAB and NAB.
pub fn run(args: &[String]) -> Result<(), String> {
    let root = vae_e2e::qemu::workspace_root();
    let mut data_dir = root.join("..").join("shared").join("data");
    let mut out = root.join("target").join("eval-real");
    let mut only: Option<String> = None;
    let mut rule = "quantile";
    let mut seeds = DEFAULT_SEEDS;
    let mut nab_runs: Vec<String> = NAB_SETS.iter().map(|c| c.to_string()).collect();
    let mut nab_dir: Option<PathBuf> = None;
    let mut nab_transform = "spectrum".to_string();
    let mut nab_window: Option<usize> = None;
    let mut skab_dir: Option<PathBuf> = None;
    let mut skab_runs: Vec<Vec<String>> =
        SKAB_SETS.iter().map(|s| s.split(',').map(str::to_string).collect()).collect();
    let mut overrides: Vec<String> = Vec::new();
    let mut configs: Vec<Config> = vec![Config::Hand, Config::Auto, Config::Defaults];
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--data" => data_dir = PathBuf::from(it.next().ok_or("--data needs a directory")?),
            "--out" => out = PathBuf::from(it.next().ok_or("--out needs a directory")?),
            "--only" => only = Some(it.next().ok_or("--only needs skab, cwru or nab")?.clone()),
            "--seeds" => {
                seeds = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n >= 1)
                    .ok_or("--seeds needs a number of training seeds, at least 1")?
            }
            "--skab-dir" => skab_dir = Some(PathBuf::from(it.next().ok_or("--skab-dir needs a directory")?)),
            "--skab-sets" => {
                skab_runs = vec![it
                    .next()
                    .ok_or("--skab-sets needs folder names, e.g. valve1,valve2")?
                    .split(',')
                    .map(str::to_string)
                    .collect()]
            }
            "--fit" => {
                let v: Vec<String> =
                    it.next().ok_or("--fit needs fit options")?.split_whitespace().map(str::to_string).collect();
                if !v.len().is_multiple_of(2) || v.chunks(2).any(|p| !p[0].starts_with("--")) {
                    return Err(format!("--fit needs pairs of option and value, e.g. \"--smooth 4\", not {v:?}"));
                }
                overrides.extend(v);
            }
            "--nab-dir" => nab_dir = Some(PathBuf::from(it.next().ok_or("--nab-dir needs a directory")?)),
            "--nab-transform" => {
                nab_transform = it.next().ok_or("--nab-transform needs a front end (see vae-train fit --help)")?.clone()
            }
            "--nab-window" => {
                nab_window = Some(
                    it.next()
                        .and_then(|n| n.parse().ok())
                        .filter(|&n| n >= 2)
                        .ok_or("--nab-window needs a window length in samples, at least 2")?,
                )
            }
            "--nab-category" => {
                nab_runs = vec![it.next().ok_or("--nab-category needs folders of nab/data, e.g. realTraffic")?.clone()]
            }
            "--study" => {
                *STUDY.lock().map_err(|e| e.to_string())? =
                    Some(PathBuf::from(it.next().ok_or("--study needs a CSV file to append to")?))
            }
            "--config" => {
                configs = match it.next().map(String::as_str) {
                    Some("hand") => vec![Config::Hand],
                    Some("auto") => vec![Config::Auto],
                    Some("defaults") => vec![Config::Defaults],
                    Some("all") => vec![Config::Hand, Config::Auto, Config::Defaults],
                    _ => return Err("--config needs hand, auto, defaults or all".into()),
                }
            }
            "--threshold-rule" => {
                rule = match it.next().map(String::as_str) {
                    Some("quantile") => "quantile",
                    Some("cantelli") => "cantelli",
                    Some("auto") => "auto",
                    _ => return Err("--threshold-rule needs quantile, cantelli or auto".into()),
                }
            }
            other => {
                return Err(format!(
                    "unknown eval-real option `{other}` (use --data DIR, --out DIR, --only SET, --seeds N, --config hand|auto|defaults|all, --study FILE, --fit OPTIONS, --skab-dir DIR, --skab-sets LIST, --nab-dir DIR, --nab-category NAME, --nab-transform NAME, --nab-window N, --threshold-rule RULE)"
                ))
            }
        }
    }
    // The shared data folder is needed unless every set run has its own folder.
    let own_folder = match only.as_deref() {
        Some("nab") => nab_dir.is_some(),
        Some("skab") => skab_dir.is_some(),
        _ => false,
    };
    let nab_dir = nab_dir.unwrap_or_else(|| data_dir.join("nab"));
    let skab_dir = skab_dir.unwrap_or_else(|| data_dir.join("skab"));
    if !own_folder && !data_dir.join("README.md").exists() {
        return Err(format!(
            "no data sets at {}: the real-data evaluation reads ../shared/data (SKAB, NAB, CWRU); pass --data DIR",
            data_dir.display()
        ));
    }
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let started = Instant::now();
    let mut rows: Vec<TableRow> = Vec::new();
    let mut spread = String::new();
    let mut requested: Option<f64> = None;
    for mut p in protocols() {
        if only.as_deref().is_some_and(|o| o != p.name) {
            continue;
        }
        p.fit.extend(["--threshold-rule", rule]);
        // Each data set of the protocol: SKAB's and NAB's evaluated and development sets.
        let variants: Vec<(Vec<String>, String)> = match p.name {
            "skab" => skab_runs.iter().map(|s| (s.clone(), String::new())).collect(),
            "nab" => nab_runs.iter().map(|c| (Vec::new(), c.clone())).collect(),
            _ => vec![(Vec::new(), String::new())],
        };
        let model_label = match (p.name, nab_window) {
            ("nab", None) => format!("VAE, {nab_transform} W ≈ 1 day, smoothing 8"),
            ("nab", Some(w)) => format!("VAE, {nab_transform} W = {w}, smoothing 8"),
            _ => p.model_label.to_string(),
        };
        let mut label = match rule {
            "quantile" => model_label,
            r => format!("{model_label}, threshold rule {r}"),
        };
        if !overrides.is_empty() {
            label.push_str(&format!(", fit {}", overrides.join(" ")));
        }
        for (skab_sets, nab_category) in &variants {
            for &config in &configs {
                let setup = EvalSetup {
                    out: &out,
                    data_dir: &data_dir,
                    nab_dir: &nab_dir,
                    nab_transform: &nab_transform,
                    nab_window,
                    skab_dir: &skab_dir,
                    overrides: &overrides,
                    config,
                };
                let (r, title) = evaluate_set(&p, skab_sets, nab_category, seeds, &setup)?;
                requested = requested.or_else(|| r.first()?.first()?.requested_false_alarm_rate);
                let (label, suffix) = match config {
                    Config::Hand => (label.clone(), ""),
                    Config::Auto => (
                        config_label(&format!("{AUTO_LABEL} (chosen per file)"), rule, &overrides),
                        ", fit --auto",
                    ),
                    Config::Defaults => (
                        config_label(&format!("{DEFAULTS_LABEL} (raw W=32)"), rule, &overrides),
                        ", fit's defaults",
                    ),
                };
                // The references are the same for every configuration: shown once.
                let mut these = table_rows(&title, &label, config, &r);
                if config != configs[0] {
                    these.truncate(1);
                }
                rows.extend(these);
                spread.push_str(&seed_spread(&format!("{title}{suffix}"), &r));
            }
        }
    }
    println!("{}", table(&rows));
    println!("{}", alarm_legend(requested));
    println!("{spread}");
    println!("{}", targets(&rows, requested));
    println!(
        "(`cargo xtask eval-real`: {:.0} s; models and per-file reports in {})",
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}

/// What every data set's evaluation shares.
struct EvalSetup<'a> {
    /// Where models and reports go.
    out: &'a Path,
    /// The shared data folder (CWRU's recordings).
    data_dir: &'a Path,
    /// NAB's folder: `data/` and `labels/` (a checkout of the NAB repository will do).
    nab_dir: &'a Path,
    /// NAB's front end (default `spectrum`).
    nab_transform: &'a str,
    /// NAB's window instead of the one-day rule.
    nab_window: Option<usize>,
    /// SKAB's folder (`data/<set>/*.csv`).
    skab_dir: &'a Path,
    /// `fit` options that replace the configuration's (pairs of option and value).
    overrides: &'a [String],
    /// Which configuration the models get.
    config: Config,
}

/// The configurations eval-real compares (`--config`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Config {
    /// Each data set's hand-picked configuration ([`protocols`]).
    Hand,
    /// `fit --auto` with the data set's columns and rows only.
    Auto,
    /// `fit --no-auto` with the data set's columns and rows only: its plain defaults.
    Defaults,
}

/// A model row's label.
fn config_label(what: &str, rule: &str, overrides: &[String]) -> String {
    let mut label = what.to_string();
    if rule != "quantile" {
        label.push_str(&format!(", threshold rule {rule}"));
    }
    if !overrides.is_empty() {
        label.push_str(&format!(", fit {}", overrides.join(" ")));
    }
    label
}

/// Options of a configuration that `fit --auto` keeps: the columns and the threshold rule
/// (the front end, window, hop, wandering levels, smoothing and width are its to choose).
const AUTO_KEEPS: [&str; 2] = ["--columns", "--threshold-rule"];

/// One data set of protocol `p` (SKAB's `skab_sets`, NAB's categories `nab_category`) for
/// every seed: the evaluations per seed and the table title.
fn evaluate_set(
    p: &Protocol,
    skab_sets: &[String],
    nab_category: &str,
    seeds: u64,
    s: &EvalSetup<'_>,
) -> Result<(Vec<Vec<Evaluation>>, String), String> {
    let t = Instant::now();
    let mut per_seed: Vec<Vec<Evaluation>> = Vec::new();
    for seed in 0..seeds {
        let r = Run { seed, set: s, nab_category, skab_sets };
        per_seed.push(match p.name {
            "skab" => skab(p, &r)?,
            "cwru" => cwru(p, s.data_dir, &r)?,
            _ => nab(p, &r)?,
        });
    }
    let files = per_seed.first().map_or(0, Vec::len);
    let title = match p.name {
        "skab" => format!("SKAB {} ({files} files, mean)", skab_sets.join("+")),
        "cwru" => "CWRU 0 HP, 7-mil faults".to_string(),
        _ => format!("NAB {} ({files} series, mean)", nab_category.replace(',', "+")),
    };
    eprintln!(
        "{title}: {} evaluation(s) in {:.1} s",
        per_seed.iter().map(Vec::len).sum::<usize>(),
        t.elapsed().as_secs_f64()
    );
    Ok((per_seed, title))
}

/// Trains with `vae-train fit`'s options through the pipeline and returns the model.
fn fit(
    data: &Path,
    rows: &str,
    extra: &[String],
    run: &Run<'_>,
    out: &Path,
) -> Result<vae_train::OwnedModel, String> {
    let auto = run.set.config == Config::Auto;
    let hand = run.set.config == Config::Hand;
    let keep = |pair: &[String]| hand || AUTO_KEEPS.contains(&pair[0].as_str());
    let mut options: Vec<String> = COMMON_FIT
        .chunks(2)
        .filter(|p| !auto || p[0] != "--hidden")
        .flat_map(|p| p.iter().map(|s| s.to_string()))
        .collect();
    options.extend(["--seed".to_string(), run.seed.to_string()]);
    options.extend(["--val-fraction".to_string(), VAL_FRACTION.to_string()]);
    options.extend(extra.chunks(2).filter(|p| keep(p)).flatten().cloned());
    let mut args: Vec<String> = vec!["vae-train".into(), "fit".into(), "--data".into(), path(data)?];
    args.extend(["--rows".to_string(), rows.to_string()]);
    args.extend(with_overrides(&options, run.set.overrides));
    args.extend(["--quiet".to_string(), "--force".to_string(), "--out".to_string(), path(out)?]);
    args.push(if auto { "--auto" } else { "--no-auto" }.to_string());
    let cli = <vae_train::cli::Cli as clap::Parser>::try_parse_from(&args).map_err(|e| e.to_string())?;
    let vae_train::cli::Command::Fit(a) = cli.command else {
        return Err("internal: not a fit command".into());
    };
    let fitted = (|| {
        let plan = a.plan()?;
        let recordings = a.load()?;
        let parts = a.auto_parts();
        let fitted = if parts.any() {
            let (fitted, search) =
                vae_train::pipeline::fit_auto(&recordings, &plan, parts, None, &mut |l| eprintln!("{l}"))?;
            let c = &search.candidates[search.chosen];
            eprintln!("auto: {}: chose {}", data.display(), c.line());
            if let Ok(mut last) = LAST_SEARCH.lock() {
                *last = Some((data.to_path_buf(), search));
            }
            fitted
        } else {
            vae_train::pipeline::fit(&recordings, &plan, None, &mut |l| eprintln!("{l}"))?
        };
        fitted.model.save(out)?;
        Ok::<_, vae_train::Error>(fitted)
    })();
    fitted.map(|f| f.model).map_err(|e| format!("fit {}: {e}", data.display()))
}

/// `options` (pairs of option and value) with each option of `overrides` replaced by, or
/// added with, its value there.
fn with_overrides(options: &[String], overrides: &[String]) -> Vec<String> {
    let replaced = |o: &str| overrides.chunks(2).any(|p| p[0] == o);
    let mut out: Vec<String> =
        options.chunks(2).filter(|p| !replaced(&p[0])).flat_map(|p| p.iter().cloned()).collect();
    out.extend(overrides.iter().cloned());
    out
}

fn path(p: &Path) -> Result<String, String> {
    p.to_str().map(str::to_string).ok_or_else(|| format!("{}: not valid UTF-8", p.display()))
}

fn options(columns: &[String], rows: Option<&str>, window: usize) -> Result<LoadOptions, String> {
    Ok(LoadOptions {
        columns: Some(columns.to_vec()),
        rows: rows.map(RowRange::parse).transpose().map_err(|e| e.to_string())?,
        nan: NanPolicy::Keep,
        min_rows: window,
        ..Default::default()
    })
}

/// The last `fit --auto` search, for `--study`.
static LAST_SEARCH: std::sync::Mutex<Option<(PathBuf, vae_train::pipeline::Search)>> =
    std::sync::Mutex::new(None);

/// `--study FILE`: one CSV line per candidate and smoothing of every `--auto` fit, with its
/// criterion and its ROC-AUC on the test labels (for choosing the criterion on development
/// data; never used by a fit).
static STUDY: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);

fn study(test: &[Recording]) -> Result<(), String> {
    let Some(file) = STUDY.lock().map_err(|e| e.to_string())?.clone() else { return Ok(()) };
    let Some((data, search)) = LAST_SEARCH.lock().map_err(|e| e.to_string())?.take() else { return Ok(()) };
    let mut out = String::new();
    for (i, (model, criteria)) in search.tried.iter().enumerate() {
        for cr in criteria {
            let mut m = model.clone();
            m.meta.transform.smoothing = cr.smoothing;
            let e = eval::evaluate(&m, test, m.meta.score, None).map_err(|e| e.to_string())?;
            let c = &search.candidates[i];
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{:.4},{:.4},{:.4}",
                data.display(),
                c.features.name(),
                c.window,
                c.hop,
                c.hidden[0],
                c.macs,
                cr.smoothing,
                e.metrics.roc_auc.unwrap_or(f64::NAN),
                cr.faults,
                cr.gap
            ));
            for (_, a) in &cr.by_fault {
                out.push_str(&format!(",{a:.4}"));
            }
            out.push('\n');
        }
    }
    use std::io::Write as _;
    let mut f =
        std::fs::OpenOptions::new().create(true).append(true).open(&file).map_err(|e| e.to_string())?;
    f.write_all(out.as_bytes()).map_err(|e| e.to_string())
}

fn evaluate(
    model: &vae_train::OwnedModel,
    test: &[Recording],
    train: &[Recording],
    report: &Path,
) -> Result<Evaluation, String> {
    study(test)?;
    let e = eval::evaluate(model, test, model.meta.score, Some(train)).map_err(|e| e.to_string())?;
    eval::write_report(&e, report).map_err(|e| e.to_string())?;
    if std::env::var_os("EVAL_REAL_DUMP_TRAIN").is_some() {
        let mut tr = train.to_vec();
        for r in &mut tr {
            r.labels = Some(vec![false; r.rows()]);
        }
        let t = eval::evaluate(model, &tr, model.meta.score, None).map_err(|e| e.to_string())?;
        let mut d = report.as_os_str().to_owned();
        d.push("-train");
        eval::write_report(&t, Path::new(&d)).map_err(|e| e.to_string())?;
    }
    Ok(e)
}

fn skab(p: &Protocol, run: &Run<'_>) -> Result<Vec<Evaluation>, String> {
    let mut files = Vec::new();
    for set in run.skab_sets {
        let set = set.as_str();
        let dir = run.set.skab_dir.join("data").join(set);
        let mut f: Vec<(u32, PathBuf)> = std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter_map(|p| Some((p.file_stem()?.to_str()?.parse().ok()?, p)))
            .collect();
        f.sort();
        files.extend(f.into_iter().map(|(_, p)| (set, p)));
    }
    let columns: Vec<String> = SKAB_COLUMNS.iter().map(|s| s.to_string()).collect();
    let joined = columns.join(",");
    // The empty placeholder after --columns takes the column list.
    let fit_args: Vec<String> =
        p.fit.iter().map(|s| if s.is_empty() { joined.clone() } else { s.to_string() }).collect();
    let mut evals = Vec::new();
    for (set, f) in files {
        let stem = run.stem(&format!("skab-{set}-{}", f.file_stem().and_then(|s| s.to_str()).unwrap_or("x")));
        eprintln!("skab: {} (seed {})", f.display(), run.seed);
        let model = fit(&f, ":400", &fit_args, run, &run.set.out.join(format!("{stem}.vaem")))?;
        let w = model.meta.window;
        let test = LabelSource::Column { files: vec![f.clone()], column: "anomaly".into() }
            .load(&options(&columns, Some("400:"), w)?)
            .map_err(|e| e.to_string())?;
        let train = data::load(std::slice::from_ref(&f), &options(&columns, Some(":400"), w)?)
            .map_err(|e| e.to_string())?;
        evals.push(evaluate(&model, &test, &train, &run.set.out.join(stem))?);
    }
    Ok(evals)
}

fn cwru(p: &Protocol, data_dir: &Path, run: &Run<'_>) -> Result<Vec<Evaluation>, String> {
    let dir = data_dir.join("cwru");
    let normal = dir.join("1797_Normal.npz");
    let faults = ["1797_B_7_DE48.npz", "1797_IR_7_DE48.npz", "1797_OR@6_7_DE48.npz"].map(|f| dir.join(f));
    eprintln!("cwru: {} (seed {})", normal.display(), run.seed);
    let fit_args: Vec<String> = p.fit.iter().map(|s| s.to_string()).collect();
    let stem = run.stem("cwru");
    let model = fit(&normal, "0:0.7", &fit_args, run, &run.set.out.join(format!("{stem}.vaem")))?;
    let columns = vec!["DE".to_string()];
    let w = model.meta.window;
    let mut test = data::load(std::slice::from_ref(&normal), &options(&columns, Some("0.7:1"), w)?)
        .map_err(|e| e.to_string())?;
    test[0].labels = Some(vec![false; test[0].rows()]);
    for mut r in data::load(&faults, &options(&columns, None, w)?).map_err(|e| e.to_string())? {
        r.labels = Some(vec![true; r.rows()]);
        test.push(r);
    }
    let train = data::load(std::slice::from_ref(&normal), &options(&columns, Some("0:0.7"), w)?)
        .map_err(|e| e.to_string())?;
    Ok(vec![evaluate(&model, &test, &train, &run.set.out.join(stem))?])
}

fn nab(p: &Protocol, run: &Run<'_>) -> Result<Vec<Evaluation>, String> {
    let json = run.set.nab_dir.join("labels").join("combined_windows.json");
    let windows = LabelWindows::read(&json).map_err(|e| e.to_string())?;
    let mut files: Vec<PathBuf> = Vec::new();
    for category in run.nab_category.split(',') {
        let dir = run.set.nab_dir.join("data").join(category);
        let mut f: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "csv"))
            .collect();
        f.sort();
        files.extend(f);
    }
    let columns = vec!["value".to_string()];
    let fit_args: Vec<String> = p.fit.iter().map(|s| s.to_string()).collect();
    let fit_args = with_overrides(&fit_args, &["--transform".to_string(), run.set.nab_transform.to_string()]);
    let mut evals = Vec::new();
    for f in files {
        let stem = run.stem(&format!("nab-{}", f.file_stem().and_then(|s| s.to_str()).unwrap_or("x")));
        let whole =
            data::load_file(&f, &LoadOptions { keep_timestamps: true, ..options(&columns, None, 1)? })
                .map_err(|e| e.to_string())?;
        let n = windows.rows_before_first(&whole).map_err(|e| e.to_string())?;
        let stamps = whole.timestamps.as_deref().unwrap_or(&[]);
        let step = period::median_step_seconds(&stamps[..n.min(stamps.len())])
            .ok_or_else(|| format!("{}: no timestamps to measure the sampling step", f.display()))?;
        let w = run.set.nab_window.unwrap_or_else(|| {
            period::period_window(period::DAY_SECONDS / step, n, VAL_FRACTION, NAB_MIN_TRAIN_WINDOWS)
        });
        eprintln!(
            "nab: {} ({n} training rows, step {step} s: window {w}, hop {}; seed {})",
            f.display(),
            w / 8,
            run.seed
        );
        let mut args = fit_args.clone();
        if run.set.config == Config::Hand {
            args.extend(["--window".to_string(), w.to_string(), "--hop".to_string(), (w / 8).to_string()]);
        }
        let model = fit(&f, &format!(":{n}"), &args, run, &run.set.out.join(format!("{stem}.vaem")))?;
        let w = model.meta.window;
        let test = LabelSource::Windows { files: vec![f.clone()], json: json.clone() }
            .load(&options(&columns, None, w)?)
            .map_err(|e| e.to_string())?;
        let train = vec![whole.slice(0..n)];
        evals.push(evaluate(&model, &test, &train, &run.set.out.join(stem))?);
    }
    Ok(evals)
}

/// One line of the table.
struct TableRow {
    /// The configuration of a model row (`None` for the references).
    config: Option<Config>,
    data: String,
    scorer: String,
    m: Mean,
}

/// Means of each metric over evaluations (metrics a file leaves undefined are skipped).
#[derive(Clone, Copy, Default)]
struct Mean {
    roc_auc: Option<f64>,
    pr_auc: Option<f64>,
    best_f1: Option<f64>,
    f1: Option<f64>,
    precision: Option<f64>,
    recall: Option<f64>,
    /// Share of labelled-normal windows flagged at the threshold.
    false_alarm_rate: Option<f64>,
    /// Share of anomaly events with a window flagged.
    event_recall: Option<f64>,
    windows: usize,
    anomalous: usize,
}

/// The metrics a [`Mean`] averages, in table order.
const METRICS: usize = 8;

/// The mean of the defined, finite values (`None` when there are none).
fn average(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = values.flatten().filter(|x| x.is_finite()).collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

impl Mean {
    /// The metrics in table order.
    fn metrics(&self) -> [Option<f64>; METRICS] {
        [
            self.roc_auc,
            self.pr_auc,
            self.best_f1,
            self.f1,
            self.precision,
            self.recall,
            self.false_alarm_rate,
            self.event_recall,
        ]
    }

    /// Each metric the [`average`] of its values in `items`; the counts given.
    fn averaged(items: &[[Option<f64>; METRICS]], windows: usize, anomalous: usize) -> Self {
        let [roc_auc, pr_auc, best_f1, f1, precision, recall, false_alarm_rate, event_recall] =
            std::array::from_fn(|i| average(items.iter().map(|m| m[i])));
        Mean {
            roc_auc,
            pr_auc,
            best_f1,
            f1,
            precision,
            recall,
            false_alarm_rate,
            event_recall,
            windows,
            anomalous,
        }
    }
}

/// A scorer's metrics on one evaluation with its alarm figures, when it has a threshold.
type Scored = (Metrics, Option<AlarmFigures>);

fn mean_of(ms: &[Scored]) -> Mean {
    let metrics: Vec<[Option<f64>; METRICS]> = ms
        .iter()
        .map(|(m, a)| {
            let a = a.as_ref();
            [
                m.roc_auc,
                m.pr_auc,
                m.best_f1,
                m.f1,
                m.precision,
                m.recall,
                a.and_then(|a| a.false_alarm_rate),
                a.and_then(|a| a.event_recall),
            ]
        })
        .collect();
    Mean::averaged(
        &metrics,
        ms.iter().map(|(m, _)| m.windows).sum(),
        ms.iter().map(|(m, _)| m.anomalous_windows).sum(),
    )
}

/// Mean of per-seed means (every seed evaluates the same windows, so the counts are one
/// seed's).
fn mean_over_seeds(per_seed: &[Mean]) -> Mean {
    let metrics: Vec<[Option<f64>; METRICS]> = per_seed.iter().map(Mean::metrics).collect();
    let first = per_seed.first().copied().unwrap_or_default();
    Mean::averaged(&metrics, first.windows, first.anomalous)
}

/// The model's and the reference rows of one data set, each the mean over seeds of the mean
/// over files. The references do not depend on the seed except PCA's training rows, which
/// are the same for every seed.
fn table_rows(title: &str, label: &str, config: Config, per_seed: &[Vec<Evaluation>]) -> Vec<TableRow> {
    let pick = |f: &dyn Fn(&Evaluation) -> Option<Scored>| -> Mean {
        let means: Vec<Mean> =
            per_seed.iter().map(|evals| mean_of(&evals.iter().filter_map(f).collect::<Vec<_>>())).collect();
        mean_over_seeds(&means)
    };
    let k = per_seed.first().and_then(|e| e.first()).map_or(0, |e| e.pca_components);
    vec![
        TableRow {
            config: Some(config),
            data: title.to_string(),
            scorer: label.to_string(),
            m: pick(&|e| Some((e.metrics, e.alarms))),
        },
        TableRow {
            config: None,
            data: String::new(),
            scorer: "flag every window".into(),
            m: pick(&|e| Some((e.flag_all, None))),
        },
        TableRow {
            config: None,
            data: String::new(),
            scorer: "no-training score".into(),
            m: pick(&|e| Some((e.no_training, e.no_training_alarms))),
        },
        TableRow {
            config: None,
            data: String::new(),
            scorer: format!("PCA reconstruction, k={k}"),
            m: pick(&|e| e.pca.map(|p| (p, None))),
        },
    ]
}

/// The alarm figures of a list of evaluations pooled: normal windows, false alarms, episodes,
/// events, events caught, and the delays of the events caught (rows; seconds where every one
/// has them).
#[derive(Default)]
struct Pooled {
    normal: usize,
    false_alarms: usize,
    episodes: usize,
    days: Option<f64>,
    events: usize,
    caught: usize,
    /// The longest delay of an event caught: in seconds where every file with a caught event
    /// has timestamps (files may differ in sampling step), else in rows.
    longest: Option<String>,
}

impl Pooled {
    /// Pools the figures `f` picks of `evals` (evaluations without them are skipped).
    fn of(evals: &[Evaluation], f: &dyn Fn(&Evaluation) -> Option<AlarmFigures>) -> Self {
        let figures: Vec<AlarmFigures> = evals.iter().filter_map(f).collect();
        Pooled {
            normal: figures.iter().map(|a| a.normal_windows).sum(),
            false_alarms: figures.iter().map(|a| a.false_alarms).sum(),
            episodes: figures.iter().map(|a| a.episodes).sum(),
            days: figures.iter().map(|a| a.normal_days).sum::<Option<f64>>(),
            events: figures.iter().map(|a| a.events).sum(),
            caught: figures.iter().map(|a| a.events_detected).sum(),
            longest: figures.iter().filter_map(|a| a.max_delay_rows).max().map(|rows| {
                let caught = figures.iter().filter(|a| a.max_delay_rows.is_some());
                let seconds: Option<Vec<f64>> = caught.map(|a| a.max_delay_seconds).collect();
                match seconds.and_then(|s| s.into_iter().reduce(f64::max)) {
                    Some(s) => eval::alarms::duration(s),
                    None => format!("{rows} rows"),
                }
            }),
        }
    }

    /// `false-alarm rate 0.012, 3.1 episodes / 1,000 normal windows (0.80 / day), 18/20
    /// events caught, longest delay 6.7 min`.
    fn line(&self) -> String {
        let per_day = self
            .days
            .filter(|&d| d > 0.0)
            .map_or(String::new(), |d| format!(" ({:.2} / day)", self.episodes as f64 / d));
        let longest = self.longest.as_ref().map_or(String::new(), |d| format!(", longest delay {d}"));
        format!(
            "false-alarm rate {}, {:.1} episodes / 1,000 normal windows{per_day}, {}/{} events caught{longest}",
            f3((self.normal > 0).then(|| self.false_alarms as f64 / self.normal as f64)),
            1000.0 * self.episodes as f64 / self.normal.max(1) as f64,
            self.caught,
            self.events
        )
    }
}

/// One line per data set: the model's ROC-AUC and F1 at its threshold for each seed, and its
/// alarms pooled over the files for each seed beside the no-training reference's (the same
/// for every seed).
fn seed_spread(title: &str, per_seed: &[Vec<Evaluation>]) -> String {
    let means: Vec<Mean> = per_seed
        .iter()
        .map(|evals| mean_of(&evals.iter().map(|e| (e.metrics, e.alarms)).collect::<Vec<_>>()))
        .collect();
    let list =
        |f: &dyn Fn(&Mean) -> Option<f64>| means.iter().map(|m| f3(f(m))).collect::<Vec<_>>().join(" / ");
    let mut s = format!(
        "{title}, model by seed 0..{}: ROC-AUC {}; F1 of the decisions {}\n",
        means.len().saturating_sub(1),
        list(&|m| m.roc_auc),
        list(&|m| m.f1)
    );
    for (seed, evals) in per_seed.iter().enumerate() {
        s.push_str(&format!(
            "  seed {seed}, pooled over files: {}\n",
            Pooled::of(evals, &|e| e.alarms).line()
        ));
    }
    if let Some(evals) = per_seed.first() {
        let r = Pooled::of(evals, &|e| e.no_training_alarms);
        s.push_str(&format!("  no-training reference, pooled over files: {}\n", r.line()));
    }
    s
}

fn f3(v: Option<f64>) -> String {
    v.map_or("–".to_string(), |x| format!("{x:.3}"))
}

fn table(rows: &[TableRow]) -> String {
    let mut s = String::from(
        "| data set | scorer | ROC-AUC | PR-AUC | best F1 | F1 of the decisions | precision | recall | false-alarm rate | event recall | windows (anomalous) |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} ({}) |\n",
            r.data,
            r.scorer,
            f3(r.m.roc_auc),
            f3(r.m.pr_auc),
            f3(r.m.best_f1),
            f3(r.m.f1),
            f3(r.m.precision),
            f3(r.m.recall),
            f3(r.m.false_alarm_rate),
            f3(r.m.event_recall),
            r.m.windows,
            r.m.anomalous
        ));
    }
    s
}

/// What the alarm columns mean, with the false-alarm rate asked for.
fn alarm_legend(requested: Option<f64>) -> String {
    format!(
        "False-alarm rate: the share of labelled-normal windows flagged at the threshold (asked for: {}, \
         1 - q of the calibration). Event recall: the share of anomaly events (runs of consecutive \
         anomalous windows of a file) with a window flagged. Both are means over files, as the other \
         columns; the no-training row flags its score smoothed as the model's, at the same quantile of \
         its scores on the file's training rows.",
        f3(requested)
    )
}

/// The targets against the table.
fn targets(rows: &[TableRow], requested: Option<f64>) -> String {
    let find = |data: &str, scorer: &str| -> Option<Mean> {
        let mut current = "";
        for r in rows {
            if !r.data.is_empty() {
                current = &r.data;
            }
            if current.starts_with(data) && (scorer.is_empty() && !r.data.is_empty() || r.scorer == scorer) {
                return Some(r.m);
            }
        }
        None
    };
    let mut s = String::from("Targets:\n");
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    if let (Some(m), Some(all)) = (find("SKAB", ""), find("SKAB", "flag every window")) {
        let auc = m.roc_auc.unwrap_or(0.0);
        s.push_str(&format!("* SKAB ROC-AUC {auc:.3} >= 0.90: {}\n", verdict(auc >= 0.90)));
        let (f1, base) = (m.f1.unwrap_or(0.0), all.f1.unwrap_or(1.0));
        s.push_str(&format!(
            "* SKAB F1 of the decisions {f1:.3} >= flag-every-window {base:.3} + 0.05 = {:.3}: {}\n",
            base + 0.05,
            verdict(f1 >= base + 0.05)
        ));
    }
    if let (Some(m), Some(nt)) = (find("NAB", ""), find("NAB", "no-training score")) {
        let (auc, base) = (m.roc_auc.unwrap_or(0.0), nt.roc_auc.unwrap_or(1.0));
        s.push_str(&format!(
            "* NAB mean ROC-AUC {auc:.3} >= no-training {base:.3} + 0.05 = {:.3}: {}\n",
            base + 0.05,
            verdict(auc >= base + 0.05)
        ));
    }
    if let Some(m) = find("CWRU", "") {
        let auc = m.roc_auc.unwrap_or(0.0);
        s.push_str(&format!("* CWRU ROC-AUC {auc:.3} >= 0.99: {}\n", verdict(auc >= 0.99)));
    }
    s.push_str(&alarm_targets(rows, requested));
    s.push_str(&auto_targets(rows));
    s
}

/// `fit --auto`'s targets on every data set where it ran: its ROC-AUC within 0.01 of the
/// hand-picked configuration's, and at most 0.01 below `fit`'s defaults'.
fn auto_targets(rows: &[TableRow]) -> String {
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let mut s = String::new();
    let mut titles: Vec<&str> = Vec::new();
    for r in rows.iter().filter(|r| !r.data.is_empty()) {
        if !titles.contains(&r.data.as_str()) {
            titles.push(&r.data);
        }
    }
    for t in titles {
        let pick =
            |c: Config| rows.iter().find(|r| r.data == t && r.config == Some(c)).and_then(|r| r.m.roc_auc);
        let Some(auto) = pick(Config::Auto) else { continue };
        let hand = pick(Config::Hand);
        let mut line = format!("* {t}: --auto ROC-AUC {auto:.3}");
        if let Some(h) = hand {
            line.push_str(&format!(" within 0.01 of hand-picked {h:.3}: {}", verdict(auto >= h - 0.01)));
        }
        if let Some(d) = pick(Config::Defaults) {
            line.push_str(&format!("; >= defaults {d:.3} - 0.01: {}", verdict(auto >= d - 0.01)));
        }
        s.push_str(&line);
        s.push('\n');
    }
    s
}

/// Label prefixes of the automatic and defaults model rows.
const AUTO_LABEL: &str = "VAE, fit --auto";
const DEFAULTS_LABEL: &str = "VAE, fit's defaults";

/// The alarm targets on every data set: the false-alarm rate at most twice the requested
/// one; event recall at least 0.8 (0.6 on NAB) and above the no-training reference's.
fn alarm_targets(rows: &[TableRow], requested: Option<f64>) -> String {
    let Some(a) = requested else { return String::new() };
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let mut s = String::new();
    let mut current: Option<&TableRow> = None;
    for r in rows {
        if !r.data.is_empty() {
            current = Some(r);
            continue;
        }
        let (Some(model), "no-training score") = (current, r.scorer.as_str()) else { continue };
        let (Some(fa), Some(recall)) = (model.m.false_alarm_rate, model.m.event_recall) else { continue };
        let floor = if model.data.starts_with("NAB") { 0.6 } else { 0.8 };
        let reference = r.m.event_recall.unwrap_or(0.0);
        s.push_str(&format!(
            "* {}: false-alarm rate {fa:.3} <= 2 x {a} = {:.3}: {}; event recall {recall:.3} >= {floor}: {}, > no-training {reference:.3}: {}\n",
            model.data,
            2.0 * a,
            verdict(fa <= 2.0 * a),
            verdict(recall >= floor),
            verdict(recall > reference)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn overrides_replace_options_and_add_new_ones() {
        let base = strings("--window 32 --hop 4 --smooth 8");
        assert_eq!(with_overrides(&base, &[]), base);
        assert_eq!(
            with_overrides(&base, &strings("--hop 8 --window 64 --quantile 0.99")),
            strings("--smooth 8 --hop 8 --window 64 --quantile 0.99")
        );
    }

    #[test]
    fn means_over_seeds_keep_one_seeds_counts() {
        let m = |auc: f64, f1: Option<f64>| Mean {
            roc_auc: Some(auc),
            f1,
            windows: 10,
            anomalous: 4,
            ..Mean::default()
        };
        let mean = mean_over_seeds(&[m(0.8, Some(0.5)), m(0.9, None), m(1.0, Some(0.7))]);
        assert!((mean.roc_auc.unwrap() - 0.9).abs() < 1e-12);
        assert!((mean.f1.unwrap() - 0.6).abs() < 1e-12, "a seed without the metric is skipped");
        assert_eq!((mean.windows, mean.anomalous), (10, 4));
        assert_eq!(mean.pr_auc, None);
    }

    #[test]
    fn auto_is_compared_with_the_hand_picked_and_the_default_rows_of_its_data_set() {
        let row = |config: Option<Config>, data: &str, scorer: &str, auc: f64| TableRow {
            config,
            data: data.into(),
            scorer: scorer.into(),
            m: Mean { roc_auc: Some(auc), ..Mean::default() },
        };
        let rows = [
            row(Some(Config::Hand), "SKAB x", "VAE, stats", 0.90),
            row(None, "", "no-training score", 0.70),
            row(Some(Config::Auto), "SKAB x", &format!("{AUTO_LABEL} (chosen per file)"), 0.895),
            row(Some(Config::Defaults), "SKAB x", &format!("{DEFAULTS_LABEL} (raw W=32)"), 0.91),
            row(Some(Config::Hand), "NAB y", "VAE, spectrum", 0.75),
            row(Some(Config::Auto), "NAB y", &format!("{AUTO_LABEL} (chosen per file)"), 0.70),
        ];
        let t = auto_targets(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2, "{t}");
        assert!(lines[0].contains("SKAB x: --auto ROC-AUC 0.895 within 0.01 of hand-picked 0.900: met; >= defaults 0.910 - 0.01: NOT met"), "{t}");
        assert!(
            lines[1].contains("NAB y: --auto ROC-AUC 0.700 within 0.01 of hand-picked 0.750: NOT met")
                && !lines[1].contains("defaults"),
            "{t}"
        );
    }

    #[test]
    fn the_table_has_the_alarm_columns() {
        let m =
            Mean { false_alarm_rate: Some(0.0125), event_recall: Some(0.9), windows: 10, ..Mean::default() };
        let t =
            table(&[TableRow { config: Some(Config::Hand), data: "SKAB".into(), scorer: "VAE".into(), m }]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[0].contains("| recall | false-alarm rate | event recall | windows (anomalous) |"),
            "{t}"
        );
        assert_eq!(lines[1].matches("---").count(), lines[0].matches(" | ").count() + 1, "{t}");
        assert!(lines[2].ends_with("| – | 0.013 | 0.900 | 10 (0) |"), "{t}");
        let mean = mean_over_seeds(&[m, Mean { false_alarm_rate: None, event_recall: Some(0.5), ..m }]);
        assert_eq!((mean.false_alarm_rate, mean.event_recall), (Some(0.0125), Some(0.7)));
        assert!(alarm_legend(Some(0.005)).contains("(asked for: 0.005, 1 - q of the calibration)"));
    }

    #[test]
    fn bad_options_are_refused_by_name() {
        let run = |a: &str| super::run(&strings(a)).unwrap_err();
        assert!(run("--seeds 0").contains("--seeds"));
        assert!(run("--fit --smooth").contains("pairs of option and value"));
        assert!(run("--nab-window 1").contains("--nab-window"));
        assert!(run("--bogus").contains("unknown eval-real option `--bogus`"));
    }
}
