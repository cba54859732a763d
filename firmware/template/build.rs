fn main() {
    // The model: its sizes, layer types and `detector()` (VAE_MODEL overrides the path).
    vae_build::embed("model.vaem");
    // cortex-m-rt's link.x includes memory.x, found in the package root.
    println!("cargo:rerun-if-changed=memory.x");
}
