//! The device's alarm logic: when a smoothed score becomes an alarm.
//!
//! A threshold calibrated on the training rows does not hold on a machine that has moved
//! on since (measured in `docs/evaluation.md`: on SKAB's rig the scores of normal windows
//! right after the training rows sit 2 to 60 calibration spreads above the training ones,
//! and after an event the process settles somewhere else again). So the device learns its
//! own normal, as on-device learning products do, and re-learns when the machine has
//! clearly moved to a new state:
//!
//! 1. **Learning.** The first [`AlarmRule::learn`] scored windows after boot are learnt:
//!    their mean and spread (Welford, f32). No decision is made on them
//!    ([`Decision::Learning`]), except that a window above the *boot guard* — a score far
//!    beyond anything seen in training ([`AlarmRule::guard`]) — is an alarm and is not
//!    learnt, so a device booted on a machine that is already broken does not learn the
//!    fault as normal.
//! 2. **Watching.** A window is an alarm when its score exceeds `mean + margin * sd` of the
//!    learnt scores, where the learnt `sd` is never taken below [`AlarmRule::floor`], the
//!    spread of the calibration scores: a learning period holds few independent
//!    windows (smoothing correlates them), and a spread estimated from them can come out
//!    far too narrow, which flags the next ordinary wobble. `vae-train fit` sets the margin
//!    from the requested false-alarm rate `a`: the calibration's own margin in standard
//!    deviations when it holds enough windows to estimate the quantile, else twice the
//!    Gaussian quantile (5.15 sd at 0.005; see `vae_train::scoring::alarm_rule`).
//!    Learning is frozen while watching, so a slowly growing fault is never learnt.
//! 3. **Re-learning.** An alarm that lasts [`AlarmRule::relearn_after`] consecutive windows
//!    has been raised and held; the machine is then taken to have settled into a new state
//!    and the device learns again (without the boot guard). One event gives one alarm
//!    episode rather than an alarm that never clears.
//! 4. **Return.** A re-learnt threshold above the one learnt after boot is held only while
//!    the machine stays in that louder state: after [`AlarmRule::learn`] windows in a row (as
//!    much evidence as a learning period) at or below the boot-time threshold the machine is
//!    back to its boot-time normal, and that threshold is in force again. Without it, one fault held long enough to be
//!    re-learnt would hide every later fault below its level.
//!
//! A rule with `learn == 0` is the static threshold of the model file (files of format
//! version 1 decide that way). Scores that are not finite (an overflow) are alarms in every
//! phase and never learnt; unscored windows (NaN/Inf samples) change nothing.
//!
//! The same code decides on the host (`vae-train eval`, `score`) and on the device, on the
//! same smoothed scores, so both make the same decisions bit for bit.

use crate::error::Error;
use crate::score::Decision;
use crate::threshold::Threshold;

/// The alarm rule a model file records (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AlarmRule {
    /// Scored windows learnt after boot and after a re-learn before decisions start; 0 for
    /// the static threshold.
    pub learn: u16,
    /// Consecutive alarm windows after which the device learns again; 0 for never.
    pub relearn_after: u16,
    /// Learnt standard deviations above the learnt mean at which a window is an alarm.
    pub margin: f32,
    /// Boot guard: during the learning period after boot, a score above this level is an
    /// alarm and is not learnt (`+inf`: no guard).
    pub guard: f32,
    /// Least standard deviation a learning period may set (score units; 0: none): the
    /// learnt `sd` below it is raised to it.
    pub floor: f32,
}

impl AlarmRule {
    /// The static threshold: no learning, no re-learning.
    pub const STATIC: Self =
        Self { learn: 0, relearn_after: 0, margin: 0.0, guard: f32::INFINITY, floor: 0.0 };

    /// Whether this rule learns on the device.
    pub const fn learns(&self) -> bool {
        self.learn > 0
    }

