//! Assembly kernels for Cortex-M4F / M7 (`thumbv7em-none-eabihf`): the matrix-vector
//! product, the weighted squares of the likelihood, the tanh/sigmoid activation loop and the
//! square root.
//!
//! Instructions are chosen by the Cortex-M4 TRM's cycle table, not by count: `VFMA`/`VMLA`
//! take 3 cycles, `VMUL` and `VADD` 1 each, so a multiply-accumulate as `VMUL` + `VADD` costs
//! 2 where nothing waits (an FPU result read by the very next instruction costs 1 more);
//! `VLDM` costs 1 + N; a taken branch refills the pipeline (+2).
//!
//! * Matrix-vector product: four output rows per pass share each 8-element block of `x`.
//!   Per block one `VLDM` of `x` (9 cycles), four weight `VLDM`s (36), 32 `VMUL`s into the
//!   weight registers and 32 `VADD`s that alternate between two rows' accumulators (64),
//!   and the loop's `SUBS`/`BNE` (4): 113 cycles for 32 multiply-accumulates, 3.5 per MAC
//!   (the former two-row `VFMA` loop took 79 for 16, 4.9 per MAC). Rows left over (fewer than
//!   4, or all rows when there is no whole block) go one at a time: two `VLDM`s, eight `VMUL`s
//!   and eight `VADD`s into two accumulators, 38 cycles per block of 8 (4.75 per MAC).
//!   Columns after the last whole block go one at a time with `VMLA`. Each row sums its
//!   products in a different order than the portable loop's eight lanes, so results differ
//!   from the host's in the last bits (within the parity tests' bounds).
//! * tanh/sigmoid: the same operations in the same order as the portable loop (so the same
//!   bits), two values per pass with each instruction followed by its twin of the other
//!   value, so nothing waits; about 53 cycles per value against 79 for the compiled loop
//!   (which uses 3-cycle `VMLA`s and stalls on every step of its Horner chains).
//!
//! Register use follows the AAPCS: the callee-saved registers each routine touches (s16-s31,
//! r4-r7) are saved and restored.
#![allow(unsafe_code)]

