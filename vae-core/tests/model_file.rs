//! The model file: write -> read round trip, corruption of every kind rejected with a typed
//! error, and typed loading that names expected and found sizes.

mod common;
use common::*;
use vae_core::model_file::{self, Calibration, ModelDesc, Transform};
use vae_core::{
    Activation, Chain, Dense, DenseRef, DynLayers, Error, ModelFile, Outcome, Rng, ScoreConfig, ScoreKind,
};

/// A 4-byte aligned copy of `bytes` (a model file is read zero-copy).
fn aligned(bytes: &[u8]) -> Vec<u32> {
    let mut v = vec![0u32; bytes.len().div_ceil(4)];
    bytemuck::cast_slice_mut::<u32, u8>(&mut v)[..bytes.len()].copy_from_slice(bytes);
    v
}

fn as_bytes(v: &[u32], len: usize) -> &[u8] {
    &bytemuck::cast_slice::<u32, u8>(v)[..len]
}

const NAMES: [&str; C] = ["vib-x", "température"];

fn encode(p: &Params) -> Vec<u8> {
    encode_as(p, vae_core::weights::Encoding::F32)
}

fn encode_as(p: &Params, weights: vae_core::weights::Encoding) -> Vec<u8> {
    let d = |w: &'static [f32], b: &'static [f32], i: usize, a| DenseRef::new(w, b, i, a).unwrap();
    // Leak to get 'static borrows in a test; the process ends soon.
    let p: &'static Params = Box::leak(Box::new(Params::new(p.seed, p.act)));
    let id = Activation::Identity;
    let enc = [d(p.e1.as_flattened(), &p.e1b, X, p.act), d(p.e2.as_flattened(), &p.e2b, H1, p.act)];
    let dec = [d(p.d1.as_flattened(), &p.d1b, Z, p.act)];
    let mean = [0.5f32, -1.0];
    let std = [2.0f32, 0.25];
    let cal =
        [Calibration { quantile: 0.995, threshold: 12.5 }, Calibration { quantile: 0.99, threshold: 10.0 }];
    let desc = ModelDesc {
        weights,
        name: "test model",
        seed: p.seed,
        window: W,
        hop: 2,
        channel_names: &NAMES,
        norm_mean: &mean,
        norm_std: &std,
        score: ScoreConfig::new(ScoreKind::Iwae, 8).unwrap(),
        transform: Transform::Raw,
        thresholds: &cal,
        alarm: vae_core::AlarmRule::STATIC,
        layers: DynLayers {
            encoder: &enc,
            mu: d(p.mu.as_flattened(), &p.mub, H2, id),
            log_var: d(p.lv.as_flattened(), &p.lvb, H2, id),
            decoder: &dec,
            mean: d(p.out.as_flattened(), &p.outb, HD, id),
        },
        log_var: &p.s,
    };
    let mut out = vec![0u8; model_file::encoded_len(&desc)];
    let n = model_file::write(&desc, &mut out).unwrap();
    assert_eq!(n, out.len());
    out
}

type Typed<'a> =
    vae_core::Vae<'a, Chain<Dense<'a, X, H1>, Dense<'a, H1, H2>, H1>, Dense<'a, Z, HD>, X, H2, Z, HD>;

