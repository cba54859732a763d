fn main() {
    let args: Vec<String> = std::env::args().collect();
    let elf = vae_e2e::qemu::Build { model: Some(args[1].clone().into()), ..Default::default() }
        .run("firmware")
        .unwrap();
    let run = vae_e2e::qemu::run(&elf, &[&args[2]], std::time::Duration::from_secs(30)).unwrap();
    for l in &run.lines {
        println!("{l}");
    }
    println!("status {}", run.status);
}