// Four rows at a time, over whole blocks of 8 columns. r0 = w, r1 = x, r2 = bias, r3 = out,
// [sp] = groups of 4 rows (at least 1), [sp + 4] = cols (at least 8).
// Row k of the group is read through its own pointer (r0, r4-r6) and accumulates in s(8+k),
// from its bias. Per block: x in s0-s7, then for each pair of rows two weight VLDMs into
// s16-s23 and s24-s31, the sixteen products in place (VMUL), and sixteen VADDs that alternate
// between the pair's two accumulators, so no instruction reads the result of the one before.
// The columns after the last whole block (cols mod 8) go one at a time with VMLA.
core::arch::global_asm!(
    ".syntax unified",
    ".thumb",
    ".fpu fpv4-sp-d16",
    // Two rows of one block: weights through \wa and \wb, sums into \sa and \sb.
    ".macro vae_core_mv8_pair wa, wb, sa, sb",
    "    vldmia \\wa!, {{s16-s23}}",
    "    vmul.f32 s16, s16, s0",
    "    vmul.f32 s17, s17, s1",
    "    vmul.f32 s18, s18, s2",
    "    vmul.f32 s19, s19, s3",
    "    vmul.f32 s20, s20, s4",
    "    vmul.f32 s21, s21, s5",
    "    vmul.f32 s22, s22, s6",
    "    vmul.f32 s23, s23, s7",
    "    vldmia \\wb!, {{s24-s31}}",
    "    vmul.f32 s24, s24, s0",
    "    vmul.f32 s25, s25, s1",
    "    vmul.f32 s26, s26, s2",
    "    vmul.f32 s27, s27, s3",
    "    vmul.f32 s28, s28, s4",
    "    vmul.f32 s29, s29, s5",
    "    vmul.f32 s30, s30, s6",
    "    vmul.f32 s31, s31, s7",
    "    vadd.f32 \\sa, \\sa, s16",
    "    vadd.f32 \\sb, \\sb, s24",
    "    vadd.f32 \\sa, \\sa, s17",
    "    vadd.f32 \\sb, \\sb, s25",
    "    vadd.f32 \\sa, \\sa, s18",
    "    vadd.f32 \\sb, \\sb, s26",
    "    vadd.f32 \\sa, \\sa, s19",
    "    vadd.f32 \\sb, \\sb, s27",
    "    vadd.f32 \\sa, \\sa, s20",
    "    vadd.f32 \\sb, \\sb, s28",
    "    vadd.f32 \\sa, \\sa, s21",
    "    vadd.f32 \\sb, \\sb, s29",
    "    vadd.f32 \\sa, \\sa, s22",
    "    vadd.f32 \\sb, \\sb, s30",
    "    vadd.f32 \\sa, \\sa, s23",
    "    vadd.f32 \\sb, \\sb, s31",
    ".endm",
    ".section .text.vae_core_matvec4_f32,\"ax\",%progbits",
    ".global vae_core_matvec4_f32",
    ".type vae_core_matvec4_f32,%function",
    ".p2align 2",
    ".thumb_func",
    "vae_core_matvec4_f32:",
    "    push {{r1, r4-r7, lr}}", // x stays at [sp, #64] once s16-s31 are pushed too
    "    vpush {{s16-s31}}",
    "    ldr r1, [sp, #92]", // cols (24 + 64 bytes pushed)
    "    lsls r1, r1, #2",   // row stride in bytes
    "    mov r7, r0",        // first row of the next group
    "1:",
    "    mov r0, r7",
    "    add r4, r0, r1",
    "    add r5, r4, r1",
    "    add r6, r5, r1",
    "    add r7, r6, r1",
    "    vldmia r2!, {{s8-s11}}",
    "    ldr r12, [sp, #64]",
    "    lsrs lr, r1, #5", // whole blocks
    "2:",
    "    vldmia r12!, {{s0-s7}}",
    "    vae_core_mv8_pair r0, r4, s8, s9",
    "    vae_core_mv8_pair r5, r6, s10, s11",
    "    subs lr, lr, #1",
    "    bne 2b",
    "    ands lr, r1, #28", // columns after the blocks, times 4
    "    beq 4f",
    "3:",
    "    vldmia r12!, {{s0}}",
    "    vldmia r0!, {{s16}}",
    "    vldmia r4!, {{s17}}",
    "    vldmia r5!, {{s18}}",
    "    vldmia r6!, {{s19}}",
    "    vmla.f32 s8, s16, s0",
    "    vmla.f32 s9, s17, s0",
    "    vmla.f32 s10, s18, s0",
    "    vmla.f32 s11, s19, s0",
    "    subs lr, lr, #4",
    "    bne 3b",
    "4:",
    "    vstmia r3!, {{s8-s11}}",
    "    ldr lr, [sp, #88]", // groups left
    "    subs lr, lr, #1",
    "    str lr, [sp, #88]",
    "    bne 1b",
    "    vpop {{s16-s31}}",
    "    pop {{r1, r4-r7, pc}}",
    ".size vae_core_matvec4_f32, . - vae_core_matvec4_f32",
    ".purgem vae_core_mv8_pair",
);

