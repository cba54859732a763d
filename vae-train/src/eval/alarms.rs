//! What a maintenance engineer feels of a detector: its alarms at one threshold, counted the
//! way they are lived with rather than ranked.
//!
//! * *False-alarm rate*: the share of labelled-normal windows flagged.
//! * *Alarm episodes*: maximal runs of consecutive flagged windows among labelled-normal
//!   windows of one recording (a run ends at a window not flagged, at an anomalous window and
//!   at the end of its recording), per 1,000 normal windows, and per day of normal data when
//!   the recordings have timestamps. A day of normal data is counted as the normal windows
//!   times the hop times the recording's median sampling step: each window moves the stream
//!   on by `hop` rows.
//! * *Events*: maximal runs of consecutive windows labelled anomalous within one recording.
//!   A window is anomalous when any of its rows is, so with row labels an event is a
//!   contiguous labelled stretch (two stretches closer than a window merge into one event);
//!   NAB's label windows are row labels by then ([`super::LabelWindows::label`]), so one label
//!   window is one event. *Event recall* is the share of events with at least one window
//!   flagged.
//! * *Detection delay*: from the event's onset, its first labelled row, to the alarm, the
//!   last row of its first flagged window (the device decides once the window's last sample
//!   is in), in rows and, with timestamps, in seconds; median and maximum over the events
//!   caught. The earliest window holding the onset ends at it, so a delay of 0 is possible.
//!
//! Windows without a score (NaN/Inf samples) are neither alarms nor normal: they count in no
//! rate and neither extend nor end an episode; inside an event they neither catch it nor
//! split it, and an event with no scored window is left out.

use crate::data::Recording;
use serde::Serialize;

/// One window as the alarm figures see it, recordings in order and each recording's windows
/// in stream order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlarmWindow {
    /// Index of its recording.
    pub recording: usize,
    /// First row within the recording.
    pub start: usize,
    /// Whether any of its rows is labelled anomalous.
    pub label: bool,
    /// Flagged (`Some(true)`), not flagged (`Some(false)`), or not scored (`None`).
    pub alarm: Option<bool>,
}

/// What the figures need of one recording's rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordingRows {
    /// Per-row labels (an event's onset is its first labelled row).
    pub labels: Vec<bool>,
    /// Per-row time in seconds, when the recording has timestamps and every one parses.
    pub seconds: Option<Vec<f64>>,
}

impl RecordingRows {
    /// The labels and parsed timestamps of `r` (no labels: every row normal).
    pub fn of(r: &Recording) -> Self {
        let seconds = r.timestamps.as_ref().and_then(|ts| {
            ts.iter().map(|t| super::Stamp::parse(t).map(|s| s.seconds())).collect::<Option<Vec<f64>>>()
        });
        Self { labels: r.labels.clone().unwrap_or_else(|| vec![false; r.rows()]), seconds }
    }

    /// The median step between rows in seconds (`None` without timestamps or with fewer
    /// than two rows).
    pub fn step_seconds(&self) -> Option<f64> {
        let s = self.seconds.as_ref()?;
        let mut steps: Vec<f64> = s.windows(2).map(|p| p[1] - p[0]).collect();
        median(&mut steps)
    }
}

/// How the windows were cut, and the recordings they were cut from.
#[derive(Clone, Copy, Debug)]
pub struct Layout<'a> {
    /// Rows per window.
    pub window: usize,
    /// Rows between window starts.
    pub hop: usize,
    /// The recordings, indexed by [`AlarmWindow::recording`].
    pub recordings: &'a [RecordingRows],
}

