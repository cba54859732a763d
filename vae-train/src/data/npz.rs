//! NumPy `.npz` reader: a zip archive (stored or deflated) of `.npy` members, as `np.savez`
//! and `np.savez_compressed` write. Each array is a channel named after its member (`DE.npy`
//! is `DE`); an (N, C) array with C > 1 gives the channels `name[0]` .. `name[C-1]`. Every
//! selected array must have the same number of rows.

use super::error::{join, DataError};
use super::npy::{self, build, select, Array, Column};
use super::{LoadOptions, Recording};
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

/// Parses a `.npz` archive's bytes into a recording; `opts.columns` names the arrays (when
/// `None`, all of them in archive order but the label array and those named like a label,
/// [`LABEL_NAMES`](super::LABEL_NAMES), such as `label`) and `opts.label_column` an array of 0/1
/// labels.
pub fn parse(bytes: &[u8], opts: &LoadOptions, path: &Path) -> Result<Recording, DataError> {
    if bytes.is_empty() {
        return Err(DataError::Empty { path: path.to_path_buf() });
    }
    let zip_err = |why: String| DataError::Zip { path: path.to_path_buf(), why };
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| zip_err(e.to_string()))?;
    let keys: Vec<String> =
        zip.file_names().filter_map(|n| n.strip_suffix(".npy")).map(str::to_string).collect();
    let missing = |key: &str| DataError::NpzMissingKey {
        path: path.to_path_buf(),
        key: key.to_string(),
        available: join(&keys),
    };
    if keys.is_empty() && opts.columns.is_none() {
        return Err(DataError::NoColumns {
            path: path.to_path_buf(),
            why: "the archive holds no .npy arrays".to_string(),
            available: join(&keys),
        });
    }
    let sel = select(&keys, opts, path, &missing, true)?;
    let (features, label) = (sel.features, sel.label);

    // Read the members first: the arrays borrow their bytes.
    let wanted: Vec<usize> = features.iter().copied().chain(label).collect();
    let mut members: Vec<(usize, PathBuf, Vec<u8>)> = Vec::with_capacity(wanted.len());
    for &k in &wanted {
        let key = &keys[k];
        let member = format!("{key}.npy");
        let mut file = zip.by_name(&member).map_err(|e| zip_err(format!("{member}: {e}")))?;
        // The announced size is only a hint: cap the reservation, not the read.
        let mut buf = Vec::with_capacity(usize::try_from(file.size()).unwrap_or(0).min(1 << 28));
        file.read_to_end(&mut buf).map_err(|e| zip_err(format!("{member}: {e}")))?;
        members.push((k, PathBuf::from(format!("{}:{member}", path.display())), buf));
    }
    let mut arrays: Vec<(usize, Array<'_>)> = Vec::with_capacity(members.len());
    for (k, member_path, buf) in &members {
        arrays.push((*k, npy::read_array(buf, member_path)?));
    }

    let array = |k: usize| arrays.iter().find(|(i, _)| *i == k).map(|(_, a)| a);
    let mut rows: Option<(usize, &str)> = None;
    let mut columns: Vec<Column<'_>> = Vec::new();
    for &k in &features {
        let Some(a) = array(k) else { continue };
        check_rows(&mut rows, &keys[k], a.rows, path)?;
        if a.cols == 1 {
            columns.push(Column { name: keys[k].clone(), array: a, col: 0 });
        } else {
            columns.extend((0..a.cols).map(|c| Column {
                name: format!("{}[{c}]", keys[k]),
                array: a,
                col: c,
            }));
        }
    }
    let label = match label {
        None => None,
        Some(k) => match array(k) {
            None => None,
            Some(a) => {
                check_rows(&mut rows, &keys[k], a.rows, path)?;
                if a.cols != 1 {
                    return Err(DataError::UnsupportedShape {
                        path: path.to_path_buf(),
                        shape: format!(
                            "({}, {}) for the label array `{}` (expected one column)",
                            a.rows, a.cols, keys[k]
                        ),
                    });
                }
                Some(Column { name: keys[k].clone(), array: a, col: 0 })
            }
        },
    };
    let n = rows.map_or(0, |(n, _)| n);
    build(path, columns, label, n, opts, sel.skipped)
}