// One row at a time: r0 = w, r1 = x, r2 = bias, r3 = out, [sp] = rows (at least 1),
// [sp + 4] = cols. Two accumulators, s0 (from the bias) and s1; per block of 8 two VLDMs,
// eight VMULs and eight VADDs alternating between them; the columns after the blocks with
// VMLA.
core::arch::global_asm!(
    ".syntax unified",
    ".thumb",
    ".fpu fpv4-sp-d16",
    ".section .text.vae_core_matvec1_f32,\"ax\",%progbits",
    ".global vae_core_matvec1_f32",
    ".type vae_core_matvec1_f32,%function",
    ".p2align 2",
    ".thumb_func",
    "vae_core_matvec1_f32:",
    "    push {{r4-r6, lr}}",
    "    vpush {{s16-s17}}",
    "    ldrd r4, r5, [sp, #24]", // rows, cols (16 + 8 bytes pushed)
    "    movs r6, #0",
    "1:",
    "    vldmia r2!, {{s0}}",
    "    vmov s1, r6",
    "    mov r12, r1",
    "    lsrs lr, r5, #3",
    "    beq 3f",
    "2:",
    "    vldmia r12!, {{s2-s9}}",
    "    vldmia r0!, {{s10-s17}}",
    "    vmul.f32 s10, s10, s2",
    "    vmul.f32 s11, s11, s3",
    "    vmul.f32 s12, s12, s4",
    "    vmul.f32 s13, s13, s5",
    "    vmul.f32 s14, s14, s6",
    "    vmul.f32 s15, s15, s7",
    "    vmul.f32 s16, s16, s8",
    "    vmul.f32 s17, s17, s9",
    "    vadd.f32 s0, s0, s10",
    "    vadd.f32 s1, s1, s11",
    "    vadd.f32 s0, s0, s12",
    "    vadd.f32 s1, s1, s13",
    "    vadd.f32 s0, s0, s14",
    "    vadd.f32 s1, s1, s15",
    "    vadd.f32 s0, s0, s16",
    "    vadd.f32 s1, s1, s17",
    "    subs lr, lr, #1",
    "    bne 2b",
    "3:",
    "    ands lr, r5, #7",
    "    beq 5f",
    "4:",
    "    vldmia r12!, {{s2}}",
    "    vldmia r0!, {{s10}}",
    "    vmla.f32 s0, s10, s2",
    "    subs lr, lr, #1",
    "    bne 4b",
    "5:",
    "    vadd.f32 s0, s0, s1",
    "    subs r4, r4, #1",
    "    vstmia r3!, {{s0}}",
    "    bne 1b",
    "    vpop {{s16-s17}}",
    "    pop {{r4-r6, pc}}",
    ".size vae_core_matvec1_f32, . - vae_core_matvec1_f32",
);

// Weighted squares in blocks of 8: lanes[j] += sum over blocks of (x - m)^2 * p at position j.
// Eight lane accumulators in s24-s31; per block three VLDM, eight VSUB, eight VMUL, eight
// VFMA and the loop's SUBS/BNE: 29 instructions for 8 values.
core::arch::global_asm!(
    ".syntax unified",
    ".thumb",
    ".fpu fpv4-sp-d16",
    ".section .text.vae_core_wsq8_f32,\"ax\",%progbits",
    ".global vae_core_wsq8_f32",
    ".type vae_core_wsq8_f32,%function",
    ".p2align 2",
    ".thumb_func",
    // r0 = x, r1 = m, r2 = p, r3 = lanes (8 floats, read and written), [sp] = blocks.
    "vae_core_wsq8_f32:",
    "    vpush {{s16-s31}}",
    "    ldr r12, [sp, #64]", // blocks (64 bytes pushed)
    "    vldmia r3, {{s24-s31}}",
    "    cmp r12, #0",
    "    beq 2f",
    "1:",
    "    vldmia r0!, {{s0-s7}}",
    "    vldmia r1!, {{s8-s15}}",
    "    vldmia r2!, {{s16-s23}}",
    "    vsub.f32 s0, s0, s8",
    "    vsub.f32 s1, s1, s9",
    "    vsub.f32 s2, s2, s10",
    "    vsub.f32 s3, s3, s11",
    "    vsub.f32 s4, s4, s12",
    "    vsub.f32 s5, s5, s13",
    "    vsub.f32 s6, s6, s14",
    "    vsub.f32 s7, s7, s15",
    "    vmul.f32 s8, s0, s16",
    "    vmul.f32 s9, s1, s17",
    "    vmul.f32 s10, s2, s18",
    "    vmul.f32 s11, s3, s19",
    "    vmul.f32 s12, s4, s20",
    "    vmul.f32 s13, s5, s21",
    "    vmul.f32 s14, s6, s22",
    "    vmul.f32 s15, s7, s23",
    "    vfma.f32 s24, s8, s0",
    "    vfma.f32 s25, s9, s1",
    "    vfma.f32 s26, s10, s2",
    "    vfma.f32 s27, s11, s3",
    "    vfma.f32 s28, s12, s4",
    "    vfma.f32 s29, s13, s5",
    "    vfma.f32 s30, s14, s6",
    "    vfma.f32 s31, s15, s7",
    "    subs r12, r12, #1",
    "    bne 1b",
    "2:",
    "    vstmia r3, {{s24-s31}}",
    "    vpop {{s16-s31}}",
    "    bx lr",
    ".size vae_core_wsq8_f32, . - vae_core_wsq8_f32",
);