/// The alarm figures of one scorer at one threshold. Undefined figures are `None` (JSON
/// `null`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct AlarmFigures {
    /// The threshold the windows were flagged at (flagged when the score is above it).
    pub threshold: f32,
    /// Labelled-normal windows with a score.
    pub normal_windows: usize,
    /// Of them flagged.
    pub false_alarms: usize,
    /// `false_alarms / normal_windows` (`None` without a normal window).
    pub false_alarm_rate: Option<f64>,
    /// Runs of consecutive flagged normal windows.
    pub episodes: usize,
    /// Episodes per 1,000 normal windows (`None` without a normal window).
    pub episodes_per_1000: Option<f64>,
    /// Days of normal data: normal windows times hop times the median sampling step (`None`
    /// when a recording with normal windows has no timestamps).
    pub normal_days: Option<f64>,
    /// Episodes per day of normal data.
    pub episodes_per_day: Option<f64>,
    /// Anomaly events (runs of anomalous windows with at least one score).
    pub events: usize,
    /// Of them with at least one window flagged.
    pub events_detected: usize,
    /// `events_detected / events` (`None` without an event).
    pub event_recall: Option<f64>,
    /// Median rows from an event's onset to its alarm, over the events caught.
    pub median_delay_rows: Option<f64>,
    /// The longest of those delays.
    pub max_delay_rows: Option<usize>,
    /// Median delay in seconds (`None` unless every event caught has timestamps).
    pub median_delay_seconds: Option<f64>,
    /// Longest delay in seconds.
    pub max_delay_seconds: Option<f64>,
}

/// An event while it is being collected.
struct Event {
    recording: usize,
    first_start: usize,
    first_alarm: Option<usize>,
    scored: bool,
}

impl AlarmFigures {
    /// The figures of `windows` flagged at `threshold` (recorded as is), cut as `layout`
    /// says.
    pub fn of(windows: &[AlarmWindow], threshold: f32, layout: &Layout<'_>) -> Self {
        let (normal_windows, false_alarms, episodes) = false_alarms(windows);
        let per_normal =
            |x: usize, scale: f64| (normal_windows > 0).then(|| scale * x as f64 / normal_windows as f64);
        let normal_days = normal_days(windows, layout);
        let events = events(windows);
        let detected: Vec<&Event> = events.iter().filter(|e| e.first_alarm.is_some()).collect();
        let delays: Vec<(usize, Option<f64>)> = detected.iter().map(|e| delay(e, layout)).collect();
        let mut rows: Vec<f64> = delays.iter().map(|d| d.0 as f64).collect();
        let mut seconds: Option<Vec<f64>> = delays.iter().map(|d| d.1).collect();
        let max_seconds = seconds.as_ref().and_then(|s| s.iter().copied().reduce(f64::max));
        Self {
            threshold,
            normal_windows,
            false_alarms,
            false_alarm_rate: per_normal(false_alarms, 1.0),
            episodes,
            episodes_per_1000: per_normal(episodes, 1000.0),
            normal_days,
            episodes_per_day: normal_days.filter(|&d| d > 0.0).map(|d| episodes as f64 / d),
            events: events.len(),
            events_detected: detected.len(),
            event_recall: (!events.is_empty()).then(|| detected.len() as f64 / events.len() as f64),
            median_delay_rows: median(&mut rows),
            max_delay_rows: delays.iter().map(|d| d.0).max(),
            median_delay_seconds: seconds.as_mut().and_then(|s| median(s)),
            max_delay_seconds: max_seconds,
        }
    }
}

impl AlarmFigures {
    /// One line: `false alarms 1.20% of 800 normal windows (requested 0.50%), 3.1 alarm
    /// episodes per 1,000 normal windows (2.40 per day); 18 of 20 anomaly events caught
    /// (recall 0.90), delay median 12 rows (2.0 min), max 40 rows (6.7 min)`.
    pub fn describe(&self, requested: Option<f64>) -> String {
        let mut s = match self.false_alarm_rate {
            Some(rate) => format!(
                "false alarms {} of {} normal windows{}, {:.1} alarm episodes per 1,000 normal windows{}",
                percent(rate),
                self.normal_windows,
                requested.map_or(String::new(), |r| format!(" (requested {})", percent(r))),
                self.episodes_per_1000.unwrap_or(0.0),
                self.episodes_per_day.map_or(String::new(), |d| format!(" ({d:.2} per day)"))
            ),
            None => "no normal window".to_string(),
        };
        match self.event_recall {
            Some(recall) => s.push_str(&format!(
                "; {} of {} anomaly events caught (recall {recall:.2})",
                self.events_detected, self.events
            )),
            None => s.push_str("; no anomaly event"),
        }
        if let (Some(median), Some(max)) = (self.median_delay_rows, self.max_delay_rows) {
            let secs = |v: Option<f64>| v.map_or(String::new(), |v| format!(" ({})", duration(v)));
            s.push_str(&format!(
                ", delay median {} rows{}, max {max} rows{}",
                rows(median),
                secs(self.median_delay_seconds),
                secs(self.max_delay_seconds)
            ));
        }
        s
    }
}

