//! Parsing the firmware's per-window log lines.

/// One window as the device logged it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceWindow {
    /// Window index.
    pub index: u64,
    /// First sample of the window in the stream.
    pub start: u64,
    /// The anomaly score; `None` for invalid (non-finite input) windows, `+inf` for overflow.
    pub score: Option<f32>,
    /// `Normal`, `Anomalous` or `Invalid`.
    pub decision: String,
    /// Channel with the largest share of the error (scored windows).
    pub top: Option<String>,
    /// The smoothed score the decision used, for a model that smooths (scored windows).
    pub smoothed: Option<f32>,
}

/// The summary line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Samples read.
    pub samples: u64,
    /// Windows completed.
    pub windows: u64,
    /// Windows scored.
    pub scored: u64,
    /// Windows above the threshold.
    pub anomalous: u64,
    /// Windows with non-finite input.
    pub invalid: u64,
    /// Non-finite sample values.
    pub non_finite_values: u64,
    /// Alarm episodes (firmware that logs them).
    pub episodes: Option<u64>,
    /// Windows learnt as this machine's normal.
    pub learnt: Option<u64>,
    /// Learning periods started by a held alarm.
    pub relearns: Option<u64>,
    /// Sampling instants the board missed (firmware that counts them).
    pub dropped: Option<u64>,
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace().find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

/// Parses a `window ...` line.
pub fn parse_window(line: &str) -> Option<DeviceWindow> {
    let rest = line.strip_prefix("window ")?;
    let index = rest.split_whitespace().next()?.parse().ok()?;
    let start = field(line, "start")?.parse().ok()?;
    let decision = field(line, "decision")?.to_string();
    let score = if line.contains(" invalid ") {
        None
    } else if line.contains(" overflow ") {
        Some(f32::INFINITY)
    } else {
        Some(field(line, "score")?.parse().ok()?)
    };
    Some(DeviceWindow {
        index,
        start,
        score,
        decision,
        top: field(line, "top").map(str::to_string),
        smoothed: field(line, "smoothed").and_then(|v| v.parse().ok()),
    })
}