    /// Checks the fields: a finite margin and floor of at least 0 and a guard that is not
    /// NaN.
    pub fn check(&self) -> Result<(), Error> {
        // `0 <= v < inf` is false for NaN too.
        let fine = |v: f32| (0.0..f32::INFINITY).contains(&v);
        if !fine(self.margin) {
            return Err(Error::InvalidAlarm { field: "margin", found: self.margin });
        }
        if !fine(self.floor) {
            return Err(Error::InvalidAlarm { field: "floor", found: self.floor });
        }
        if self.guard.is_nan() {
            return Err(Error::InvalidAlarm { field: "guard", found: self.guard });
        }
        Ok(())
    }
}

/// Where the alarm logic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Phase {
    /// Learning this machine's normal (`boot`: the first learning period, under the guard).
    Learning {
        /// Whether this is the learning period after boot.
        boot: bool,
    },
    /// Deciding against the learnt (or static) threshold.
    Watching,
}

/// Counts of the alarm logic since boot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AlarmCounters {
    /// Windows that were alarms.
    pub alarms: u64,
    /// Alarm episodes: runs of consecutive alarm windows (an unscored window neither ends
    /// nor extends one).
    pub episodes: u64,
    /// Windows learnt.
    pub learnt: u64,
    /// Learning periods started by a long alarm.
    pub relearns: u32,
    /// Returns to the threshold learnt after boot (see the module docs, step 4).
    pub returns: u32,
}

/// The alarm logic's state: a few words, no buffer.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Alarm {
    rule: AlarmRule,
    phase: Phase,
    /// The threshold in force while watching (the static one until learnt).
    threshold: f32,
    n: u16,
    mean: f32,
    m2: f32,
    /// The threshold learnt after boot, once learnt.
    boot_threshold: Option<f32>,
    /// Consecutive windows at or below the boot-time threshold while a higher re-learnt one
    /// is in force.
    quiet: u16,
    /// Consecutive alarm windows so far.
    run: u16,
    /// Whether the last scored window was an alarm.
    alarming: bool,
    counters: AlarmCounters,
}

impl Alarm {
    /// Alarm logic with `rule`; `threshold` (the model file's calibrated one) decides when
    /// the rule does not learn.
    pub fn new(rule: AlarmRule, threshold: Threshold) -> Result<Self, Error> {
        rule.check()?;
        let phase = if rule.learns() { Phase::Learning { boot: true } } else { Phase::Watching };
        Ok(Self {
            rule,
            phase,
            threshold: threshold.value(),
            n: 0,
            mean: 0.0,
            m2: 0.0,
            boot_threshold: None,
            quiet: 0,
            run: 0,
            alarming: false,
            counters: AlarmCounters::default(),
        })
    }

    /// Back to the state after boot, keeping the rule and the static threshold.
    pub fn reset(&mut self, threshold: Threshold) {
        let rule = self.rule;
        // The rule was checked when `self` was built.
        if let Ok(fresh) = Self::new(rule, threshold) {
            *self = fresh;
        }
    }

    /// Decides one window from its (smoothed) score; `None` for a window not scored.
    // Not inlined: the firmware reaches it from both scoring paths, and flash is scarce.
    #[inline(never)]
    pub fn step(&mut self, score: Option<f32>) -> Decision {
        let Some(s) = score else {
            return Decision::Invalid;
        };
        let decision = match self.phase {
            Phase::Learning { boot } => {
                if !s.is_finite() || (boot && s > self.rule.guard) {
                    Decision::Anomalous
                } else {
                    self.learn(s, boot);
                    Decision::Learning
                }
            }
            // A NaN score (not produced by the scorer) would be an alarm.
            Phase::Watching if s > self.threshold || s.is_nan() => Decision::Anomalous,
            Phase::Watching => {
                self.watch_return(s);
                Decision::Normal
            }
        };
        self.count(decision);
        decision
    }

    /// Step 4: back to the boot-time threshold after enough windows at or below it.
    fn watch_return(&mut self, s: f32) {
        match self.boot_threshold {
            Some(b) if self.threshold > b && s <= b => {
                self.quiet += 1;
                if self.quiet >= self.rule.learn {
                    self.threshold = b;
                    self.quiet = 0;
                    self.counters.returns += 1;
                }
            }
            _ => self.quiet = 0,
        }
    }