/// Every array must have the first one's number of rows.
fn check_rows<'k>(
    first: &mut Option<(usize, &'k str)>,
    key: &'k str,
    rows: usize,
    path: &Path,
) -> Result<(), DataError> {
    match *first {
        None => {
            *first = Some((rows, key));
            Ok(())
        }
        Some((expected, first_key)) if expected != rows => Err(DataError::NpzLengthMismatch {
            path: path.to_path_buf(),
            key: key.to_string(),
            found: rows,
            first_key: first_key.to_string(),
            expected,
        }),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::data::npy::tests::npy_bytes;
    use std::io::Write;

    /// A zip of `(name, bytes)` members, deflated or stored.
    pub(crate) fn zip_bytes(members: &[(&str, Vec<u8>)], deflate: bool) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let method = if deflate { zip::CompressionMethod::Deflated } else { zip::CompressionMethod::Stored };
        let o = zip::write::SimpleFileOptions::default().compression_method(method);
        for (name, data) in members {
            w.start_file(*name, o).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn col(v: &[f64]) -> Vec<u8> {
        npy_bytes(
            "<f8",
            &format!("({}, 1)", v.len()),
            &v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>(),
        )
    }

    fn p(bytes: &[u8], opts: &LoadOptions) -> Result<Recording, DataError> {
        parse(bytes, opts, Path::new("n.npz"))
    }

    fn cols(names: &[&str]) -> LoadOptions {
        LoadOptions { columns: Some(names.iter().map(|s| s.to_string()).collect()), ..Default::default() }
    }

    #[test]
    fn reads_named_arrays_stored_or_deflated() {
        for deflate in [false, true] {
            let z = zip_bytes(&[("DE.npy", col(&[1., 2., 3.])), ("FE.npy", col(&[4., 5., 6.]))], deflate);
            let r = p(&z, &cols(&["DE"])).unwrap();
            assert_eq!(
                (r.channels.as_slice(), r.values.as_slice()),
                (&["DE".to_string()][..], &[1.0f32, 2.0, 3.0][..])
            );
            let r = p(&z, &cols(&["FE", "DE"])).unwrap();
            assert_eq!(r.channels, ["FE", "DE"]);
            assert_eq!(r.values, [4., 1., 5., 2., 6., 3.]);
            let r = p(&z, &LoadOptions::default()).unwrap();
            assert_eq!(r.channels, ["DE", "FE"]);
        }
    }

    #[test]
    fn label_arrays_are_not_channels_unless_named() {
        use crate::data::{SkipReason, SkippedColumn};
        let z = zip_bytes(
            &[("DE.npy", col(&[1., 0.])), ("Label.npy", col(&[0., 1.])), ("FE.npy", col(&[3., 4.]))],
            false,
        );
        let r = p(&z, &LoadOptions::default()).unwrap();
        assert_eq!(r.channels, ["DE", "FE"]);
        assert_eq!(
            r.skipped,
            [SkippedColumn { name: "Label".into(), number: 2, reason: SkipReason::LabelName }]
        );
        assert_eq!(p(&z, &cols(&["Label", "DE"])).unwrap().channels, ["Label", "DE"]);
        let o = LoadOptions { label_column: Some("DE".into()), ..Default::default() };
        let r = p(&z, &o).unwrap();
        assert_eq!(r.channels, ["FE"]);
        assert_eq!(
            r.skipped.iter().map(|s| s.reason).collect::<Vec<_>>(),
            [SkipReason::LabelColumn, SkipReason::LabelName]
        );
        let z = zip_bytes(&[("anomaly.npy", col(&[0., 1.]))], false);
        let e = p(&z, &LoadOptions::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "n.npz: no numeric feature column (every column was left out: anomaly (a label name); \
             name the columns to use); columns: anomaly"
        );
    }

    #[test]
    fn wide_arrays_labels_and_lengths() {
        let wide = npy_bytes(
            "<f4",
            "(2, 2)",
            &[1f32, 2., 3., 4.].iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>(),
        );
        let z = zip_bytes(
            &[("X.npy", wide), ("y.npy", npy_bytes("|u1", "(2,)", &[0, 1])), ("s.npy", col(&[1.]))],
            true,
        );
        let o = LoadOptions { label_column: Some("y".into()), ..cols(&["X"]) };
        let r = p(&z, &o).unwrap();
        assert_eq!(r.channels, ["X[0]", "X[1]"]);
        assert_eq!(r.values, [1., 2., 3., 4.]);
        assert_eq!(r.labels, Some(vec![false, true]));
        let e = p(&z, &cols(&["X", "s"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "n.npz: array `s` has 1 rows but `X` has 2; channels must have equal lengths"
        );
    }

    #[test]
    fn errors() {
        let z = zip_bytes(&[("DE.npy", col(&[1.])), ("FE.npy", col(&[2.]))], false);
        let e = p(&z, &cols(&["BA"])).unwrap_err();
        assert_eq!(e.to_string(), "n.npz: no array `BA` in the archive; arrays present: DE, FE");
        let z = zip_bytes(&[("DE.npy", col(&[1., 2.])[..130].to_vec())], true);
        let e = p(&z, &LoadOptions::default()).unwrap_err();
        assert!(
            matches!(&e, DataError::Truncated { path, expected: 16, found: 2, .. } if path == Path::new("n.npz:DE.npy")),
            "{e}"
        );
        assert!(matches!(p(b"PK\x03\x04garbage", &LoadOptions::default()), Err(DataError::Zip { .. })));
        assert!(matches!(p(b"", &LoadOptions::default()), Err(DataError::Empty { .. })));
        let z = zip_bytes(&[("readme.txt", b"hi".to_vec())], false);
        assert!(matches!(p(&z, &LoadOptions::default()), Err(DataError::NoColumns { .. })));
        // A corrupted member: flip bytes in the deflated stream.
        let mut z = zip_bytes(&[("DE.npy", col(&[1., 2., 3., 4.]))], true);
        for b in z.iter_mut().skip(40).take(20) {
            *b ^= 0x5A;
        }
        assert!(p(&z, &LoadOptions::default()).is_err());
    }
}