// `b + a tanh(a x)` of every value in place (contract of [`super::tanh_all`]): the same
// operations, in the same order, as the portable loop (VMUL and VADD round as `*` and `+`
// do; VDIV is IEEE division), so the same bits. Two values per pass (lanes A and B), each
// instruction followed by its twin of the other lane, so no instruction reads the result of
// the one before. r0 = xs, r1 = len, s0 = a, s1 = b. Lane A is read through r0, lane B
// through r3; when len is odd the first pass gives both lanes the first value (computed
// twice, stored twice), and each pass moves A to B + 4 and B to B + 8.
core::arch::global_asm!(
    ".syntax unified",
    ".thumb",
    ".fpu fpv4-sp-d16",
    ".section .text.vae_core_tanh_all_f32,\"ax\",%progbits",
    ".global vae_core_tanh_all_f32",
    ".type vae_core_tanh_all_f32,%function",
    ".p2align 2",
    ".thumb_func",
    "vae_core_tanh_all_f32:",
    "    cmp r1, #0",
    "    it eq",
    "    bxeq lr",
    "    vpush {{s16-s28}}",
    "    adr r2, 8f",
    "    vldmia r2, {{s16-s28}}", // A13 A11 A9 A7 A5 A3 A1 B6 B4 B2 B0 -C C
    "    adds r3, r0, #4",
    "    lsls r2, r1, #31", // Z clear when len is odd
    "    it ne",
    "    movne r3, r0",
    "    adds r1, r1, #1",
    "    lsrs r1, r1, #1", // passes
    "1:",
    "    vldr s2, [r0]",
    "    vldr s3, [r3]",
    "    vmul.f32 s2, s2, s0", // t = a x
    "    vmul.f32 s3, s3, s0",
    // clamp(t, -C, C) as f32::clamp: NaN compares false both times and stays.
    "    vcmp.f32 s2, s27",
    "    vmrs APSR_nzcv, fpscr",
    "    it mi",
    "    vmovmi.f32 s2, s27",
    "    vcmp.f32 s2, s28",
    "    vmrs APSR_nzcv, fpscr",
    "    it gt",
    "    vmovgt.f32 s2, s28",
    "    vcmp.f32 s3, s27",
    "    vmrs APSR_nzcv, fpscr",
    "    it mi",
    "    vmovmi.f32 s3, s27",
    "    vcmp.f32 s3, s28",
    "    vmrs APSR_nzcv, fpscr",
    "    it gt",
    "    vmovgt.f32 s3, s28",
    "    vmul.f32 s4, s2, s2", // x2
    "    vmul.f32 s5, s3, s3",
    "    vmul.f32 s6, s4, s16", // p = x2 A13 + A11, q = x2 B6 + B4
    "    vmul.f32 s7, s5, s16",
    "    vmul.f32 s8, s4, s23",
    "    vmul.f32 s9, s5, s23",
    "    vadd.f32 s6, s6, s17",
    "    vadd.f32 s7, s7, s17",
    "    vadd.f32 s8, s8, s24",
    "    vadd.f32 s9, s9, s24",
    "    vmul.f32 s6, s4, s6", // p = x2 p + A9, q = x2 q + B2
    "    vmul.f32 s7, s5, s7",
    "    vmul.f32 s8, s4, s8",
    "    vmul.f32 s9, s5, s9",
    "    vadd.f32 s6, s6, s18",
    "    vadd.f32 s7, s7, s18",
    "    vadd.f32 s8, s8, s25",
    "    vadd.f32 s9, s9, s25",
    "    vmul.f32 s6, s4, s6", // p = x2 p + A7, q = x2 q + B0
    "    vmul.f32 s7, s5, s7",
    "    vmul.f32 s8, s4, s8",
    "    vmul.f32 s9, s5, s9",
    "    vadd.f32 s6, s6, s19",
    "    vadd.f32 s7, s7, s19",
    "    vadd.f32 s8, s8, s26",
    "    vadd.f32 s9, s9, s26",
    "    vmul.f32 s6, s4, s6", // p = x2 p + A5
    "    vmul.f32 s7, s5, s7",
    "    vadd.f32 s6, s6, s20",
    "    vadd.f32 s7, s7, s20",
    "    vmul.f32 s6, s4, s6", // p = x2 p + A3
    "    vmul.f32 s7, s5, s7",
    "    vadd.f32 s6, s6, s21",
    "    vadd.f32 s7, s7, s21",
    "    vmul.f32 s6, s4, s6", // p = x2 p + A1
    "    vmul.f32 s7, s5, s7",
    "    vadd.f32 s6, s6, s22",
    "    vadd.f32 s7, s7, s22",
    "    vmul.f32 s6, s6, s2", // p t
    "    vmul.f32 s7, s7, s3",
    "    vdiv.f32 s6, s6, s8", // p / q
    "    vdiv.f32 s7, s7, s9",
    "    vmul.f32 s6, s0, s6", // b + a tanh
    "    vmul.f32 s7, s0, s7",
    "    vadd.f32 s6, s1, s6",
    "    vadd.f32 s7, s1, s7",
    "    vstr s6, [r0]",
    "    vstr s7, [r3]",
    "    adds r0, r3, #4",
    "    adds r3, r3, #8",
    "    subs r1, r1, #1",
    "    bne 1b",
    "    vpop {{s16-s28}}",
    "    bx lr",
    ".p2align 2",
    "8:",
    // The constants of `math::tanh` as f32 bits (the self-test compares the results bit for bit).
    "    .word 0xa59f25c1, 0x2a61337e, 0xaebd37ff, 0x335c0040, 0x3779434b, 0x3a270ded, 0x3ba059dc",
    "    .word 0x35a0d3d8, 0x38f895d6, 0x3b14aa05, 0x3ba059dd, 0xc0fcf84f, 0x40fcf84f",
    ".size vae_core_tanh_all_f32, . - vae_core_tanh_all_f32",
);

