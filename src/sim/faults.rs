//! Device failures during a run: each failing device's outage schedule (fixed windows of its
//! group and its own random episodes, from the stream `device-outages` indexed by device)
//! and what the failures did to requests (docs/model.md, "Device
//! failures"; docs/metrics.md, `device_faults`).

use serde::Serialize;

use crate::outages::Outages;
use crate::rng::RngStreams;
use crate::scenario::Scenario;
use crate::time::SimTime;

/// What failures did to requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounters {
    /// Requests taken off a failing device (each interruption counts).
    pub interrupted: u64,
    /// Requests interrupted at least once that were then served at the edge.
    pub then_edge: u64,
    /// ... served by the cloud.
    pub then_cloud: u64,
    /// ... rejected (lost).
    pub then_rejected: u64,
    /// Attempts on a failed device the gateway still took as up (periodic health checks).
    pub attempts_on_down: u64,
    /// Times a device was left out after `routing.max_fails` failed attempts in a row.
    pub ejections: u64,
}

/// `device_faults` in the summary: present when any device group has outages.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DeviceFaults {
    /// Failures of all devices.
    pub failures: u64,
    /// Device-seconds down in \[0, end_s), all devices together \[s\].
    pub downtime_s: f64,
    /// Mean device availability: 1 − downtime / (devices × end_s).
    pub availability: f64,
    /// Requests taken off a failing device (each interruption counts).
    pub interrupted: u64,
    /// Interrupted requests (counted once) then served at the edge.
    pub interrupted_then_edge: u64,
    /// ... then served by the cloud.
    pub interrupted_then_cloud: u64,
    /// ... then rejected (lost to the failure).
    pub interrupted_then_rejected: u64,
    /// Busy energy the failed devices had spent on the requests they dropped, lost with their
    /// work \[J\]: with `edge_request_energy_j` it makes up the busy energy of the edge.
    pub wasted_energy_j: f64,
    /// With periodic health checks: attempts on a failed device not yet seen down (the
    /// connection is refused, or times out after `routing.connect_timeout_ms`; the request
    /// tries the next candidate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts_on_down: Option<u64>,
    /// With passive health checking (`routing.max_fails`): times a device was left out of
    /// selection for `routing.fail_timeout_ms` after that many failed attempts in a row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ejections: Option<u64>,
}

/// The failing devices' schedules and counters.
pub struct Faults {
    /// Per device: its outages (`None`: it never fails).
    pub outages: Vec<Option<Outages>>,
    /// Scratch: the requests a failing device held.
    pub dropped: Vec<u32>,
    /// Busy energy spent on dropped requests \[J\].
    pub wasted_energy_j: f64,
    /// Per device, with periodic health checks: the consecutive checks so far that found it
    /// in the other state than the gateway holds, and the time of the last check (a change
    /// of state schedules a check, so two can fall at one time: they are one check).
    pub checks: Vec<(u32, Option<SimTime>)>,
    /// Per request (arena slot) waiting out a connect timeout: the failed devices whose
    /// connections timed out in its current routing pass, which the pass does not try again.
    pub timed_out: std::collections::HashMap<u32, Vec<crate::device::DeviceId>>,
    /// Per device: whether the gateway's health checks hold it as down (the gateway also
    /// leaves out devices passive health checking ejected).
    pub seen_down: Vec<bool>,
    /// Per device, with passive health checking: failed attempts in a row so far.
    pub fails: Vec<u32>,
    /// Per device: whether passive health checking leaves it out (until its `Readmit`).
    pub ejected: Vec<bool>,
    /// What happened.
    pub counters: FaultCounters,
}

impl Faults {
    /// The failure schedules of `sc`'s devices; `None` if no group has outages (then nothing
    /// is drawn and no event is added).
    pub fn new(sc: &Scenario, streams: &RngStreams) -> Option<Faults> {
        if !sc.fleet.iter().any(|g| g.outages.any()) {
            return None;
        }
        let mut outages = Vec::with_capacity(sc.device_count());
        for g in &sc.fleet {
            for _ in 0..g.count {
                let d = outages.len() as u64;
                outages.push(
                    g.outages
                        .any()
                        .then(|| Outages::new(&g.outages, streams.indexed("device-outages", d))),
                );
            }
        }
        Some(Faults {
            outages,
            dropped: Vec::new(),
            wasted_energy_j: 0.0,
            checks: vec![(0, None); sc.device_count()],
            timed_out: std::collections::HashMap::new(),
            seen_down: vec![false; sc.device_count()],
            fails: vec![0; sc.device_count()],
            ejected: vec![false; sc.device_count()],
            counters: FaultCounters::default(),
        })
    }

    /// When device `d` is next to be looked at, from `now` (`now` itself if it is down then).
    pub fn first_check(&mut self, d: usize) -> Option<SimTime> {
        let o = self.outages[d].as_mut()?;
        if o.down(SimTime::ZERO) {
            Some(SimTime::ZERO)
        } else {
            o.next_change(SimTime::ZERO)
        }
    }

    /// Whether device `d` is down at `now`, and when it may change next.
    pub fn state(&mut self, d: usize, now: SimTime) -> (bool, Option<SimTime>) {
        match self.outages[d].as_mut() {
            Some(o) => (o.down(now), o.next_change(now)),
            None => (false, None),
        }
    }
}
