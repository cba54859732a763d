//! Picks the memory layout of the selected board and passes the linker scripts.
//!
//! The layout goes to OUT_DIR (not the crate root): the linker would otherwise find a
//! `memory.x` in its working directory before the board's.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let board = if env::var_os("CARGO_FEATURE_QEMU").is_some() {
        "qemu"
    } else {
        panic!("firmware: enable exactly one board feature (qemu)");
    };
    let layout = format!("memory/{board}.x");
    fs::copy(&layout, out.join("memory.x")).expect("copy the board's memory layout");
    println!("cargo:rerun-if-changed={layout}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=--nmagic");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
}
