//! UTF-8 check of a model file's text (model and channel names), in far less flash than
//! `core::str::from_utf8`, whose word-at-a-time ASCII path and 256-byte width table cost
//! about 620 B on a Cortex-M4 build: the device checks a few dozen bytes once at boot.
#![allow(unsafe_code)]

/// `bytes` as a `str` when they are well-formed UTF-8 (the byte sequences of Unicode's
/// table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF), as
/// `core::str::from_utf8(bytes).ok()` decides. Not inlined: one copy serves the parser and
/// [`ChannelNames`](crate::model_file::ChannelNames).
#[inline(never)]
pub(crate) fn str_of(bytes: &[u8]) -> Option<&str> {
    let mut rest = bytes;
    while let Some((&lead, tail)) = rest.split_first() {
        // A lead byte's leading ones give the sequence length (0: ASCII).
        let len = lead.leading_ones() as usize;
        rest = tail;
        if len == 0 {
            continue;
        }
        if !(2..=4).contains(&len) {
            return None;
        }
        let (more, tail) = rest.split_at_checked(len - 1)?;
        let mut code = u32::from(lead) & (0x7f >> len);
        for &b in more {
            if b & 0xc0 != 0x80 {
                return None;
            }
            code = code << 6 | u32::from(b & 0x3f);
        }
        // The shortest form only, no surrogate, nothing past U+10FFFF.
        let least = match len {
            2 => 0x80,
            3 => 0x800,
            _ => 0x1_0000,
        };
        if code < least || code > 0x10_ffff || (0xd800..=0xdfff).contains(&code) {
            return None;
        }
        rest = tail;
    }
    // SAFETY: the loop above returned `None` unless every byte of `bytes` belongs to a
    // well-formed UTF-8 sequence (a lead byte, its continuation bytes, a scalar value in
    // its shortest form that is not a surrogate), which is what `str` requires; the tests
    // check it against `core::str::from_utf8` on every sequence of up to 3 bytes and on
    // 4-byte sequences around every boundary.
    Some(unsafe { core::str::from_utf8_unchecked(bytes) })
}

#[cfg(test)]
mod tests {
    use super::str_of;

    fn same(b: &[u8]) {
        assert_eq!(str_of(b), core::str::from_utf8(b).ok(), "{b:02x?}");
    }

    #[test]
    fn agrees_with_core_on_every_sequence_of_up_to_three_bytes() {
        same(&[]);
        for a in 0..=255u8 {
            same(&[a]);
            for b in 0..=255u8 {
                same(&[a, b]);
                for c in 0..=255u8 {
                    same(&[a, b, c]);
                }
            }
        }
    }

    #[test]
    fn agrees_with_core_on_four_byte_sequences_around_the_boundaries() {
        let edges =
            [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xe0, 0xf0, 0xf4, 0xff];
        for a in 0xc0..=0xffu8 {
            for b in 0..=255u8 {
                for &c in &edges {
                    for &d in &edges {
                        same(&[a, b, c, d]);
                        same(&[0x41, a, b, c, d]);
                    }
                }
            }
        }
    }

    #[test]
    fn names_of_real_channels() {
        for s in ["Accelerometer1RMS", "Température", "Δp", "温度", "🌡", ""] {
            assert_eq!(str_of(s.as_bytes()), Some(s));
        }
        assert_eq!(str_of(b"ok\xff"), None);
        assert_eq!(str_of(b"\xe2\x82"), None, "truncated");
    }
}
