//! Monitoring what a device decided: its log (QEMU's or `probe-rs run`'s), read as it
//! streams, becomes a compact live view (score, threshold, alarms) and the same CSV as
//! `vae-train score --out` ([`vae_train::pipeline::ScoreRow`]), which `vae-train
//! eval --scores` evaluates against labels offline.
//!
//! The device logs no per-channel split, so the `nll_<channel>` cells are empty; every
//! other cell is what the device logged.

use crate::device::{parse_summary, parse_window, Summary};
use vae_train::pipeline::{scores_header, Flag, ScoreRow};

/// What the live view shows for one line of the log.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A window: the status line, replaced by the next one.
    Status(String),
    /// Something to keep on screen: an alarm raised or ended, a threshold learnt, the
    /// model's banner, the summary, an error the device logged.
    Note(String),
}

/// The state of a monitored device.
#[derive(Clone, Debug)]
pub struct Monitor {
    file: String,
    channels: Vec<String>,
    smoothed: bool,
    rows: Vec<ScoreRow>,
    threshold: Option<f32>,
    /// The open alarm: its first window and row.
    alarm: Option<(u64, u64)>,
    episodes: u64,
    summary: Option<Summary>,
}

impl Monitor {
    /// A monitor for a device running a model with `channels` that smooths (`smoothed`);
    /// `file` fills the CSV's `file` column (the replayed recording, or a name for a board).
    pub fn new(file: &str, channels: Vec<String>, smoothed: bool) -> Self {
        Self {
            file: file.to_string(),
            channels,
            smoothed,
            rows: Vec::new(),
            threshold: None,
            alarm: None,
            episodes: 0,
            summary: None,
        }
    }