#[test]
fn crc32_check_value() {
    // The standard check value of CRC-32/ISO-HDLC.
    assert_eq!(model_file::crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(model_file::crc32(b""), 0);
}

#[test]
fn round_trip_preserves_everything() {
    let p = Params::new(11, Activation::Tanh);
    let bytes = encode(&p);
    let buf = aligned(&bytes);
    let f = ModelFile::parse(as_bytes(&buf, bytes.len())).unwrap();
    let h = f.header();
    assert_eq!((h.input_len, h.latent_len, h.channels, h.window, h.hop), (X, Z, C, W, 2));
    assert_eq!(h.seed, 11);
    assert_eq!(h.name, "test model");
    assert_eq!(h.channel_names().collect::<Vec<_>>(), NAMES);
    assert_eq!(h.score, ScoreConfig::new(ScoreKind::Iwae, 8).unwrap());
    assert_eq!(h.thresholds().len(), 2);
    assert_eq!(h.threshold().unwrap().value(), 12.5);
    assert_eq!((h.encoder_depth(), h.decoder_depth()), (2, 1));
    assert_eq!(h.file_len(), bytes.len());
    assert_eq!(f.norm_mean(), &[0.5, -1.0]);
    assert_eq!(f.norm_std(), &[2.0, 0.25]);
    assert_eq!(f.decoder_log_var(), &p.s);
    assert_eq!(f.layer_params(0).0, vae_core::model_file::LayerWeights::F32(p.e1.as_flattened()));
    assert_eq!(f.layer_params(5).1, &p.outb);
    let shapes: Vec<_> = h.layers().iter().map(|l| (l.inputs, l.outputs, l.activation)).collect();
    let (a, id) = (Activation::Tanh, Activation::Identity);
    assert_eq!(shapes, [(X, H1, a), (H1, H2, a), (H2, Z, id), (H2, Z, id), (Z, HD, a), (HD, X, id)]);
    assert_eq!(h.macs(), p.typed().macs());

    // Scores of the file's typed and run-time-sized models equal the original's.
    let typed: Typed<'_> = f.vae().unwrap();
    let mut precision = vec![0.0f32; X];
    let dynamic = f.dyn_vae(&mut precision).unwrap();
    let original = p.typed();
    let x: [f32; X] = std::array::from_fn(|i| (i as f32 * 0.37).sin());
    for cfg in [ScoreConfig::DETERMINISTIC, h.score] {
        let want = original.score::<C>(&x, cfg, &mut Rng::for_stream(1, 2));
        assert!(matches!(want, Outcome::Scored(_)));
        assert_eq!(typed.score::<C>(&x, cfg, &mut Rng::for_stream(1, 2)), want);
        let mut work = vec![0.0; dynamic.work_len(C)];
        let got = dynamic.score(&x, cfg, &mut Rng::for_stream(1, 2), &mut work, &mut [0.0; C]).unwrap();
        assert_eq!(got, want);
    }
    let n = f.normalizer::<C>().unwrap();
    assert_eq!(n.std(), &[2.0, 0.25]);
    assert!(matches!(f.normalizer::<3>(), Err(Error::SizeMismatch { expected: 3, found: 2, .. })));
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let bytes = encode(&Params::new(3, Activation::Relu));
    let mut buf = aligned(&bytes);
    for bit in 0..bytes.len() * 8 {
        let b = bytemuck::cast_slice_mut::<u32, u8>(&mut buf);
        b[bit / 8] ^= 1 << (bit % 8);
        let r = ModelFile::parse(&b[..bytes.len()]);
        assert!(r.is_err(), "flip of bit {bit} accepted");
        let b = bytemuck::cast_slice_mut::<u32, u8>(&mut buf);
        b[bit / 8] ^= 1 << (bit % 8);
    }
    assert!(ModelFile::parse(as_bytes(&buf, bytes.len())).is_ok());
}

#[test]
fn truncation_at_every_length_and_appended_bytes_are_rejected() {
    let bytes = encode(&Params::new(4, Activation::Sigmoid));
    let buf = aligned(&[bytes.as_slice(), &[0u8; 8]].concat());
    for len in 0..bytes.len() {
        let e = ModelFile::parse(as_bytes(&buf, len)).unwrap_err();
        assert!(matches!(e, Error::Truncated { .. } | Error::LengthMismatch { .. }), "length {len}: {e:?}");
    }
    for extra in 1..8 {
        let e = ModelFile::parse(as_bytes(&buf, bytes.len() + extra)).unwrap_err();
        assert_eq!(e, Error::LengthMismatch { declared: bytes.len(), actual: bytes.len() + extra });
    }
}

#[test]
fn specific_errors_name_the_problem() {
    let bytes = encode(&Params::new(5, Activation::Tanh));
    let fix_crc = |b: &mut Vec<u8>| {
        let n = b.len();
        let crc = model_file::crc32(&b[..n - 4]);
        b[n - 4..].copy_from_slice(&crc.to_le_bytes());
    };
    let parse = |b: &[u8]| ModelFile::parse(as_bytes(&aligned(b), b.len())).map(|_| ());

    let mut b = bytes.clone();
    b[..4].copy_from_slice(b"PK\x03\x04");
    assert_eq!(parse(&b), Err(Error::BadMagic { found: *b"PK\x03\x04" }));
    let mut b = bytes.clone();
    b[4] = 5;
    assert_eq!(parse(&b), Err(Error::UnsupportedVersion { found: 5, supported: 4 }));
    // A format-2 file (all f32) with an encoding in a layer descriptor: refused by name.
    let mut b = bytes.clone();
    b[model_file::FIXED_HEADER_LEN + 3] = 1;
    fix_crc(&mut b);
    assert!(
        matches!(parse(&b), Err(Error::InvalidLayer { layer: 0, field: "weight encoding", found: 1 })),
        "{:?}",
        parse(&b)
    );
    let mut b = bytes.clone();
    let last = b.len() - 1;
    b[last] ^= 0xFF;
    assert!(matches!(parse(&b), Err(Error::Checksum { .. })));
    // A NaN weight with a valid checksum: refused by name.
    let mut b = bytes.clone();
    let h = ModelFile::parse(as_bytes(&aligned(&bytes), bytes.len())).unwrap().header().header_len();
    b[h + 4 * (2 * C)..h + 4 * (2 * C) + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    fix_crc(&mut b);
    assert!(matches!(
        parse(&b),
        Err(Error::InvalidTensor {
            part: model_file::Part::Encoder,
            layer: 0,
            tensor: "weight",
            index: 0,
            ..
        })
    ));
    // A zero std.
    let mut b = bytes.clone();
    b[h + 4 * C..h + 4 * C + 4].copy_from_slice(&0.0f32.to_le_bytes());
    fix_crc(&mut b);
    assert_eq!(parse(&b), Err(Error::InvalidStd { channel: 0, found: 0.0 }));
    // An unknown activation code in the first layer descriptor.
    let mut b = bytes.clone();
    b[model_file::FIXED_HEADER_LEN + 2] = 9;
    fix_crc(&mut b);
    assert_eq!(parse(&b), Err(Error::InvalidLayer { layer: 0, field: "activation", found: 9 }));
    // A deterministic score with K != 1: two files must not mean the same model.
    let mut b = bytes.clone();
    b[34..36].copy_from_slice(&3u16.to_le_bytes()); // samples
    b[36] = 0; // deterministic
    fix_crc(&mut b);
    assert!(matches!(parse(&b), Err(Error::InvalidField { found: 3, .. })), "{:?}", parse(&b));
    // Unaligned bytes are refused, not misread.
    let mut shifted = vec![0u8; bytes.len() + 1];
    shifted[1..].copy_from_slice(&bytes);
    let buf = aligned(&shifted);
    assert!(matches!(ModelFile::parse(&as_bytes(&buf, shifted.len())[1..]), Err(Error::Misaligned { .. })));
}

/// A NaN or infinity at every position of the weights and biases is refused, naming the part,
/// layer, tensor and flat index where it sits; a large finite value is accepted.
#[test]
fn every_non_finite_weight_is_located() {
    let bytes = encode(&Params::new(5, Activation::Tanh));
    let words = aligned(&bytes);
    let file = ModelFile::parse(as_bytes(&words, bytes.len())).unwrap();
    let h = file.header();
    let (start, layers) = (h.header_len() + 4 * 2 * C, file.layers().unwrap());
    let mut expected = Vec::new();
    for (i, l) in h.layers().iter().enumerate() {
        let part = h.part(i).name();
        expected.extend((0..l.inputs * l.outputs).map(|k| (part, i, "weight", k)));
        expected.extend((0..l.outputs).map(|k| (part, i, "bias", k)));
    }
    assert_eq!(layers.encoder.len() + layers.decoder.len() + 3, h.layers().len());
    for (pos, &(part, layer, tensor, index)) in expected.iter().enumerate() {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 3.0e38] {
            let mut b = bytes.clone();
            let at = start + 4 * pos;
            b[at..at + 4].copy_from_slice(&bad.to_le_bytes());
            let n = b.len();
            let crc = model_file::crc32(&b[..n - 4]);
            b[n - 4..].copy_from_slice(&crc.to_le_bytes());
            let got = ModelFile::parse(as_bytes(&aligned(&b), n)).map(|_| ());
            if bad.is_finite() {
                assert_eq!(got, Ok(()), "{bad} at {pos}");
            } else {
                match got {
                    Err(Error::InvalidTensor { part: p, layer: l, tensor: t, index: k, found }) => {
                        assert_eq!((p.name(), l, t, k), (part, layer, tensor, index), "{bad} at {pos}");
                        assert_eq!(found.to_bits(), bad.to_bits());
                    }
                    other => panic!("{bad} at {pos}: {other:?}"),
                }
            }
        }
    }
}

#[test]
fn a_file_for_other_sizes_names_expected_and_found() {
    let bytes = encode(&Params::new(6, Activation::Tanh));
    let buf = aligned(&bytes);
    let f = ModelFile::parse(as_bytes(&buf, bytes.len())).unwrap();
    // Other input width.
    let e = f.vae::<Dense<'_, 4, H2>, Dense<'_, Z, HD>, 4, H2, Z, HD>().unwrap_err();
    assert_eq!(e, Error::SizeMismatch { what: "input width X", expected: 4, found: X });
    assert!(e.to_string().contains("expected 4, found 8"), "{e}");
    // Other latent width.
    let e = f
        .vae::<Chain<Dense<'_, X, H1>, Dense<'_, H1, H2>, H1>, Dense<'_, 2, HD>, X, H2, 2, HD>()
        .unwrap_err();
    assert_eq!(e, Error::SizeMismatch { what: "latent width Z", expected: 2, found: Z });
    // One hidden layer where the file has two.
    let e = f.vae::<Dense<'_, X, H2>, Dense<'_, Z, HD>, X, H2, Z, HD>().unwrap_err();
    assert_eq!(e, Error::SizeMismatch { what: "encoder hidden layers", expected: 1, found: 2 });
    // Same depth, other hidden width.
    let e =
        f.vae::<Chain<Dense<'_, X, 9>, Dense<'_, 9, H2>, 9>, Dense<'_, Z, HD>, X, H2, Z, HD>().unwrap_err();
    assert_eq!(
        e,
        Error::LayerShape {
            layer: 0,
            expected_inputs: X,
            expected_outputs: 9,
            found_inputs: X,
            found_outputs: H1
        }
    );
}

#[test]
fn writer_refuses_what_the_reader_would_refuse() {
    let p = Params::new(8, Activation::Tanh);
    let bytes = encode(&p);
    assert!(ModelFile::parse(as_bytes(&aligned(&bytes), bytes.len())).is_ok());
    // A too-small buffer.
    let d = |w: &'static [f32], b: &'static [f32], i: usize| {
        DenseRef::new(w, b, i, Activation::Identity).unwrap()
    };
    let w1: &'static [f32] = Box::leak(vec![0.1f32; 4].into_boxed_slice());
    let b2: &'static [f32] = Box::leak(vec![0.0f32; 2].into_boxed_slice());
    let nan: &'static [f32] = Box::leak(vec![f32::NAN; 2].into_boxed_slice());
    let desc = tiny_desc(d(w1, b2, 2), b2, &[], vae_core::AlarmRule::STATIC);
    let mut out = vec![0u8; model_file::encoded_len(&desc)];
    assert!(model_file::write(&desc, &mut out).is_ok());
    assert!(matches!(model_file::write(&desc, &mut out[..10]), Err(Error::Length { .. })));
    let bad = ModelDesc { log_var: nan, ..desc };
    assert!(matches!(
        model_file::write(&bad, &mut out),
        Err(Error::InvalidParameter { tensor: "decoder.log_var", .. })
    ));
    let bad = ModelDesc { norm_std: &[1.0, -1.0], ..desc };
    assert!(matches!(model_file::write(&bad, &mut out), Err(Error::InvalidStd { channel: 1, .. })));
}

/// A two-channel model whose every layer is `layer` (2 x 2), for the writer's tests.
fn tiny_desc(
    layer: DenseRef<'static>,
    log_var: &'static [f32],
    thresholds: &'static [Calibration],
    alarm: vae_core::AlarmRule,
) -> ModelDesc<'static, 'static> {
    let stack: &'static [DenseRef<'static>] = Box::leak(Box::new([layer]));
    ModelDesc {
        weights: vae_core::weights::Encoding::F32,
        name: "x",
        seed: 0,
        window: 1,
        hop: 1,
        channel_names: &["a", "b"],
        norm_mean: &[0.0, 0.0],
        norm_std: &[1.0, 1.0],
        score: ScoreConfig::DETERMINISTIC,
        transform: Transform::Raw,
        thresholds,
        alarm,
        layers: DynLayers { encoder: stack, mu: layer, log_var: layer, decoder: stack, mean: layer },
        log_var,
    }
}