    fn learn(&mut self, s: f32, boot: bool) {
        self.n += 1;
        self.counters.learnt += 1;
        let d = s - self.mean;
        self.mean += d / f32::from(self.n);
        self.m2 += d * (s - self.mean);
        if self.n >= self.rule.learn {
            let sd = crate::kernel::sqrt(self.m2 / f32::from(self.n));
            // A compare, not `f32::max` (libm's `fmaxf`, NaN-aware: the floor is finite).
            let sd = if sd < self.rule.floor { self.rule.floor } else { sd };
            self.threshold = self.mean + self.rule.margin * sd;
            self.phase = Phase::Watching;
            self.quiet = 0;
            if boot {
                self.boot_threshold = Some(self.threshold);
            }
        }
    }

    fn count(&mut self, decision: Decision) {
        let alarm = decision == Decision::Anomalous;
        if alarm {
            self.counters.alarms += 1;
            if !self.alarming {
                self.counters.episodes += 1;
            }
            self.run = self.run.saturating_add(1);
            let watching = self.phase == Phase::Watching;
            if watching
                && self.rule.learns()
                && self.rule.relearn_after > 0
                && self.run >= self.rule.relearn_after
            {
                self.phase = Phase::Learning { boot: false };
                self.counters.relearns += 1;
                self.run = 0;
                (self.n, self.mean, self.m2) = (0, 0.0, 0.0);
            }
        } else {
            self.run = 0;
        }
        self.alarming = alarm;
    }

    /// The phase.
    pub const fn phase(&self) -> Phase {
        self.phase
    }

    /// The threshold in force while watching: the learnt one once learnt, else the static.
    pub const fn threshold(&self) -> f32 {
        self.threshold
    }

    /// The rule.
    pub const fn rule(&self) -> &AlarmRule {
        &self.rule
    }