/// A share as a percentage with two decimals.
pub fn percent(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// A number of rows: whole, or with one decimal (a median of two).
fn rows(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// Seconds in the unit that reads best: `0.25 s`, `45 s`, `2.5 min`, `3.0 h`, `2.1 d`.
pub fn duration(seconds: f64) -> String {
    if seconds >= 2.0 * 86_400.0 {
        format!("{:.1} d", seconds / 86_400.0)
    } else if seconds >= 2.0 * 3_600.0 {
        format!("{:.1} h", seconds / 3_600.0)
    } else if seconds >= 120.0 {
        format!("{:.1} min", seconds / 60.0)
    } else if seconds >= 10.0 || seconds.fract() == 0.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{seconds:.2} s")
    }
}

/// Labelled-normal scored windows, those of them flagged, and the runs of flagged ones.
fn false_alarms(windows: &[AlarmWindow]) -> (usize, usize, usize) {
    let (mut normal, mut flagged, mut episodes) = (0, 0, 0);
    let mut in_episode = false;
    let mut recording = None;
    for w in windows {
        if recording != Some(w.recording) {
            recording = Some(w.recording);
            in_episode = false;
        }
        match (w.label, w.alarm) {
            (true, _) => in_episode = false,
            (false, None) => {}
            (false, Some(alarm)) => {
                normal += 1;
                if alarm {
                    flagged += 1;
                    if !in_episode {
                        episodes += 1;
                    }
                }
                in_episode = alarm;
            }
        }
    }
    (normal, flagged, episodes)
}

/// Days of normal data: per recording, its scored normal windows times the hop times its
/// median step; `None` when a recording with normal windows has no step.
fn normal_days(windows: &[AlarmWindow], layout: &Layout<'_>) -> Option<f64> {
    let mut per_recording: Vec<usize> = Vec::new();
    for w in windows.iter().filter(|w| !w.label && w.alarm.is_some()) {
        if per_recording.len() <= w.recording {
            per_recording.resize(w.recording + 1, 0);
        }
        per_recording[w.recording] += 1;
    }
    let mut seconds = 0.0;
    for (r, &n) in per_recording.iter().enumerate().filter(|(_, &n)| n > 0) {
        let step = layout.recordings.get(r)?.step_seconds()?;
        seconds += n as f64 * layout.hop as f64 * step;
    }
    (per_recording.iter().any(|&n| n > 0)).then_some(seconds / super::period::DAY_SECONDS)
}

/// The events of `windows` with at least one scored window, in order.
fn events(windows: &[AlarmWindow]) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::new();
    let mut open = false;
    let mut recording = None;
    for w in windows {
        if recording != Some(w.recording) {
            recording = Some(w.recording);
            open = false;
        }
        if !w.label {
            open = false;
            continue;
        }
        if !open {
            out.push(Event {
                recording: w.recording,
                first_start: w.start,
                first_alarm: None,
                scored: false,
            });
            open = true;
        }
        if let Some(e) = out.last_mut() {
            e.scored |= w.alarm.is_some();
            if w.alarm == Some(true) && e.first_alarm.is_none() {
                e.first_alarm = Some(w.start);
            }
        }
    }
    out.retain(|e| e.scored);
    out
}

/// Rows (and seconds, with timestamps) from a caught event's onset to its alarm.
fn delay(e: &Event, layout: &Layout<'_>) -> (usize, Option<f64>) {
    let rows = layout.recordings.get(e.recording);
    let labels = rows.map_or(&[][..], |r| &r.labels[..]);
    let end = e.first_start.saturating_add(layout.window).min(labels.len());
    let onset = labels
        .get(e.first_start..end)
        .and_then(|l| l.iter().position(|&x| x))
        .map_or(e.first_start, |p| e.first_start + p);
    let alarm = e.first_alarm.unwrap_or(e.first_start).saturating_add(layout.window.saturating_sub(1));
    let seconds = rows
        .and_then(|r| r.seconds.as_ref())
        .and_then(|s| Some(s.get(alarm)? - s.get(onset)?))
        .map(|d| d.max(0.0));
    (alarm.saturating_sub(onset), seconds)
}