/// Each alarm rule is written in the oldest version that holds it and read back as written:
/// a spread floor needs version 4 (16 bytes of rule), without one f32 files stay version 2
/// (12 bytes), which readers before the floor read.
#[test]
fn the_alarm_rule_round_trips_in_the_oldest_version_that_holds_it() {
    let w1: &'static [f32] = Box::leak(vec![0.5f32; 4].into_boxed_slice());
    let b2: &'static [f32] = Box::leak(vec![0.0f32; 2].into_boxed_slice());
    let layer = DenseRef::new(w1, b2, 2, Activation::Identity).unwrap();
    let cal: &'static [Calibration] = Box::leak(Box::new([Calibration { quantile: 0.995, threshold: 3.0 }]));
    let rule = vae_core::AlarmRule { learn: 32, relearn_after: 4, margin: 5.15, guard: 40.0, floor: 0.0 };
    let desc = |alarm| tiny_desc(layer, b2, cal, alarm);
    let mut lens = Vec::new();
    for (alarm, version) in [(rule, 2u16), (vae_core::AlarmRule { floor: 0.75, ..rule }, 4)] {
        let d = desc(alarm);
        let mut out = vec![0u8; model_file::encoded_len(&d)];
        let n = model_file::write(&d, &mut out).unwrap();
        assert_eq!(u16::from_le_bytes([out[4], out[5]]), version);
        let a = aligned(&out);
        let f = ModelFile::parse(as_bytes(&a, n)).unwrap();
        assert_eq!(f.header().alarm, alarm);
        lens.push(n);
    }
    // The floor's 4 bytes fit in the header's padding or add one word.
    assert!(lens[1] == lens[0] || lens[1] == lens[0] + 4, "{lens:?}");
    // A negative floor is refused by name.
    let d = desc(vae_core::AlarmRule { floor: -1.0, ..rule });
    let mut out = vec![0u8; model_file::encoded_len(&d)];
    assert!(matches!(model_file::write(&d, &mut out), Err(Error::InvalidAlarm { field: "floor", .. })));
}

