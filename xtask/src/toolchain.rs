//! What the tasks need besides the Rust toolchain itself, checked before anything is built.
//!
//! `rust-toolchain.toml` pins the channel and lists the firmware target and the components
//! the tasks use (`llvm-tools` for the no-panic test and `bench-device`). rustup installs those
//! only when it installs the toolchain itself, so a machine that already had the pinned
//! release (or runs with `RUSTUP_AUTO_INSTALL=0`) may lack them. [`ensure`] asks rustup what
//! the active toolchain has (one `rustup component list --installed`: a target is installed
//! when its `rust-std-<target>` component is), adds what is missing, and installs QEMU with apt
//! when running as root; otherwise it stops at once with the exact command to run.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The file that pins the toolchain, relative to the workspace root.
pub const TOOLCHAIN_FILE: &str = "rust-toolchain.toml";

/// What a task needs before it builds anything.
#[derive(Clone, Copy, Debug)]
pub struct Needs {
    /// The targets and components listed in `rust-toolchain.toml`.
    pub rust: bool,
    /// `qemu-system-arm`, for the firmware runs.
    pub qemu: bool,
}

impl Needs {
    /// Everything: the firmware is built, disassembled and run in QEMU.
    pub const FIRMWARE: Needs = Needs { rust: true, qemu: true };
}

/// The `[toolchain]` table of `rust-toolchain.toml`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pinned {
    /// `channel`, e.g. `1.95.0`.
    pub channel: String,
    /// `components`, e.g. `["rustfmt", "clippy", "llvm-tools"]`.
    pub components: Vec<String>,
    /// `targets`, e.g. `["thumbv7em-none-eabihf"]`.
    pub targets: Vec<String>,
}

/// What the active toolchain lacks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Missing {
    /// Targets to add (`rustup target add`).
    pub targets: Vec<String>,
    /// Components to add (`rustup component add`).
    pub components: Vec<String>,
}

impl Missing {
    /// Nothing is missing.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty() && self.components.is_empty()
    }

    /// `the thumbv7em-none-eabihf target and the llvm-tools component`, for messages.
    pub fn describe(&self) -> String {
        let list = |v: &[String]| v.join(", ");
        let mut parts = Vec::new();
        match self.targets.len() {
            0 => {}
            1 => parts.push(format!("the {} target", self.targets[0])),
            _ => parts.push(format!("the targets {}", list(&self.targets))),
        }
        match self.components.len() {
            0 => {}
            1 => parts.push(format!("the {} component", self.components[0])),
            _ => parts.push(format!("the components {}", list(&self.components))),
        }
        parts.join(" and ")
    }
}

/// Removes a `#` comment that is not inside a string.
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '#') => return &line[..i],
            _ => {}
        }
    }
    line
}

fn unquote(v: &str) -> Result<String, String> {
    let v = v.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return Ok(inner.to_string());
        }
    }
    Err(format!("expected a quoted string, found `{v}`"))
}

fn string_list(v: &str) -> Result<Vec<String>, String> {
    let inner = v
        .trim()
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(|| format!("expected a list of strings, found `{}`", v.trim()))?;
    inner.split(',').map(str::trim).filter(|s| !s.is_empty()).map(unquote).collect()
}

/// Reads the keys the tasks need from the text of `rust-toolchain.toml` (the `[toolchain]`
/// table; lists may span several lines). The legacy form, a file holding only the channel
/// name, is accepted too.
pub fn parse_toolchain_file(text: &str) -> Result<Pinned, String> {
    let lines: Vec<&str> = text.lines().map(|l| strip_comment(l).trim()).filter(|l| !l.is_empty()).collect();
    if let [only] = lines.as_slice() {
        if !only.contains('=') && !only.starts_with('[') {
            return Ok(Pinned { channel: only.to_string(), ..Pinned::default() });
        }
    }
    let mut pinned = Pinned::default();
    let mut in_toolchain = false;
    let mut it = lines.into_iter();
    while let Some(line) = it.next() {
        if line.starts_with('[') {
            in_toolchain = line.trim_start_matches('[').trim_end_matches(']').trim() == "toolchain";
            continue;
        }
        let (key, value) = line.split_once('=').ok_or_else(|| format!("cannot read the line `{line}`"))?;
        let mut value = value.trim().to_string();
        // A list that goes on over the next lines.
        if value.starts_with('[') {
            while !value.ends_with(']') {
                let next = it.next().ok_or_else(|| format!("the list `{}` is not closed", key.trim()))?;
                value.push_str(next);
            }
        }
        if !in_toolchain {
            continue;
        }
        let bad = |e: String| format!("`{}`: {e}", key.trim());
        match key.trim() {
            "channel" => pinned.channel = unquote(&value).map_err(bad)?,
            "components" => pinned.components = string_list(&value).map_err(bad)?,
            "targets" => pinned.targets = string_list(&value).map_err(bad)?,
            _ => {}
        }
    }
    if pinned.channel.is_empty() {
        return Err("no `channel` in the [toolchain] table".into());
    }
    Ok(pinned)
}