// The square root: x and the result in s0 (AAPCS hard-float).
core::arch::global_asm!(
    ".syntax unified",
    ".thumb",
    ".fpu fpv4-sp-d16",
    ".section .text.vae_core_sqrt_f32,\"ax\",%progbits",
    ".global vae_core_sqrt_f32",
    ".type vae_core_sqrt_f32,%function",
    ".p2align 1",
    ".thumb_func",
    "vae_core_sqrt_f32:",
    "    vsqrt.f32 s0, s0",
    "    bx lr",
    ".size vae_core_sqrt_f32, . - vae_core_sqrt_f32",
);

extern "C" {
    fn vae_core_matvec4_f32(
        w: *const f32,
        x: *const f32,
        bias: *const f32,
        out: *mut f32,
        groups: usize,
        cols: usize,
    );
    fn vae_core_matvec1_f32(
        w: *const f32,
        x: *const f32,
        bias: *const f32,
        out: *mut f32,
        rows: usize,
        cols: usize,
    );
    fn vae_core_sqrt_f32(x: f32) -> f32;
    fn vae_core_tanh_all_f32(xs: *mut f32, len: usize, a: f32, b: f32);
    fn vae_core_wsq8_f32(x: *const f32, m: *const f32, p: *const f32, lanes: *mut f32, blocks: usize);
}

