//! Nothing is lost when training is killed, diverges or fails, tested on the real
//! `vae-train` binary:
//!
//! * SIGKILL mid-run, twice, then `--resume`: the checkpoint read at any moment is a valid
//!   model file, the resumed run continues (the epochs before the kill are kept, not redone)
//!   and ends with the very bytes of an uninterrupted run;
//! * a learning rate that blows up: one clear error, the last good checkpoint and the
//!   resume state kept, an existing model untouched, and a later resume still exact;
//! * failed runs (clobber refused, bad data, divergence) leave existing outputs
//!   byte-identical and no temporary files;
//! * a crash in the middle of writing (the file-size limit kills the process with SIGXFSZ
//!   inside the write) leaves the previous model, checkpoint or score file intact: writes
//!   go to a temporary file that is renamed over the target.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_vae-train");
const SIGKILL: i32 = 9;
const SIGXFSZ: i32 = 25;

fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).env("RUST_BACKTRACE", "1");
    c
}

fn run(args: &[&str]) -> Output {
    cmd(args).output().unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"))
}

fn ok(args: &[&str]) -> Output {
    let out = run(args);
    assert!(out.status.success(), "vae-train {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    out
}

/// Fails with status 1 and one `error:` line containing `expected`, no panic; returns it.
fn fails(out: &Output, expected: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains(expected), "`{expected}` not in: {}", errors[0]);
    errors[0].to_string()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", p.display()))
}

/// A simulated recording: 3000 rows of 4 channels.
fn synth(dir: &Path) -> PathBuf {
    ok(&["synth", "--out", s(dir), "--train-rows", "3000", "--test-rows", "60", "--seed", "3"]);
    dir.join("train.csv")
}

/// The fit command line of every run here: 40 epochs, no early stop, a fixed seed; `extra`
/// adds flags (`--force`) and options, an option given there replacing the default.
fn fit_args<'a>(data: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut options: Vec<(&str, &str)> = vec![
        ("--data", data),
        ("--out", out),
        ("--window", "16"),
        ("--hop", "2"),
        ("--hidden", "16"),
        ("--latent", "4"),
        ("--epochs", "40"),
        ("--patience", "0"),
        ("--batch", "64"),
        ("--seed", "7"),
        ("--name", "m"),
    ];
    let mut flags = vec!["--quiet"];
    let mut rest = extra.iter().peekable();
    while let Some(&arg) = rest.next() {
        match rest.next_if(|v| !v.starts_with("--")) {
            Some(&value) => match options.iter_mut().find(|(k, _)| *k == arg) {
                Some(slot) => slot.1 = value,
                None => options.push((arg, value)),
            },
            None => flags.push(arg),
        }
    }
    let mut a = vec!["fit", "--no-auto"];
    for (k, v) in options {
        a.extend([k, v]);
    }
    a.extend(flags);
    a
}

/// The model file is valid for `vae-core`'s reader (the firmware's).
fn valid_model(bytes: &[u8]) -> bool {
    vae_train::OwnedModel::from_bytes(bytes).is_ok()
}

/// Lines of the per-epoch log (header excluded); empty when absent.
fn log_rows(out: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(with_suffix(out, ".log.csv")).unwrap_or_default();
    text.lines().skip(1).map(str::to_string).collect()
}