/// rustup's current name of a component (`llvm-tools-preview` became `llvm-tools`).
fn canonical(component: &str) -> &str {
    component.strip_suffix("-preview").unwrap_or(component)
}

/// Compares what `pinned` lists with the output of `rustup component list --installed`
/// (one component a line, `name-<target>` for the target-specific ones; a target is
/// installed when its `rust-std-<target>` is).
pub fn missing(pinned: &Pinned, installed: &str) -> Missing {
    let installed: Vec<&str> = installed.lines().filter_map(|l| l.split_whitespace().next()).collect();
    let std_targets: Vec<&str> = installed.iter().filter_map(|c| c.strip_prefix("rust-std-")).collect();
    let has_component = |want: &str| {
        let want = canonical(want);
        installed.iter().any(|&c| {
            let c = c.replace("llvm-tools-preview", "llvm-tools");
            c == want
                || c.strip_prefix(want)
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|target| std_targets.contains(&target))
        })
    };
    Missing {
        targets: pinned.targets.iter().filter(|t| !std_targets.contains(&t.as_str())).cloned().collect(),
        components: pinned.components.iter().filter(|c| !has_component(c)).cloned().collect(),
    }
}

/// The rustup commands that add what is missing to `toolchain`.
pub fn install_commands(toolchain: &str, missing: &Missing) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    for (kind, names) in [("target", &missing.targets), ("component", &missing.components)] {
        if !names.is_empty() {
            let mut c: Vec<String> =
                ["rustup", kind, "add", "--toolchain", toolchain].iter().map(|s| s.to_string()).collect();
            c.extend(names.iter().cloned());
            commands.push(c);
        }
    }
    commands
}

/// A command as one would type it.
pub fn shell_line(commands: &[Vec<String>]) -> String {
    commands.iter().map(|c| c.join(" ")).collect::<Vec<_>>().join(" && ")
}

/// The message when what is missing could not be installed.
pub fn install_failed_message(toolchain: &str, missing: &Missing, why: &str) -> String {
    format!(
        "the Rust toolchain {toolchain} lacks {} ({why}): run `{}` and run again",
        missing.describe(),
        shell_line(&install_commands(toolchain, missing))
    )
}

/// The toolchain the tasks' cargo and rustc run: rustup's proxy passes it on in
/// `RUSTUP_TOOLCHAIN` (the pinned one, or a `+toolchain` override); the pinned channel when
/// xtask runs outside rustup.
fn active_toolchain(pinned: &Pinned) -> String {
    std::env::var("RUSTUP_TOOLCHAIN").ok().filter(|t| !t.is_empty()).unwrap_or_else(|| pinned.channel.clone())
}

/// What [`ensure`] found, for `cargo xtask doctor`.
#[derive(Clone, Debug, Default)]
pub struct Found {
    /// One line per thing checked.
    pub lines: Vec<String>,
}