/// Compact weights: typed f16 and int8 models score as the run-time model over the
/// dequantised weights, and an int8 scale that would make a weight infinite is refused.
#[cfg(feature = "compact-weights")]
#[test]
fn compact_weights_load_typed_and_refuse_an_overflowing_scale() {
    use vae_core::model_file::LayerWeights;
    use vae_core::weights::{Encoding, Int8, F16};
    let p = Params::new(7, Activation::Tanh);
    for enc in [Encoding::F16, Encoding::Int8] {
        let bytes = encode_as(&p, enc);
        let words = aligned(&bytes);
        let f = ModelFile::parse(as_bytes(&words, bytes.len())).unwrap();
        assert_eq!((f.header().weights(), f.header().file_len()), (Some(enc), bytes.len()));
        assert!(bytes.len() < encode(&p).len());
        let x: [f32; X] = core::array::from_fn(|i| (i as f32 * 0.7).sin());
        let deterministic = ScoreConfig::DETERMINISTIC;
        let typed = match enc {
            Encoding::F16 => f
                .encoded_vae::<Chain<Dense<'_, X, H1, F16>, Dense<'_, H1, H2, F16>, H1>, Dense<'_, Z, HD, F16>, X, H2, Z, HD, F16>()
                .unwrap()
                .score::<C>(&x, deterministic, &mut vae_core::Rng::new(0)),
            _ => f
                .encoded_vae::<Chain<Dense<'_, X, H1, Int8>, Dense<'_, H1, H2, Int8>, H1>, Dense<'_, Z, HD, Int8>, X, H2, Z, HD, Int8>()
                .unwrap()
                .score::<C>(&x, deterministic, &mut vae_core::Rng::new(0)),
        };
        // The f32 model of the dequantised weights, through the run-time engine.
        let owned: Vec<(Vec<f32>, Vec<f32>)> = (0..f.header().layers().len())
            .map(|i| {
                let (w, b) = f.layer_params(i);
                ((0..w.len()).map(|k| w.weight(k, f.header().layers()[i].inputs)).collect(), b.to_vec())
            })
            .collect();
        let refs: Vec<DenseRef<'_>> = owned
            .iter()
            .zip(f.header().layers())
            .map(|((w, b), l)| DenseRef::new(w, b, l.inputs, l.activation).unwrap())
            .collect();
        let layers = DynLayers {
            encoder: &refs[..2],
            mu: refs[2],
            log_var: refs[3],
            decoder: &refs[4..5],
            mean: refs[5],
        };
        let mut precision = vec![0.0f32; X];
        let dynamic = vae_core::DynVae::new(layers, f.decoder_log_var(), &mut precision).unwrap();
        let mut work = vec![0.0f32; dynamic.work_len(C)];
        let mut nll = vec![0.0f32; C];
        let want = dynamic.score(&x, deterministic, &mut vae_core::Rng::new(0), &mut work, &mut nll).unwrap();
        match (typed, want) {
            (vae_core::Outcome::Scored(a), vae_core::Outcome::Scored(b)) => {
                assert!((a.score - b.score).abs() <= 1e-5 * b.score.abs().max(1.0), "{enc:?}: {a:?} vs {b:?}")
            }
            other => panic!("{enc:?}: {other:?}"),
        }
        // A non-zero byte in the padding after the matrix (5 x 2 weights of layer 0 leave
        // none, so the padding of the first layer with an odd count is looked for).
        let shapes = f.header().layers();
        let size = if enc == Encoding::F16 { 2 } else { 1 };
        let mut off = f.header().header_len() + 4 * 2 * C;
        let mut padded = false;
        for (i, l) in shapes.iter().enumerate() {
            let (n, words) = (l.inputs * l.outputs, enc.words(l.inputs, l.outputs));
            let packed = if enc == Encoding::Int8 { words - l.outputs } else { words };
            if size * n < 4 * packed {
                let mut bad = bytes.clone();
                bad[off + size * n] = 1;
                let len = bad.len();
                let crc = model_file::crc32(&bad[..len - 4]);
                bad[len - 4..].copy_from_slice(&crc.to_le_bytes());
                let e = ModelFile::parse(as_bytes(&aligned(&bad), len)).unwrap_err();
                assert!(
                    matches!(e, Error::InvalidLayer { field: "weight padding", .. }),
                    "{enc:?} layer {i}: {e:?}"
                );
                padded = true;
                break;
            }
            off += 4 * (words + l.outputs);
        }
        assert!(padded, "{enc:?}: the test model has a layer with padding");
        if enc == Encoding::Int8 {
            // A scale of 1e38 with a value of -128: refused, naming the tensor.
            let mut bad = bytes.clone();
            let h = f.header().header_len();
            let (q, scale) = match f.layer_params(0).0 {
                LayerWeights::Int8 { q, scale } => (q.as_ptr() as usize, scale.as_ptr() as usize),
                _ => unreachable!(),
            };
            let base = as_bytes(&words, bytes.len()).as_ptr() as usize;
            let (qi, si) = (q - base, scale - base);
            assert!(qi >= h && si > qi);
            bad[qi] = 0x80;
            bad[si..si + 4].copy_from_slice(&1e38f32.to_le_bytes());
            let n = bad.len();
            let crc = model_file::crc32(&bad[..n - 4]);
            bad[n - 4..].copy_from_slice(&crc.to_le_bytes());
            let e = ModelFile::parse(as_bytes(&aligned(&bad), n)).unwrap_err();
            assert!(matches!(e, Error::InvalidTensor { layer: 0, tensor: "scale", index: 0, .. }), "{e:?}");
        }
    }
}