/// Reads the checkpoint in a loop while the run goes on; counts valid reads and records
/// every invalid one.
struct Watcher {
    stop: Arc<AtomicBool>,
    valid: Arc<AtomicUsize>,
    handle: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl Watcher {
    fn start(ckpt: PathBuf) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let valid = Arc::new(AtomicUsize::new(0));
        let (st, va) = (stop.clone(), valid.clone());
        let handle = std::thread::spawn(move || {
            let mut bad = Vec::new();
            while !st.load(Ordering::SeqCst) {
                match std::fs::read(&ckpt) {
                    Ok(bytes) if valid_model(&bytes) => {
                        va.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(bytes) => bad.push(format!("{} bytes, not a valid model file", bytes.len())),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => bad.push(e.to_string()),
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            bad
        });
        Self { stop, valid, handle: Some(handle) }
    }

    /// Stops; (valid reads, invalid reads).
    fn finish(mut self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        let bad = self.handle.take().map(|h| h.join().unwrap()).unwrap_or_default();
        (self.valid.load(Ordering::SeqCst), bad)
    }
}

/// How a run is stopped from outside.
#[derive(Clone, Copy)]
enum Stop {
    /// SIGKILL: no chance to react, as a crash or a power cut.
    Kill,
    /// SIGINT (Ctrl-C): the run stops at the next batch, its files consistent, exit 130.
    Interrupt,
}

/// Starts `args`, stops it once the log holds `epochs` more rows than `already`, and returns
/// the log rows present then.
fn stop_after_epochs(args: &[&str], out: &Path, already: usize, epochs: usize, how: Stop) -> Vec<String> {
    let mut child: Child =
        cmd(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn vae-train fit");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before it could be stopped; make it longer");
        }
        if log_rows(out).len() >= already + epochs {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "no progress in the log");
        std::thread::sleep(Duration::from_millis(1));
    }
    match how {
        Stop::Kill => {
            child.kill().expect("SIGKILL");
            let status = child.wait().unwrap();
            assert_eq!(status.signal(), Some(SIGKILL), "the run was not killed: {status}");
        }
        Stop::Interrupt => {
            let pid = child.id().to_string();
            let sent = Command::new("kill").args(["-INT", &pid]).status().expect("run kill");
            assert!(sent.success());
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(130), "{stderr}");
            assert!(stderr.contains("training interrupted in epoch"), "{stderr}");
        }
    }
    log_rows(out)
}

fn kill_after_epochs(args: &[&str], out: &Path, already: usize, epochs: usize) -> Vec<String> {
    stop_after_epochs(args, out, already, epochs, Stop::Kill)
}

/// After a kill: the checkpoint is a valid model file for `vae-train inspect`, the resume
/// state is there, and no final model was written.
fn check_after_kill(out: &Path) {
    let ckpt = with_suffix(out, ".ckpt");
    let inspect = ok(&["inspect", s(&ckpt)]);
    assert!(String::from_utf8_lossy(&inspect.stdout).contains("valid model file"));
    assert!(with_suffix(&ckpt, ".state").is_file(), "no resume state after the kill");
    assert!(!out.exists(), "a killed run wrote the final model");
}

/// Columns of a log row without the wall-clock seconds.
fn without_seconds(row: &str) -> String {
    row.rsplit_once(',').map_or(row, |(a, _)| a).to_string()
}

#[test]
fn sigkill_mid_run_then_resume_continues_and_ends_like_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = synth(dir.path());
    let reference = dir.path().join("reference.vaem");
    ok(&fit_args(s(&data), s(&reference), &[]));
    let reference_bytes = std::fs::read(&reference).unwrap();
    let reference_log = log_rows(&reference);
    assert_eq!(reference_log.len(), 40);

    let out = dir.path().join("killed.vaem");
    let watcher = Watcher::start(with_suffix(&out, ".ckpt"));
    // Killed in epoch 4 or so, resumed, killed again a few epochs later, resumed to the end.
    let first = kill_after_epochs(&fit_args(s(&data), s(&out), &[]), &out, 0, 3);
    check_after_kill(&out);
    let second = kill_after_epochs(&fit_args(s(&data), s(&out), &["--resume"]), &out, first.len(), 4);
    check_after_kill(&out);
    let done = ok(&fit_args(s(&data), s(&out), &["--resume"]));
    let (valid_reads, invalid) = watcher.finish();

    assert!(
        invalid.is_empty(),
        "the checkpoint was read invalid {} times: {:?}",
        invalid.len(),
        &invalid[..invalid.len().min(5)]
    );
    assert!(valid_reads >= 10, "the watcher saw the checkpoint only {valid_reads} times");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        reference_bytes,
        "resumed model differs from the uninterrupted one"
    );
    let log = log_rows(&out);
    assert_eq!(log.len(), 40, "{log:?}");
    // The epochs finished before each kill were kept, timings included (a run restarted
    // from scratch would have timed them anew); the last logged row may be redone (killed
    // between the log and the state write).
    for before in [&first, &second] {
        let kept = before.len() - 1;
        assert_eq!(log[..kept], before[..kept], "epochs before the kill were redone");
    }
    let strip = |rows: &[String]| rows.iter().map(|r| without_seconds(r)).collect::<Vec<_>>();
    assert_eq!(strip(&log), strip(&reference_log), "the resumed history differs");
    // A complete run removes its checkpoint and state; a final line reports the model.
    assert!(!with_suffix(&out, ".ckpt").exists() && !with_suffix(&out, ".ckpt.state").exists());
    assert!(String::from_utf8_lossy(&done.stdout).contains("wrote"));
}