/// Reads the workspace's `rust-toolchain.toml`.
pub fn pinned(root: &Path) -> Result<Pinned, String> {
    let path = root.join(TOOLCHAIN_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_toolchain_file(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Checks what `needs` asks for and installs what is missing, or stops with the exact
/// command to run. Quiet, and two commands (`rustup component list`, `qemu-system-arm
/// --version`), when everything is there.
pub fn ensure(needs: Needs) -> Result<Found, String> {
    let mut found = Found::default();
    if needs.rust {
        found.lines.extend(ensure_rust()?);
    }
    if needs.qemu {
        found.lines.push(ensure_qemu()?);
    }
    Ok(found)
}

fn ensure_rust() -> Result<Vec<String>, String> {
    let root = vae_e2e::qemu::workspace_root();
    let pinned = pinned(&root)?;
    let toolchain = active_toolchain(&pinned);
    let mut lines = vec![format!("toolchain: {toolchain} (pinned: {})", pinned.channel)];
    let wanted = Missing { targets: pinned.targets.clone(), components: pinned.components.clone() };
    let listed = Command::new("rustup")
        .args(["component", "list", "--installed", "--toolchain", &toolchain])
        .current_dir(&root)
        .output();
    let listed = match listed {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => {
            // A toolchain rustup does not manage (`rustup toolchain link`): look in its sysroot.
            let why = String::from_utf8_lossy(&o.stderr).trim().to_string();
            lines.extend(without_rustup(&pinned, &format!("`rustup component list` failed: {why}"))?);
            return Ok(lines);
        }
        Err(e) => {
            lines.extend(without_rustup(&pinned, &format!("rustup cannot be run: {e}"))?);
            return Ok(lines);
        }
    };
    let missing = missing(&pinned, &listed);
    if missing.is_empty() {
        lines.push(format!("installed: {}", wanted.describe()));
        return Ok(lines);
    }
    eprintln!("xtask: the Rust toolchain {toolchain} lacks {}: installing", missing.describe());
    for command in install_commands(&toolchain, &missing) {
        let args: Vec<&str> = command[1..].iter().map(String::as_str).collect();
        crate::run(&command[0], &args, &[])
            .map_err(|_| install_failed_message(&toolchain, &missing, "rustup failed, see above"))?;
    }
    // Confirm: a component can be unavailable for the host even when rustup succeeds.
    let relisted = Command::new("rustup")
        .args(["component", "list", "--installed", "--toolchain", &toolchain])
        .current_dir(&root)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let still = self::missing(&pinned, &relisted);
    if !still.is_empty() {
        return Err(install_failed_message(&toolchain, &still, "still missing after rustup ran"));
    }
    lines.push(format!("installed now: {}", missing.describe()));
    if missing != wanted {
        let before = Missing {
            targets: wanted.targets.iter().filter(|t| !missing.targets.contains(t)).cloned().collect(),
            components: wanted
                .components
                .iter()
                .filter(|c| !missing.components.contains(c))
                .cloned()
                .collect(),
        };
        lines.push(format!("already installed: {}", before.describe()));
    }
    Ok(lines)
}

/// Where a component's main file lies in a sysroot, to check a toolchain rustup does not
/// manage; `None` for components the tasks do not run.
fn component_file(component: &str, host: &str) -> Option<PathBuf> {
    match canonical(component) {
        "llvm-tools" => Some(Path::new("lib/rustlib").join(host).join("bin/llvm-objdump")),
        _ => None,
    }
}

/// Without rustup: looks for the targets and the tools the tasks run in the sysroot of
/// `rustc`, and names the commands to run when something is missing.
fn without_rustup(pinned: &Pinned, why: &str) -> Result<Vec<String>, String> {
    let rustc = |args: &[&str]| {
        Command::new("rustc")
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .map_err(|e| format!("rustc: {e}"))
    };
    let sysroot = PathBuf::from(rustc(&["--print", "sysroot"])?);
    let verbose = rustc(&["-vV"])?;
    let host = verbose.lines().find_map(|l| l.strip_prefix("host: ")).unwrap_or_default().to_string();
    let missing = Missing {
        targets: pinned
            .targets
            .iter()
            .filter(|t| !sysroot.join("lib/rustlib").join(t).join("lib").is_dir())
            .cloned()
            .collect(),
        components: pinned
            .components
            .iter()
            .filter(|c| component_file(c, &host).is_some_and(|f| !sysroot.join(f).is_file()))
            .cloned()
            .collect(),
    };
    if missing.is_empty() {
        return Ok(vec![format!("{why}; the sysroot {} has what the tasks use", sysroot.display())]);
    }
    Err(format!(
        "the Rust toolchain at {} lacks {} and {why}: install the pinned toolchain with rustup \
         (https://rustup.rs): run `{}` and run again",
        sysroot.display(),
        missing.describe(),
        toolchain_install_command(pinned)
    ))
}

/// The rustup command that installs the pinned toolchain with its targets and components.
pub fn toolchain_install_command(pinned: &Pinned) -> String {
    let mut c = format!("rustup toolchain install {} --profile minimal", pinned.channel);
    if !pinned.targets.is_empty() {
        c.push_str(&format!(" --target {}", pinned.targets.join(",")));
    }
    if !pinned.components.is_empty() {
        c.push_str(&format!(" --component {}", pinned.components.join(",")));
    }
    c
}

/// The apt command that installs QEMU without the desktop packages it recommends (GTK,
/// GStreamer).
pub const QEMU_APT_INSTALL: [&str; 5] = ["install", "-y", "-q", "--no-install-recommends", "qemu-system-arm"];

fn qemu_version() -> Option<String> {
    let o = Command::new("qemu-system-arm").arg("--version").output().ok().filter(|o| o.status.success())?;
    Some(String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or_default().trim().to_string())
}

/// The message when QEMU is missing and cannot be installed here.
pub fn qemu_missing_message() -> String {
    "qemu-system-arm is not installed: run `sudo apt-get update && sudo apt-get install -y \
     --no-install-recommends qemu-system-arm` (Debian/Ubuntu; macOS: `brew install qemu`) and run again"
        .into()
}

/// Makes sure `qemu-system-arm` is installed: installs the Debian package (without its
/// recommended desktop packages) when running as root with apt, otherwise stops with the
/// command to run.
pub fn ensure_qemu() -> Result<String, String> {
    if let Some(v) = qemu_version() {
        return Ok(format!("qemu-system-arm: {v}"));
    }
    let root =
        Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let apt = Command::new("apt-get").arg("--version").output().is_ok_and(|o| o.status.success());
    if !(root && apt) {
        return Err(qemu_missing_message());
    }
    eprintln!("xtask: qemu-system-arm is missing: installing the Debian package");
    crate::run("apt-get", &["update", "-q"], &[])
        .and_then(|()| crate::run("apt-get", &QEMU_APT_INSTALL, &[("DEBIAN_FRONTEND", "noninteractive")]))
        .map_err(|e| format!("{e}; {}", qemu_missing_message()))?;
    let v = qemu_version().ok_or_else(qemu_missing_message)?;
    Ok(format!("qemu-system-arm: {v} (installed now)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn pinned_example() -> Pinned {
        Pinned {
            channel: "1.95.0".into(),
            components: strings(&["rustfmt", "clippy", "llvm-tools"]),
            targets: strings(&["thumbv7em-none-eabihf"]),
        }
    }

    const ALL_INSTALLED: &str = "cargo-x86_64-unknown-linux-gnu\nclippy-x86_64-unknown-linux-gnu\n\
        llvm-tools-x86_64-unknown-linux-gnu\nrust-docs-x86_64-unknown-linux-gnu\n\
        rust-std-thumbv7em-none-eabihf\nrust-std-x86_64-unknown-linux-gnu\n\
        rustc-x86_64-unknown-linux-gnu\nrustfmt-x86_64-unknown-linux-gnu\n";

    /// A toolchain installed before the file listed the target and llvm-tools.
    const MINIMAL: &str = "cargo-x86_64-unknown-linux-gnu\nclippy-x86_64-unknown-linux-gnu\n\
        rust-std-x86_64-unknown-linux-gnu\nrustc-x86_64-unknown-linux-gnu\n\
        rustfmt-x86_64-unknown-linux-gnu\n";

    #[test]
    fn reads_the_toolchain_table() {
        let text = "[toolchain]\n# a comment\nchannel = \"1.95.0\" # pinned\n\
                    components = [\"rustfmt\", \"clippy\", \"llvm-tools\"]\n\
                    targets = [\"thumbv7em-none-eabihf\"]\nprofile = \"minimal\"\n";
        assert_eq!(parse_toolchain_file(text).unwrap(), pinned_example());
    }

    #[test]
    fn reads_lists_over_several_lines_and_single_quotes() {
        let text = "[toolchain]\nchannel = '1.95.0'\ncomponents = [\n  \"rustfmt\", # fmt\n  'clippy',\n  \
                    \"llvm-tools\",\n]\ntargets = [ \"thumbv7em-none-eabihf\" ]\n[other]\nchannel = \"x\"\n";
        assert_eq!(parse_toolchain_file(text).unwrap(), pinned_example());
    }

    #[test]
    fn reads_the_legacy_form_and_rejects_a_file_without_channel() {
        assert_eq!(parse_toolchain_file("1.95.0\n").unwrap().channel, "1.95.0");
        assert!(parse_toolchain_file("[toolchain]\ntargets = [\"a\"]\n").is_err());
        assert!(parse_toolchain_file("[toolchain]\nchannel = 1.95\n").is_err());
        assert!(parse_toolchain_file("[toolchain]\nchannel = \"1\"\ntargets = [\"a\"\n").is_err());
    }

    /// The workspace's own file lists what the tasks build and run with.
    #[test]
    fn the_workspace_pins_the_firmware_target_and_llvm_tools() {
        let p = pinned(&vae_e2e::qemu::workspace_root()).unwrap();
        assert!(p.targets.contains(&"thumbv7em-none-eabihf".to_string()), "{p:?}");
        assert!(p.components.iter().any(|c| canonical(c) == "llvm-tools"), "{p:?}");
        assert!(!p.channel.is_empty());
    }

    #[test]
    fn nothing_is_missing_when_everything_is_listed() {
        assert!(missing(&pinned_example(), ALL_INSTALLED).is_empty());
    }

    #[test]
    fn finds_the_missing_target_and_component() {
        let m = missing(&pinned_example(), MINIMAL);
        assert_eq!(
            m,
            Missing { targets: strings(&["thumbv7em-none-eabihf"]), components: strings(&["llvm-tools"]) }
        );
        assert_eq!(m.describe(), "the thumbv7em-none-eabihf target and the llvm-tools component");
        // Only the component.
        let listed = format!("{MINIMAL}rust-std-thumbv7em-none-eabihf\n");
        assert_eq!(
            missing(&pinned_example(), &listed),
            Missing { targets: vec![], components: strings(&["llvm-tools"]) }
        );
        // Nothing listed at all: everything is missing.
        let m = missing(&pinned_example(), "");
        assert_eq!(m.components, pinned_example().components);
        assert_eq!(
            m.describe(),
            "the thumbv7em-none-eabihf target and the components rustfmt, clippy, llvm-tools"
        );
    }

    #[test]
    fn a_component_of_another_name_or_the_preview_alias_is_matched_exactly() {
        // `rust-docs` is not `rust`, `llvm-tools-preview` is `llvm-tools`, `rust-src` has no target.
        let p = Pinned {
            channel: "1.95.0".into(),
            components: strings(&["rust", "llvm-tools-preview", "rust-src"]),
            targets: vec![],
        };
        let listed = "rust-docs-x86_64-unknown-linux-gnu\nrust-std-x86_64-unknown-linux-gnu\n\
                      llvm-tools-x86_64-unknown-linux-gnu\nrust-src\n";
        assert_eq!(missing(&p, listed).components, strings(&["rust"]));
        let old = "rust-std-x86_64-unknown-linux-gnu\nllvm-tools-preview-x86_64-unknown-linux-gnu\n";
        let p = Pinned { components: strings(&["llvm-tools"]), ..p };
        assert!(missing(&p, old).is_empty());
    }

    #[test]
    fn the_message_holds_the_exact_commands() {
        let m = missing(&pinned_example(), MINIMAL);
        let tc = "1.95.0-x86_64-unknown-linux-gnu";
        assert_eq!(
            shell_line(&install_commands(tc, &m)),
            "rustup target add --toolchain 1.95.0-x86_64-unknown-linux-gnu thumbv7em-none-eabihf && \
             rustup component add --toolchain 1.95.0-x86_64-unknown-linux-gnu llvm-tools"
        );
        let only_component = Missing { targets: vec![], components: strings(&["llvm-tools"]) };
        assert_eq!(install_commands(tc, &only_component).len(), 1);
        assert!(install_commands(tc, &Missing::default()).is_empty());
        let msg = install_failed_message(tc, &m, "offline");
        assert!(msg.contains("run `rustup target add --toolchain 1.95.0-x86_64-unknown-linux-gnu thumbv7em-none-eabihf && rustup component add"), "{msg}");
        assert!(
            msg.contains("lacks the thumbv7em-none-eabihf target and the llvm-tools component (offline)"),
            "{msg}"
        );
    }

    #[test]
    fn without_rustup_the_message_names_the_whole_install() {
        assert_eq!(
            toolchain_install_command(&pinned_example()),
            "rustup toolchain install 1.95.0 --profile minimal --target thumbv7em-none-eabihf \
             --component rustfmt,clippy,llvm-tools"
        );
    }

    #[test]
    fn qemu_is_installed_without_recommended_packages() {
        assert!(QEMU_APT_INSTALL.contains(&"--no-install-recommends"));
        assert!(qemu_missing_message().contains("apt-get install -y --no-install-recommends qemu-system-arm"));
    }

    /// rustup's real output reads as expected: on this machine the host's standard library
    /// and cargo are always installed (skipped where rustup is absent).
    #[test]
    fn reads_rustup_s_own_list() {
        let root = vae_e2e::qemu::workspace_root();
        let p = pinned(&root).unwrap();
        let Ok(o) = Command::new("rustup")
            .args(["component", "list", "--installed", "--toolchain", &active_toolchain(&p)])
            .current_dir(&root)
            .output()
        else {
            eprintln!("rustup is not installed: skipped");
            return;
        };
        if !o.status.success() {
            eprintln!("the toolchain is not managed by rustup: skipped");
            return;
        }
        let listed = String::from_utf8_lossy(&o.stdout);
        let check = Pinned { channel: p.channel, components: strings(&["cargo", "rustc"]), targets: vec![] };
        assert!(missing(&check, &listed).is_empty(), "{listed}");
        assert!(listed.lines().any(|l| l.starts_with("rust-std-")), "{listed}");
    }
}