/// `y = W x + b` through the assembly routines (contract of [`super::matvec`]): groups of 8
/// rows when there is at least one whole block of 8 columns, the other rows one at a time.
#[inline]
pub(super) fn matvec(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    let cols = x.len();
    let mut rows = y.len().min(b.len());
    if let Some(fit) = w.len().checked_div(cols) {
        rows = rows.min(fit);
    }
    let groups = if cols >= 8 { rows / 4 } else { 0 };
    let done = groups * 4;
    if groups > 0 {
        // SAFETY: the routine reads 8*groups*cols floats from `w`, cols from `x` and
        // 8*groups from `b`, and writes 8*groups floats to `y`; 8*groups <= rows, and `rows` is
        // clamped above so that each of those ranges lies inside its slice. It needs
        // groups >= 1 and cols >= 8, checked here. `y` is a unique borrow, so it aliases none
        // of the inputs. It is an AAPCS function that restores every callee-saved register it
        // touches (r4-r11, lr via pc, s16-s31) and leaves the stack balanced; its f32 loads
        // need 4-byte alignment, which `&[f32]` guarantees.
        unsafe { vae_core_matvec4_f32(w.as_ptr(), x.as_ptr(), b.as_ptr(), y.as_mut_ptr(), groups, cols) }
    }
    if done < rows {
        // SAFETY: the routine reads (rows-done)*cols floats from `w` from offset done*cols,
        // cols from `x`, rows-done from `b` from offset done, and writes rows-done floats to
        // `y` from offset done: all inside the slices, as `rows` is clamped above (the
        // offsets are computed with `wrapping_add`, which cannot overflow an in-bounds
        // pointer here, and are only dereferenced in range). It needs rows-done >= 1, checked
        // here. `y` aliases none of the inputs. It is an AAPCS function that restores every
        // callee-saved register it touches (r4-r6, lr via pc, s16-s17) and leaves the stack
        // balanced; f32 loads need 4-byte alignment, which `&[f32]` guarantees.
        unsafe {
            vae_core_matvec1_f32(
                w.as_ptr().wrapping_add(done * cols),
                x.as_ptr(),
                b.as_ptr().wrapping_add(done),
                y.as_mut_ptr().wrapping_add(done),
                rows - done,
                cols,
            )
        }
    }
}

/// Weighted squares over whole blocks of 8 through the assembly routine (contract of
/// [`super::weighted_squares8`]).
#[inline]
pub(super) fn weighted_squares8(x: &[f32], m: &[f32], p: &[f32], lanes: &mut [f32; 8]) -> usize {
    let blocks = x.len().min(m.len()).min(p.len()) / 8;
    // SAFETY: the routine reads blocks*8 floats from each of `x`, `m` and `p` (each slice is
    // at least that long by the `min` above) and reads and writes the 8 floats of `lanes`, a
    // unique borrow that aliases none of the inputs. It is an AAPCS function that restores
    // the callee-saved registers it touches (s16-s31) and leaves the stack balanced; its f32
    // loads need 4-byte alignment, which `&[f32]` guarantees.
    unsafe { vae_core_wsq8_f32(x.as_ptr(), m.as_ptr(), p.as_ptr(), lanes.as_mut_ptr(), blocks) }
    blocks * 8
}

/// Square root with the FPU's `VSQRT` (IEEE correctly rounded, so the same bits as
/// `libm::sqrtf` on the host), instead of libm's integer routine.
#[inline]
pub(super) fn sqrt(x: f32) -> f32 {
    // SAFETY: an AAPCS hard-float function taking and returning an f32 in s0; it touches no
    // other register and no memory.
    unsafe { vae_core_sqrt_f32(x) }
}

/// `b + a tanh(a x)` of every value in place through the assembly routine (contract of
/// [`super::tanh_all`]).
#[inline]
pub(super) fn tanh_all(xs: &mut [f32], a: f32, b: f32) {
    // SAFETY: the routine reads and writes the `xs.len()` floats of `xs` (a unique borrow)
    // and no other memory but its own constant table. It is an AAPCS hard-float function
    // (a, b in s0, s1) that restores the callee-saved registers it touches (s16-s28) and
    // leaves the stack balanced; its f32 loads need 4-byte alignment, which `&mut [f32]`
    // guarantees.
    unsafe { vae_core_tanh_all_f32(xs.as_mut_ptr(), xs.len(), a, b) }
}