/// The median (mean of the middle two for an even count); `None` when empty. Sorts `v`.
fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Windows of recording `r` from a pattern: `n`/`a` normal/anomalous, then `F` flagged,
    /// `.` not flagged, `x` not scored; starts 0, hop, 2 hop, ...
    fn seq(r: usize, hop: usize, pattern: &[&str]) -> Vec<AlarmWindow> {
        pattern
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let b = p.as_bytes();
                AlarmWindow {
                    recording: r,
                    start: i * hop,
                    label: b[0] == b'a',
                    alarm: match b[1] {
                        b'F' => Some(true),
                        b'.' => Some(false),
                        _ => None,
                    },
                }
            })
            .collect()
    }

    fn rows(n: usize, labelled: &[std::ops::RangeInclusive<usize>], step: Option<f64>) -> RecordingRows {
        RecordingRows {
            labels: (0..n).map(|i| labelled.iter().any(|r| r.contains(&i))).collect(),
            seconds: step.map(|s| (0..n).map(|i| 1000.0 + s * i as f64).collect()),
        }
    }

    #[test]
    fn false_alarms_and_episodes_by_hand() {
        // Recording 0: an episode of 2, a quiet window, an episode over an unscored window,
        // broken by an anomalous window, a third after it; recording 1 starts a fourth.
        let mut w = seq(0, 1, &["nF", "nF", "n.", "nF", "nx", "nF", "aF", "nF"]);
        w.extend(seq(1, 1, &["nF", "n."]));
        let recs = [rows(12, &[], None), rows(12, &[], None)];
        let f = AlarmFigures::of(&w, 1.5, &Layout { window: 1, hop: 1, recordings: &recs });
        assert_eq!((f.normal_windows, f.false_alarms, f.episodes), (8, 6, 4));
        assert_eq!(f.false_alarm_rate, Some(0.75));
        assert_eq!(f.episodes_per_1000, Some(500.0));
        assert_eq!((f.normal_days, f.episodes_per_day), (None, None), "no timestamps");
        assert_eq!(f.threshold, 1.5);
        // The anomalous window is an event of one window, caught.
        assert_eq!((f.events, f.events_detected, f.event_recall), (1, 1, Some(1.0)));
    }

    #[test]
    fn episodes_per_day_count_hop_rows_of_the_median_step() {
        // 6 normal windows at hop 2 of 10-second rows: 120 s of normal data, 2 episodes.
        let w = seq(0, 2, &["nF", "n.", "nF", "nF", "n.", "n."]);
        let recs = [rows(14, &[], Some(10.0))];
        let f = AlarmFigures::of(&w, 0.0, &Layout { window: 4, hop: 2, recordings: &recs });
        assert_eq!(f.episodes, 2);
        let days = 120.0 / 86_400.0;
        assert!((f.normal_days.unwrap() - days).abs() < 1e-15);
        assert!((f.episodes_per_day.unwrap() - 2.0 / days).abs() < 1e-6);
        assert_eq!((f.events, f.event_recall, f.median_delay_rows), (0, None, None));
        // Without any normal window nothing is a rate.
        let f = AlarmFigures::of(&seq(0, 2, &["aF"]), 0.0, &Layout { window: 4, hop: 2, recordings: &recs });
        assert_eq!((f.false_alarm_rate, f.episodes_per_1000, f.normal_days), (None, None, None));
    }

    #[test]
    fn events_recall_and_delays_by_hand() {
        // W = 4, hop 2. Recording 0: 20 rows, rows 7..=12 labelled; windows start at 0, 2,
        // ..., 16 and those at 4..=12 hold a labelled row: one event, onset row 7. Its first
        // flagged window starts at 8: the alarm comes at row 11, 4 rows (40 s) after.
        let w0 = seq(0, 2, &["n.", "n.", "a.", "a.", "aF", "a.", "aF", "n.", "n."]);
        // Recording 1: 12 rows, rows 0..=1 and 9..=11 labelled: windows at 0 and at 6, 8
        // are two events. The first is missed; the second is caught by the window at 6, which
        // ends at the onset, row 9: delay 0. No timestamps.
        let w1 = seq(1, 2, &["a.", "n.", "n.", "aF", "a."]);
        // Recording 2: an event of unscored windows only is left out.
        let w2 = seq(2, 2, &["n.", "ax", "ax", "n."]);
        let windows: Vec<AlarmWindow> = [w0, w1, w2].concat();
        let recs =
            [rows(20, &[7..=12], Some(10.0)), rows(12, &[0..=1, 9..=11], None), rows(10, &[4..=5], None)];
        let layout = Layout { window: 4, hop: 2, recordings: &recs };
        let f = AlarmFigures::of(&windows, 0.0, &layout);
        assert_eq!((f.events, f.events_detected), (3, 2));
        assert!((f.event_recall.unwrap() - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!((f.median_delay_rows, f.max_delay_rows), (Some(2.0), Some(4)));
        assert_eq!((f.median_delay_seconds, f.max_delay_seconds), (None, None), "recording 1 has no time");
        // Recording 0 alone: the delay in seconds too.
        let f = AlarmFigures::of(&windows[..9], 0.0, &layout);
        assert_eq!((f.events, f.events_detected, f.median_delay_rows), (1, 1, Some(4.0)));
        assert_eq!((f.median_delay_seconds, f.max_delay_seconds), (Some(40.0), Some(40.0)));
        // The normal windows there: 4, none flagged.
        assert_eq!((f.normal_windows, f.false_alarms, f.episodes, f.false_alarm_rate), (4, 0, 0, Some(0.0)));
    }

    #[test]
    fn an_onset_inside_the_first_window_of_a_recording() {
        // Rows 5.. labelled from the start: the first window (rows 0..=7) holds the onset at
        // row 5, and the device cannot decide before row 7: flagged at once, delay 2 rows.
        let w = seq(0, 4, &["aF", "a."]);
        let recs = [rows(12, &[5..=11], Some(0.5))];
        let f = AlarmFigures::of(&w, 0.0, &Layout { window: 8, hop: 4, recordings: &recs });
        assert_eq!((f.events_detected, f.max_delay_rows, f.max_delay_seconds), (1, Some(2), Some(1.0)));
    }

    #[test]
    fn one_line_descriptions() {
        let w = seq(0, 2, &["nF", "n.", "n.", "n.", "aF", "a."]);
        let recs = [rows(16, &[10..=11], Some(60.0))];
        let f = AlarmFigures::of(&w, 0.0, &Layout { window: 4, hop: 2, recordings: &recs });
        // Onset row 10, alarm at the end of the window at 8: row 11, one minute later.
        assert_eq!(
            f.describe(Some(0.005)),
            "false alarms 25.00% of 4 normal windows (requested 0.50%), 250.0 alarm episodes per 1,000 \
             normal windows (180.00 per day); 1 of 1 anomaly events caught (recall 1.00), delay median 1 \
             rows (60 s), max 1 rows (60 s)"
        );
        let f = AlarmFigures::of(&seq(0, 1, &["a."]), 0.0, &Layout { window: 1, hop: 1, recordings: &[] });
        assert_eq!(f.describe(None), "no normal window; 0 of 1 anomaly events caught (recall 0.00)");
        assert_eq!([duration(0.25), duration(3.0), duration(45.0)], ["0.25 s", "3 s", "45 s"]);
        assert_eq!(duration(150.0), "2.5 min");
        assert_eq!([duration(9000.0), duration(259_200.0)], ["2.5 h", "3.0 d"]);
    }

    #[test]
    fn medians_and_recording_rows() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        let mut r = Recording::new("a.csv", vec!["v".into()], vec![0.0; 3]);
        assert_eq!(RecordingRows::of(&r), RecordingRows { labels: vec![false; 3], seconds: None });
        r.timestamps = Some(vec!["2020-01-01 00:00:00".into(), "2020-01-01 00:05:00".into(), "x".into()]);
        assert_eq!(RecordingRows::of(&r).seconds, None, "a timestamp that does not parse");
        r.timestamps = Some(
            ["2020-01-01 00:00:00", "2020-01-01 00:05:00", "2020-01-01 00:15:00"].map(String::from).to_vec(),
        );
        r.labels = Some(vec![false, true, false]);
        let rows = RecordingRows::of(&r);
        assert_eq!(rows.labels, vec![false, true, false]);
        assert_eq!(rows.step_seconds(), Some(450.0));
    }
}
