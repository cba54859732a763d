#!/bin/sh
# cargo's runner in QEMU: boot the image on the emulated Cortex-M4F (samples from
# samples.f32 in this directory) and decode its defmt log (`cargo install defmt-print`).
qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic \
    -semihosting-config enable=on,target=native -kernel "$1" | defmt-print -e "$1"