#[test]
fn divergence_is_a_clear_error_and_keeps_the_last_good_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = synth(dir.path());
    // An existing model from an earlier, successful run.
    let out = dir.path().join("m.vaem");
    ok(&fit_args(s(&data), s(&out), &["--epochs", "2"]));
    let existing = std::fs::read(&out).unwrap();

    // From scratch with an absurd learning rate, overwriting allowed: it diverges, says so in
    // one line, and the existing model is untouched.
    let line = fails(
        &run(&fit_args(s(&data), s(&out), &["--force", "--lr", "1e4"])),
        "training diverged in epoch 1",
    );
    assert!(line.contains("no checkpoint of this run was written"), "{line}");
    assert!(std::fs::read(&out).unwrap() == existing, "a diverged run changed the existing model");

    // A good run stopped with Ctrl-C after some epochs (exit 130, its checkpoint and state
    // consistent), resumed with the absurd rate: it diverges in the first resumed epoch and
    // keeps the last good checkpoint and resume state byte for byte.
    let run_out = dir.path().join("run.vaem");
    let before = stop_after_epochs(&fit_args(s(&data), s(&run_out), &[]), &run_out, 0, 3, Stop::Interrupt);
    let ckpt = with_suffix(&run_out, ".ckpt");
    let state = with_suffix(&ckpt, ".state");
    let (ckpt_bytes, state_bytes) = (std::fs::read(&ckpt).unwrap(), std::fs::read(&state).unwrap());
    let diverged = run(&fit_args(s(&data), s(&run_out), &["--resume", "--lr", "1e4"]));
    let line = fails(&diverged, "training diverged in epoch");
    assert!(line.contains(&format!("is kept at {}", ckpt.display())), "{line}");
    assert!(line.contains("batch") || line.contains("validation"), "{line}");
    assert!(std::fs::read(&ckpt).unwrap() == ckpt_bytes, "the checkpoint changed");
    assert!(std::fs::read(&state).unwrap() == state_bytes, "the resume state changed");
    assert!(valid_model(&ckpt_bytes));
    assert!(!run_out.exists());

    // Nothing was lost: resuming with the original rate ends exactly like a run that never
    // diverged.
    ok(&fit_args(s(&data), s(&run_out), &["--resume"]));
    let reference = dir.path().join("reference.vaem");
    ok(&fit_args(s(&data), s(&reference), &[]));
    assert!(
        std::fs::read(&run_out).unwrap() == std::fs::read(&reference).unwrap(),
        "the resumed model differs"
    );
    assert!(before.len() >= 3);
}

#[test]
fn failed_runs_leave_existing_outputs_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let data = synth(dir.path());
    let model = dir.path().join("m.vaem");
    ok(&fit_args(s(&data), s(&model), &["--epochs", "2"]));
    let model_bytes = std::fs::read(&model).unwrap();
    let bad_csv = dir.path().join("bad.csv");
    std::fs::write(&bad_csv, "vib_x,vib_y,temperature,current\n1,2,3,4\n1,2,3\n").unwrap();

    // fit: clobber refused without --force; with --force a run on bad data fails first.
    fails(&run(&fit_args(s(&data), s(&model), &[])), "exists; pass --force to overwrite it");
    fails(&run(&fit_args(s(&bad_csv), s(&model), &["--force"])), "bad.csv, line 3");
    assert!(std::fs::read(&model).unwrap() == model_bytes);

    // score: the same for the score file.
    let scores = dir.path().join("scores.csv");
    let m = s(&model);
    ok(&["score", "--model", m, "--data", s(&data), "--out", s(&scores)]);
    let score_bytes = std::fs::read(&scores).unwrap();
    fails(&run(&["score", "--model", m, "--data", s(&data), "--out", s(&scores)]), "exists; pass --force");
    fails(
        &run(&["score", "--model", m, "--data", s(&bad_csv), "--out", s(&scores), "--force"]),
        "bad.csv, line 3",
    );
    assert!(std::fs::read(&scores).unwrap() == score_bytes);

    // export / import: the same for safetensors and for a model built from them.
    let st = dir.path().join("m.safetensors");
    ok(&["export", "--model", m, "--safetensors", s(&st)]);
    let st_bytes = std::fs::read(&st).unwrap();
    fails(&run(&["export", "--model", m, "--safetensors", s(&st)]), "exists; pass --force");
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"\x08\0\0\0\0\0\0\0{\"a\":1}").unwrap();
    fails(&run(&["import", "--safetensors", s(&junk), "--out", m, "--force"]), "junk.safetensors");
    fails(&run(&["import", "--safetensors", s(&st), "--out", m]), "exists; pass --force");
    assert!(std::fs::read(&st).unwrap() == st_bytes);
    assert!(std::fs::read(&model).unwrap() == model_bytes);
    assert_no_temporaries(dir.path());
}

