//! Reference scorers on the same normalised windows as the model: what a score is worth
//! without a model.
//!
//! * [`no_training`]: the mean squared normalised value of the window, i.e. how far the
//!   window is from the training mean in units of the training standard deviation. It needs
//!   nothing but the model's normalisation.
//! * [`Pca`]: the squared reconstruction error of the window by its projection on the top
//!   `k` principal components of the training windows (a linear autoencoder).

/// Mean squared value of a normalised window; NaN when it holds a non-finite value.
pub fn no_training(window: &[f32]) -> f32 {
    if window.is_empty() || window.iter().any(|v| !v.is_finite()) {
        return f32::NAN;
    }
    let s: f64 = window.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
    (s / window.len() as f64) as f32
}

/// Principal components of training windows.
#[derive(Clone, Debug, PartialEq)]
pub struct Pca {
    mean: Vec<f64>,
    /// `k` orthonormal rows of length `width`.
    components: Vec<Vec<f64>>,
    /// Variance along each component, largest first.
    variances: Vec<f64>,
}

impl Pca {
    /// Fits the top `k` components of `data` (`n` windows of `width` values, row-major, all
    /// finite). `None` without windows. Fewer components are kept when the data span fewer
    /// dimensions.
    pub fn fit(data: &[f32], width: usize, k: usize) -> Option<Pca> {
        if width == 0 || data.len() < width {
            return None;
        }
        let n = data.len() / width;
        let rows: Vec<&[f32]> = data.chunks_exact(width).collect();
        let mut mean = vec![0.0f64; width];
        for r in &rows {
            for (m, &v) in mean.iter_mut().zip(r.iter()) {
                *m += f64::from(v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let centred: Vec<Vec<f64>> =
            rows.iter().map(|r| r.iter().zip(&mean).map(|(&v, m)| f64::from(v) - m).collect()).collect();
        // Eigen-decompose the smaller of the covariance (width x width) and the Gram matrix
        // (n x n); both have the same non-zero eigenvalues.
        let (mut components, variances) = if width <= n {
            let mut cov = vec![0.0f64; width * width];
            for r in &centred {
                for i in 0..width {
                    let ri = r[i];
                    if ri == 0.0 {
                        continue;
                    }
                    for j in i..width {
                        cov[i * width + j] += ri * r[j];
                    }
                }
            }
            for i in 0..width {
                for j in i..width {
                    let v = cov[i * width + j] / n as f64;
                    cov[i * width + j] = v;
                    cov[j * width + i] = v;
                }
            }
            let (vals, vecs) = jacobi_eigen(cov, width);
            let order = descending(&vals);
            let comps: Vec<Vec<f64>> =
                order.iter().map(|&c| (0..width).map(|i| vecs[i * width + c]).collect()).collect();
            (comps, order.iter().map(|&c| vals[c]).collect::<Vec<f64>>())
        } else {
            let mut gram = vec![0.0f64; n * n];
            for a in 0..n {
                for b in a..n {
                    let v: f64 = centred[a].iter().zip(&centred[b]).map(|(x, y)| x * y).sum();
                    gram[a * n + b] = v;
                    gram[b * n + a] = v;
                }
            }
            let (vals, vecs) = jacobi_eigen(gram, n);
            let order = descending(&vals);
            let mut comps = Vec::new();
            let mut variances = Vec::new();
            for &c in &order {
                if vals[c] <= 1e-12 * vals[order[0]].max(1e-300) {
                    break;
                }
                // v = D^T u / sqrt(lambda).
                let mut v = vec![0.0f64; width];
                for (a, r) in centred.iter().enumerate() {
                    let u = vecs[a * n + c];
                    for (vi, ri) in v.iter_mut().zip(r) {
                        *vi += u * ri;
                    }
                }
                let norm = vals[c].sqrt();
                v.iter_mut().for_each(|x| *x /= norm);
                comps.push(v);
                variances.push(vals[c] / n as f64);
            }
            (comps, variances)
        };
        let keep = k.min(components.len());
        components.truncate(keep);
        let variances = variances.into_iter().take(keep).collect();
        Some(Pca { mean, components, variances })
    }

    /// Components kept.
    pub fn components(&self) -> usize {
        self.components.len()
    }

    /// Variance along each kept component, largest first.
    pub fn variances(&self) -> &[f64] {
        &self.variances
    }

    /// Squared distance of `window` from its projection on the components; NaN for a window
    /// with non-finite values or of another width.
    pub fn error(&self, window: &[f32]) -> f32 {
        if window.len() != self.mean.len() || window.iter().any(|v| !v.is_finite()) {
            return f32::NAN;
        }
        let d: Vec<f64> = window.iter().zip(&self.mean).map(|(&v, m)| f64::from(v) - m).collect();
        let mut total: f64 = d.iter().map(|x| x * x).sum();
        for c in &self.components {
            let p: f64 = c.iter().zip(&d).map(|(a, b)| a * b).sum();
            total -= p * p;
        }
        total.max(0.0) as f32
    }
}

/// Indices of `vals`, largest first.
fn descending(vals: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..vals.len()).collect();
    order.sort_by(|&a, &b| vals[b].total_cmp(&vals[a]));
    order
}

/// Eigenvalues and eigenvectors (column `c` of the row-major `n x n` result) of the symmetric
/// matrix `a`, by cyclic Jacobi rotations.
fn jacobi_eigen(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0.0f64; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-300);
    for _sweep in 0..60 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        if off.sqrt() <= 1e-13 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() <= 1e-300 {
                    continue;
                }
                let (app, aqq) = (a[p * n + p], a[q * n + q]);
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_training_is_the_mean_square() {
        assert_eq!(no_training(&[1.0, -3.0]), 5.0);
        assert!(no_training(&[1.0, f32::NAN]).is_nan());
    }

    #[test]
    fn jacobi_diagonalises() {
        // [[2, 1], [1, 2]]: eigenvalues 3 and 1.
        let (vals, vecs) = jacobi_eigen(vec![2.0, 1.0, 1.0, 2.0], 2);
        let mut sorted = vals.clone();
        sorted.sort_by(f64::total_cmp);
        assert!((sorted[0] - 1.0).abs() < 1e-12 && (sorted[1] - 3.0).abs() < 1e-12);
        let top = descending(&vals)[0];
        assert!((vecs[top].abs() - 0.5f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn pca_recovers_a_plane_both_ways() {
        // Points on the plane spanned by (1, 1, 0) and (0, 0, 1), plus the mean (5, 5, 5).
        let mut data = Vec::new();
        for i in 0..6 {
            let (a, b) = (i as f32 - 2.5, ((i * 7) % 5) as f32 - 2.0);
            data.extend_from_slice(&[5.0 + a, 5.0 + a, 5.0 + b]);
        }
        // Covariance route (width 3 <= 6 windows) and Gram route (2 windows < width 3).
        for (d, k) in [(&data[..], 2), (&data[..6], 1)] {
            let p = Pca::fit(d, 3, k).unwrap();
            assert_eq!(p.components(), k);
            for w in d.chunks(3) {
                assert!(p.error(w) < 1e-9, "{w:?} {}", p.error(w));
            }
        }
        let p = Pca::fit(&data, 3, 2).unwrap();
        // Off the plane by (1, -1, 0) / sqrt 2 * sqrt 2: squared error 2.
        assert!((p.error(&[6.0, 4.0, 5.0]) - 2.0).abs() < 1e-6);
        assert!(p.error(&[1.0, 2.0]).is_nan());
        assert!(Pca::fit(&[], 3, 2).is_none());
        assert!(p.variances()[0] >= p.variances()[1]);
    }
}
