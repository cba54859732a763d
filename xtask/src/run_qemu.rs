//! `cargo xtask qemu --data FILE.csv [--model MODEL.vaem]`: build the firmware with a model
//! (the committed default when none is given) and replay a CSV on the emulated Cortex-M4F,
//! printing the decoded defmt log. The exit status is the firmware's.

use std::path::PathBuf;
use std::time::Duration;
use vae_e2e::qemu;

/// Runs the task; returns the firmware's exit status.
pub fn run(args: &[String]) -> Result<i32, String> {
    let (mut model, mut data, mut timeout) = (None, None, 600u64);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--model" => model = Some(PathBuf::from(value()?)),
            "--data" => data = Some(PathBuf::from(value()?)),
            "--timeout" => timeout = value()?.parse().map_err(|_| "--timeout takes seconds".to_string())?,
            other => {
                return Err(format!(
                    "unknown option `{other}` (use --data FILE.csv [--model MODEL.vaem] [--timeout S])"
                ))
            }
        }
    }
    let data = data.ok_or("--data FILE.csv is required (a CSV with the model's channel names as columns)")?;
    let data = std::fs::canonicalize(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let model =
        model.map(|m| std::fs::canonicalize(&m).map_err(|e| format!("{}: {e}", m.display()))).transpose()?;
    crate::ensure_qemu()?;
    let elf = qemu::Build { model, ..Default::default() }.run("firmware").map_err(|e| e.to_string())?;
    let out = qemu::run(&elf, &[data.to_str().unwrap_or_default()], Duration::from_secs(timeout))
        .map_err(|e| e.to_string())?;
    for l in &out.lines {
        println!("{l}");
    }
    Ok(out.status)
}