/// Runs `args` with the file-size limit at `blocks` blocks (dash: 512 bytes, bash: 1024), so
/// that writing a bigger file kills the process with SIGXFSZ in the middle of the write.
fn run_with_file_limit(blocks: u64, args: &[&str]) -> Output {
    Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("ulimit -c 0; ulimit -f {blocks}; exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(args)
        .output()
        .expect("run /bin/sh")
}

/// Most bytes a limit of `blocks` allows under either shell's unit.
fn limit_bytes(blocks: u64) -> u64 {
    blocks * 1024
}

fn killed_by_file_limit(out: &Output) {
    assert_eq!(
        out.status.signal(),
        Some(SIGXFSZ),
        "the write was not interrupted ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_crash_in_the_middle_of_a_write_keeps_the_previous_file() {
    const BLOCKS: u64 = 4;
    let dir = tempfile::tempdir().unwrap();
    let data = synth(dir.path());
    let model = dir.path().join("m.vaem");
    ok(&fit_args(s(&data), s(&model), &["--epochs", "2"]));
    let old_model = std::fs::read(&model).unwrap();

    // Model file: import a model bigger than the limit over it.
    let big = dir.path().join("big.vaem");
    ok(&fit_args(s(&data), s(&big), &["--epochs", "1", "--hidden", "64,32", "--window", "32"]));
    let st = dir.path().join("big.safetensors");
    ok(&["export", "--model", s(&big), "--safetensors", s(&st)]);
    assert!(std::fs::metadata(&big).unwrap().len() > 2 * limit_bytes(BLOCKS));
    let out =
        run_with_file_limit(BLOCKS, &["import", "--safetensors", s(&st), "--out", s(&model), "--force"]);
    killed_by_file_limit(&out);
    assert!(std::fs::read(&model).unwrap() == old_model, "a crash while writing damaged the model");

    // Score file: a small one, then a crash while writing a big one over it.
    let scores = dir.path().join("scores.csv");
    let small = dir.path().join("small.csv");
    let text = std::fs::read_to_string(&data).unwrap();
    std::fs::write(&small, text.lines().take(40).collect::<Vec<_>>().join("\n") + "\n").unwrap();
    ok(&["score", "--model", s(&model), "--data", s(&small), "--out", s(&scores)]);
    let old_scores = std::fs::read(&scores).unwrap();
    assert!(old_scores.len() as u64 <= limit_bytes(BLOCKS) / 2, "make the first score file smaller");
    let args = ["score", "--model", s(&model), "--data", s(&data), "--out", s(&scores), "--force"];
    killed_by_file_limit(&run_with_file_limit(BLOCKS, &args));
    assert!(std::fs::read(&scores).unwrap() == old_scores, "a crash while writing damaged the score file");

    // Checkpoint: a killed run leaves one; the resume rewrites it first thing and crashes.
    let run_out = dir.path().join("run.vaem");
    kill_after_epochs(&fit_args(s(&data), s(&run_out), &[]), &run_out, 0, 2);
    let ckpt = with_suffix(&run_out, ".ckpt");
    let old_ckpt = std::fs::read(&ckpt).unwrap();
    assert!(old_ckpt.len() as u64 > 2 * limit_bytes(BLOCKS));
    let resume = fit_args(s(&data), s(&run_out), &["--resume"]);
    killed_by_file_limit(&run_with_file_limit(BLOCKS, &resume));
    assert!(std::fs::read(&ckpt).unwrap() == old_ckpt, "a crash while writing damaged the checkpoint");
    // ... and the run still resumes to the end.
    ok(&resume);
    assert!(valid_model(&std::fs::read(&run_out).unwrap()));
}

/// No `.name.tmp-PID` file is left after runs that ended normally (with success or an
/// error).
fn assert_no_temporaries(dir: &Path) {
    let left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}