    /// Counts since boot.
    pub const fn counters(&self) -> &AlarmCounters {
        &self.counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(learn: u16, relearn_after: u16) -> AlarmRule {
        AlarmRule { learn, relearn_after, margin: 3.0, guard: 100.0, floor: 0.0 }
    }

    fn run(a: &mut Alarm, scores: &[f32]) -> heapless::Vec<Decision, 64> {
        scores.iter().map(|&s| a.step(Some(s))).collect()
    }

    use Decision::{Anomalous as A, Learning as L, Normal as N};

    #[test]
    fn static_rule_is_the_threshold() {
        let mut a = Alarm::new(AlarmRule::STATIC, Threshold::new(1.0).unwrap()).unwrap();
        assert_eq!(run(&mut a, &[0.5, 1.0, 1.5, f32::INFINITY, 0.0]).as_slice(), &[N, N, A, A, N]);
        assert_eq!(a.counters().episodes, 1);
        assert_eq!(a.counters().alarms, 2);
        assert_eq!(a.step(None), Decision::Invalid);
    }

    /// Learnt mean 2, population sd 1 (scores 1 and 3): threshold 2 + 3 * 1 = 5.
    #[test]
    fn learns_mean_and_spread_then_decides_against_them() {
        let mut a = Alarm::new(rule(2, 0), Threshold::new(0.0).unwrap()).unwrap();
        assert_eq!(run(&mut a, &[1.0, 3.0, 5.0, 5.5, 4.0]).as_slice(), &[L, L, N, A, N]);
        assert_eq!(a.threshold(), 5.0);
        assert_eq!(a.counters().learnt, 2);
    }

    #[test]
    fn boot_guard_alarms_and_does_not_learn_but_a_relearn_has_no_guard() {
        let mut a = Alarm::new(rule(2, 2), Threshold::new(0.0).unwrap()).unwrap();
        // 200 is beyond the guard at boot: an alarm, not learnt.
        assert_eq!(run(&mut a, &[200.0, 1.0, 3.0]).as_slice(), &[A, L, L]);
        assert_eq!(a.threshold(), 5.0);
        // Two alarms in a row re-learn; the guard no longer applies.
        assert_eq!(run(&mut a, &[50.0, 60.0, 200.0, 200.0, 200.0, 210.0]).as_slice(), &[A, A, L, L, N, A]);
        assert_eq!(a.threshold(), 200.0);
        let c = a.counters();
        assert_eq!((c.relearns, c.episodes, c.alarms, c.learnt), (1, 3, 4, 4));
    }

    /// A fault held long enough to be re-learnt must not hide the next one: once the machine
    /// is back below the boot-time threshold for `learn` windows, that one decides.
    #[test]
    fn a_relearnt_fault_gives_way_to_the_boot_threshold_when_the_machine_returns() {
        let mut a = Alarm::new(rule(2, 2), Threshold::new(0.0).unwrap()).unwrap();
        assert_eq!(run(&mut a, &[1.0, 3.0]).as_slice(), &[L, L]);
        assert_eq!(a.threshold(), 5.0);
        // A fault at 100 (sd 0 when learnt): held 2 windows, re-learnt at 100.
        assert_eq!(run(&mut a, &[100.0, 100.0, 100.0, 100.0]).as_slice(), &[A, A, L, L]);
        assert_eq!(a.threshold(), 100.0);
        // Back to normal: two windows at or below 5 restore it; the next fault alarms.
        assert_eq!(run(&mut a, &[2.0, 6.0, 2.0, 3.0, 20.0]).as_slice(), &[N, N, N, N, A]);
        assert_eq!(a.threshold(), 5.0);
        let c = a.counters();
        assert_eq!((c.relearns, c.returns), (1, 1));
    }

    /// A quieter re-learnt state keeps its own, lower threshold.
    #[test]
    fn a_lower_relearnt_threshold_is_kept() {
        let mut a = Alarm::new(rule(2, 2), Threshold::new(0.0).unwrap()).unwrap();
        run(&mut a, &[1.0, 3.0, 9.0, 9.0, 4.0, 4.0]);
        assert_eq!(a.threshold(), 4.0);
        run(&mut a, &[1.0, 1.0, 1.0]);
        assert_eq!((a.threshold(), a.counters().returns), (4.0, 0));
    }

    #[test]
    fn overflow_is_an_alarm_in_every_phase_and_never_learnt() {
        let mut a = Alarm::new(rule(2, 0), Threshold::new(0.0).unwrap()).unwrap();
        assert_eq!(run(&mut a, &[f32::INFINITY, 1.0, 1.0, f32::INFINITY, 1.0]).as_slice(), &[A, L, L, A, N]);
        assert_eq!(a.threshold(), 1.0);
    }

    #[test]
    fn a_nan_margin_or_floor_is_refused() {
        let r = AlarmRule { margin: f32::NAN, ..rule(1, 0) };
        assert!(Alarm::new(r, Threshold::new(0.0).unwrap()).is_err());
        for floor in [f32::NAN, -1.0, f32::INFINITY] {
            let r = AlarmRule { floor, ..rule(1, 0) };
            assert!(Alarm::new(r, Threshold::new(0.0).unwrap()).is_err(), "{floor}");
        }
    }

    /// Learnt mean 2, sd 1 (scores 1 and 3), floor 2: the spread decided on is 2, threshold
    /// 2 + 3 * 2 = 8; a learnt spread above the floor is kept.
    #[test]
    fn the_floor_widens_a_narrow_learnt_spread_only() {
        let mut a = Alarm::new(AlarmRule { floor: 2.0, ..rule(2, 0) }, Threshold::new(0.0).unwrap()).unwrap();
        assert_eq!(run(&mut a, &[1.0, 3.0, 7.5, 8.5]).as_slice(), &[L, L, N, A]);
        assert_eq!(a.threshold(), 8.0);
        let mut a = Alarm::new(AlarmRule { floor: 0.5, ..rule(2, 0) }, Threshold::new(0.0).unwrap()).unwrap();
        run(&mut a, &[1.0, 3.0]);
        assert_eq!(a.threshold(), 5.0);
    }
}