/// Parses the `summary ...` line.
pub fn parse_summary(line: &str) -> Option<Summary> {
    line.strip_prefix("summary ")?;
    let n = |k: &str| field(line, k).and_then(|v| v.parse().ok());
    Some(Summary {
        samples: n("samples")?,
        windows: n("windows")?,
        scored: n("scored")?,
        anomalous: n("anomalous")?,
        invalid: n("invalid")?,
        non_finite_values: n("non_finite_values")?,
        episodes: n("episodes"),
        learnt: n("learnt"),
        relearns: n("relearns"),
        dropped: n("dropped"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_line_kind() {
        let w = parse_window("window 3 start=12 score=91.03927 decision=Normal top=ch0").unwrap();
        assert_eq!(
            (w.index, w.start, w.score, w.decision.as_str(), w.top.as_deref()),
            (3, 12, Some(91.03927), "Normal", Some("ch0"))
        );
        let w =
            parse_window("window 3 start=12 score=91.03927 smoothed=80.5 decision=Normal top=ch0").unwrap();
        assert_eq!((w.score, w.smoothed), (Some(91.03927), Some(80.5)));
        let w = parse_window("window 4 start=16 invalid non_finite=1 first=35 decision=Invalid").unwrap();
        assert_eq!((w.score, w.decision.as_str()), (None, "Invalid"));
        let w = parse_window("window 5 start=20 overflow decision=Anomalous").unwrap();
        assert_eq!(w.score, Some(f32::INFINITY));
        let s =
            parse_summary("summary samples=40 windows=9 scored=7 anomalous=0 invalid=2 non_finite_values=1")
                .unwrap();
        assert_eq!((s.windows, s.invalid, s.non_finite_values), (9, 2, 1));
        assert!(parse_window("model x").is_none());
    }
}

/// One window of a `vae-train score --out` CSV.
#[derive(Clone, Debug, PartialEq)]
pub struct HostWindow {
    /// Window index within its file.
    pub index: u64,
    /// First row of the window in its file.
    pub start: u64,
    /// The anomaly score; `None` for invalid windows, `+inf` for overflow.
    pub score: Option<f32>,
    /// `yes`, `no` or `invalid`.
    pub anomalous: String,
    /// The top channel (empty for invalid windows).
    pub top: String,
}

/// Reads the windows of a score CSV written by `vae-train score --out`, with vae-train's own
/// reader of that format.
pub fn read_host_scores(text: &str) -> Result<Vec<HostWindow>, String> {
    let file = vae_train::pipeline::ScoresFile::parse(text.as_bytes(), std::path::Path::new("score CSV"))
        .map_err(|e| e.to_string())?;
    Ok(file
        .rows
        .into_iter()
        .map(|r| HostWindow {
            index: r.window,
            start: r.start_row,
            score: (!r.score.is_nan()).then_some(r.score),
            anomalous: r.flag.as_str().to_string(),
            top: r.top_channel,
        })
        .collect())
}

/// How the device's windows compared with the host's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parity {
    /// Windows compared.
    pub windows: usize,
    /// Largest relative score difference (scores below 1 in absolute difference).
    pub worst: f64,
    /// Windows the host flagged.
    pub flagged: usize,
    /// Windows the device spent learning.
    pub learning: usize,
}

/// Compares the device's log `lines` with the host's `vae-train score` windows `host` for a
/// model whose static threshold is `threshold`: the same windows at the same starts, every
/// score within `1e-5` relative (1e-5 absolute below 1), the same top channel, the same
/// invalid windows, and the same decisions except where a score sits within float noise of
/// the threshold in force (the static one, then each one the device logs it learnt or
/// returned to). `Err` says which window differs first.
pub fn compare(host: &[HostWindow], lines: &[String], threshold: f32) -> Result<Parity, String> {
    let device: Vec<DeviceWindow> = lines.iter().filter_map(|l| parse_window(l)).collect();
    if device.len() != host.len() {
        return Err(format!("{} device windows, {} host windows", device.len(), host.len()));
    }
    let mut in_force = Vec::new();
    let mut t = threshold;
    for l in lines {
        let changed = ["learnt: threshold=", "returned: threshold="].iter().find_map(|p| l.split(p).nth(1));
        if let Some(v) = changed.and_then(|v| v.split_whitespace().next()) {
            t = v.parse().map_err(|_| format!("unreadable threshold in `{l}`"))?;
        } else if parse_window(l).is_some() {
            in_force.push(t);
        }
    }
    let learning = device.iter().filter(|d| d.decision == "Learning").count();
    let host_learning = host.iter().filter(|h| h.anomalous == "learning").count();
    if learning != host_learning {
        return Err(format!("windows learnt: device {learning}, host {host_learning}"));
    }
    let mut p = Parity { windows: device.len(), learning, ..Parity::default() };
    for ((d, h), &threshold) in device.iter().zip(host).zip(&in_force) {
        let at = format!("window {} at row {}", d.index, d.start);
        if d.start != h.start {
            return Err(format!("{at}: the host's window starts at row {}", h.start));
        }
        match (d.score, h.score) {
            (Some(ds), Some(hs)) => {
                let rel = f64::from((ds - hs).abs() / hs.abs().max(1.0));
                p.worst = p.worst.max(rel);
                if rel > 1e-5 {
                    return Err(format!("{at}: device {ds}, host {hs} (rel {rel:e})"));
                }
                let host_decision = match h.anomalous.as_str() {
                    "yes" => "Anomalous",
                    "learning" => "Learning",
                    _ => "Normal",
                };
                let noise = (hs - threshold).abs() / threshold.abs().max(1e-6) <= 1e-5;
                if !noise && d.decision != host_decision {
                    return Err(format!("{at}: device {}, host {host_decision}", d.decision));
                }
                if d.top.as_deref() != Some(h.top.as_str()) {
                    return Err(format!("{at}: top channel device {:?}, host {}", d.top, h.top));
                }
                p.flagged += usize::from(h.anomalous == "yes");
            }
            (None, None) if (d.decision.as_str(), h.anomalous.as_str()) == ("Invalid", "invalid") => {}
            (ds, hs) => {
                return Err(format!("{at}: device {ds:?} {}, host {hs:?} {}", d.decision, h.anomalous))
            }
        }
    }
    Ok(p)
}