    /// Reads one log line; returns what to show (nothing for lines of no interest).
    pub fn line(&mut self, line: &str) -> Option<Event> {
        let line = line.trim();
        if let Some(w) = parse_window(line) {
            let flag = match w.decision.as_str() {
                "Anomalous" => Flag::Yes,
                "Normal" => Flag::No,
                "Learning" => Flag::Learning,
                "Invalid" => Flag::Invalid,
                _ => Flag::Unknown,
            };
            let score = w.score.unwrap_or(f32::NAN);
            let decided = if self.smoothed { w.smoothed.unwrap_or(score) } else { score };
            self.rows.push(ScoreRow {
                file: self.file.clone(),
                window: w.index,
                start_row: w.start,
                score,
                flag,
                top_channel: w.top.clone().unwrap_or_default(),
                channel_nll: vec![None; self.channels.len()],
                smoothed: self.smoothed.then_some(decided),
            });
            return Some(self.window_event(w.index, w.start, decided, flag, w.top.as_deref()));
        }
        if let Some(s) = parse_summary(line) {
            self.close_alarm();
            self.summary = Some(s.clone());
            return Some(Event::Note(format!(
                "device summary: {} windows, {} anomalous, {} invalid, {} alarm episode(s), {} sample(s) dropped",
                s.windows,
                s.anomalous,
                s.invalid,
                s.episodes.unwrap_or(self.episodes),
                s.dropped.unwrap_or(0)
            )));
        }
        let learnt = ["learnt: threshold=", "returned: threshold=", "threshold="]
            .iter()
            .find_map(|k| line.split(k).nth(1))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f32>().ok());
        if let Some(t) = learnt {
            self.threshold = Some(t);
            return Some(Event::Note(line.to_string()));
        }
        let keep =
            ["model ", "alarm:", "re-learning", "end of stream", "panic", "failed", "refused", "sampling "];
        keep.iter().any(|k| line.starts_with(k) || line.contains(k)).then(|| Event::Note(line.to_string()))
    }

    /// The status line of a window and the alarm changes it makes.
    fn window_event(&mut self, index: u64, start: u64, score: f32, flag: Flag, top: Option<&str>) -> Event {
        let threshold = self.threshold.map_or("-".to_string(), |t| format!("{t:.3}"));
        let state = match flag {
            Flag::Yes => "ALARM",
            Flag::Learning => "learning",
            Flag::Invalid => "invalid",
            _ => "ok",
        };
        match (flag, self.alarm) {
            (Flag::Yes, None) => {
                self.alarm = Some((index, start));
                self.episodes += 1;
                return Event::Note(format!(
                    "alarm {} at window {index} (row {start}): score {score:.3} > threshold {threshold}{}",
                    self.episodes,
                    top.map_or(String::new(), |t| format!(", top channel {t}"))
                ));
            }
            // As on the device, a window that was not scored neither ends an alarm nor
            // extends it.
            (Flag::Yes | Flag::Invalid, Some(_)) => {}
            (_, Some(_)) => {
                if let Some(note) = self.close_alarm() {
                    return Event::Note(note);
                }
            }
            (_, None) => {}
        }
        Event::Status(format!(
            "window {index:>7} row {start:>9}  score {score:>10.3}  threshold {threshold:>9}  {state:<8} alarms {}",
            self.episodes
        ))
    }

    /// Ends the open alarm, if any, with a line saying how long it held.
    fn close_alarm(&mut self) -> Option<String> {
        let (first, row) = self.alarm.take()?;
        let last = self.rows.iter().rev().find(|r| r.flag == Flag::Yes).map_or(first, |r| r.window);
        Some(format!("  alarm {} ended: windows {first}..={last} (from row {row})", self.episodes))
    }

    /// The windows read so far.
    pub fn rows(&self) -> &[ScoreRow] {
        &self.rows
    }

    /// Alarm episodes seen (runs of consecutive alarms).
    pub fn episodes(&self) -> u64 {
        self.episodes
    }

    /// The device's summary line, once it came.
    pub fn summary(&self) -> Option<&Summary> {
        self.summary.as_ref()
    }

    /// The CSV of the windows read, in `vae-train score --out`'s format.
    pub fn csv(&self) -> String {
        let mut s = scores_header(&self.channels, self.smoothed);
        for r in &self.rows {
            s.push_str(&r.to_csv_line(self.smoothed));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_becomes_score_rows_and_alarm_notes() {
        let mut m = Monitor::new("rec.csv", vec!["a".into(), "b".into()], true);
        let log = [
            "model m: X=32 C=2 W=16 hop=4 macs=100 score=Deterministic K=1 threshold=5.0",
            "window 0 start=0 score=1.5 smoothed=1.5 decision=Normal top=a",
            "window 1 start=4 score=9.25 smoothed=6.0 decision=Anomalous top=b",
            "window 2 start=8 score=8 smoothed=7 decision=Anomalous top=b",
            "window 3 start=12 invalid non_finite=1 first=3 decision=Invalid",
            "summary samples=28 windows=4 scored=3 anomalous=2 invalid=1 non_finite_values=1 episodes=1 learnt=0 relearns=0 returns=0 dropped=0",
        ];
        let events: Vec<Option<Event>> = log.iter().map(|l| m.line(l)).collect();
        assert!(matches!(&events[0], Some(Event::Note(n)) if n.starts_with("model m")));
        assert!(matches!(&events[1], Some(Event::Status(s)) if s.contains("ok")));
        assert!(
            matches!(&events[2], Some(Event::Note(n)) if n.contains("alarm 1 at window 1 (row 4): score 6.000 > threshold 5.000, top channel b")),
            "{:?}",
            events[2]
        );
        assert!(matches!(&events[3], Some(Event::Status(s)) if s.contains("ALARM")));
        // An unscored window does not end the alarm (as on the device); the summary does.
        assert!(matches!(&events[4], Some(Event::Status(st)) if st.contains("invalid")), "{:?}", events[4]);
        assert!(matches!(&events[5], Some(Event::Note(n)) if n.contains("1 alarm episode(s)")));
        assert_eq!(
            m.csv(),
            "file,window,start_row,score,anomalous,top_channel,nll_a,nll_b,smoothed_score\n\
             rec.csv,0,0,1.5,no,a,,,1.5\n\
             rec.csv,1,4,9.25,yes,b,,,6\n\
             rec.csv,2,8,8,yes,b,,,7\n\
             rec.csv,3,12,nan,invalid,,,,nan\n"
        );
        assert_eq!((m.episodes(), m.summary().map(|s| s.windows)), (1, Some(4)));
        // An unscored window inside an alarm does not split it.
        let mut m = Monitor::new("r.csv", vec!["a".into()], false);
        for l in [
            "window 0 start=0 score=9 decision=Anomalous top=a",
            "window 1 start=4 invalid non_finite=1 first=0 decision=Invalid",
            "window 2 start=8 score=9 decision=Anomalous top=a",
        ] {
            m.line(l);
        }
        assert_eq!(m.episodes(), 1);
    }
}
