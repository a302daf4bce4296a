//! `[routing]`: what the gateway does when a candidate device cannot take a request.

use serde::{Deserialize, Serialize};

use crate::check::Checker;
use crate::error::Result;
use crate::time::{SimDuration, SimTime};

fn default_one() -> u32 {
    1
}
fn is_one(v: &u32) -> bool {
    *v == 1
}

/// The most consecutive health checks a threshold may ask for.
pub const MAX_HEALTH_THRESHOLD: u32 = 100;

/// The longest connect timeout \[ms\]: an hour. Gateways give up within seconds to minutes
/// (nginx: 60 s); a longer wait only stretches the run's drain, through which every failing
/// board's episodes are still simulated (1e15 ms ran for hours).
pub const MAX_CONNECT_TIMEOUT_MS: f64 = 3.6e6;

/// The most consecutive failed attempts `routing.max_fails` may ask for.
pub const MAX_FAILS: u32 = 100;

/// The longest `routing.max_predicted_wait_ms` \[ms\]: a day.
pub const MAX_PREDICTED_WAIT_MS: f64 = 8.64e7;

/// Checks a bound on a board's predicted queue wait (`routing.max_predicted_wait_ms`, a
/// class's) at `key`: a time in \[0, a day\] \[ms\].
pub fn check_predicted_wait_ms(cx: &Checker, key: &str, v: f64) -> Result<f64> {
    let ms = cx.time_ms(key, v)?;
    if ms > MAX_PREDICTED_WAIT_MS {
        return Err(cx.bad(
            key,
            crate::check::num(ms),
            format!(
                "must lie in [0, {MAX_PREDICTED_WAIT_MS:e}] ms (a day): the longest queue wait \
                 the gateway lets a device take a request with (0: only a device with a free \
                 slot)"
            ),
        ));
    }
    Ok(ms)
}

/// Default `routing.fail_timeout_ms`: nginx's `fail_timeout` (10 s).
pub const DEFAULT_FAIL_TIMEOUT_MS: f64 = 10_000.0;

/// The longest `routing.fail_timeout_ms` \[ms\]: an hour.
pub const MAX_FAIL_TIMEOUT_MS: f64 = 3.6e6;

fn default_fail_timeout_ms() -> f64 {
    DEFAULT_FAIL_TIMEOUT_MS
}
fn is_default_fail_timeout_ms(v: &f64) -> bool {
    *v == DEFAULT_FAIL_TIMEOUT_MS
}

/// `[routing]` as written.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoutingFile {
    /// Edge candidates tried per request before the cloud (1 = no retry).
    #[serde(default = "default_one")]
    pub max_attempts: u32,
    /// Network round trip between gateway and edge devices \[ms\].
    #[serde(default)]
    pub edge_rtt_ms: f64,
    /// What happens to the requests a failing device held.
    #[serde(default, skip_serializing_if = "OnDeviceFailure::is_reroute")]
    pub on_device_failure: OnDeviceFailure,
    /// Period of the gateway's health checks \[ms\] (0: it knows of a failure or a repair at
    /// once).
    #[serde(default, skip_serializing_if = "crate::check::is_default")]
    pub health_check_interval_ms: f64,
    /// Consecutive health checks that must find a device down before the gateway takes it
    /// as down (Envoy's `unhealthy_threshold`, Kubernetes' `failureThreshold`).
    #[serde(default = "default_one", skip_serializing_if = "is_one")]
    pub unhealthy_threshold: u32,
    /// Consecutive health checks that must find a device up again before the gateway offers
    /// it again (`healthy_threshold`, `successThreshold`).
    #[serde(default = "default_one", skip_serializing_if = "is_one")]
    pub healthy_threshold: u32,
    /// Time an attempt on a failed device the gateway still holds as up costs before the
    /// gateway gives up on it \[ms\] (0: the connection is refused at once).
    #[serde(default, skip_serializing_if = "crate::check::is_default")]
    pub connect_timeout_ms: f64,
    /// Passive health checking (nginx's `max_fails`): this many consecutive failed attempts
    /// on a device (refused, or timed out) take it out of selection for `fail_timeout_ms`
    /// (0: off; the gateway learns of failures from its health checks only).
    #[serde(default, skip_serializing_if = "crate::check::is_default")]
    pub max_fails: u32,
    /// How long a device that failed `max_fails` attempts in a row is left out \[ms\]
    /// (nginx's `fail_timeout`, 10 s).
    #[serde(
        default = "default_fail_timeout_ms",
        skip_serializing_if = "is_default_fail_timeout_ms"
    )]
    pub fail_timeout_ms: f64,
    /// The longest a request waits in an edge device's queue for a slot \[ms\] (HAProxy's
    /// `timeout queue`); then it leaves the queue as `on_queue_timeout` says (0: no limit).
    #[serde(default, skip_serializing_if = "crate::check::is_default")]
    pub queue_timeout_ms: f64,
    /// What happens to a request whose queue wait reached `queue_timeout_ms`.
    #[serde(default, skip_serializing_if = "OnQueueTimeout::is_cloud")]
    pub on_queue_timeout: OnQueueTimeout,
    /// Predictive admission: a candidate device whose predicted queue wait for the request
    /// exceeds this is skipped, as if full \[ms\] (the next candidate, then the cloud); none:
    /// off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_predicted_wait_ms: Option<f64>,
}

/// `routing.on_queue_timeout`: what happens to a request that waited `queue_timeout_ms` in an
/// edge device's queue without getting a slot.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnQueueTimeout {
    /// Sent to the cloud (rejected if the cloud is disabled or refuses): the edge-first
    /// fallback.
    #[default]
    Cloud,
    /// Lost: it ends as rejected (HAProxy answers 503).
    Reject,
}

impl OnQueueTimeout {
    /// Whether this is the default, `cloud`.
    pub fn is_cloud(&self) -> bool {
        *self == OnQueueTimeout::Cloud
    }

    /// The name as written.
    pub fn name(&self) -> &'static str {
        match self {
            OnQueueTimeout::Cloud => "cloud",
            OnQueueTimeout::Reject => "reject",
        }
    }
}

/// `routing.on_device_failure`: what happens to the requests (in service or queued) on a
/// device when it fails.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnDeviceFailure {
    /// Routed again from the start: other devices as the policy picks them, then the cloud.
    #[default]
    Reroute,
    /// Straight to the cloud (rejected if the cloud is disabled or refuses).
    Cloud,
    /// Lost: they end as rejected.
    Reject,
}

impl OnDeviceFailure {
    /// Whether this is the default, `reroute`.
    pub fn is_reroute(&self) -> bool {
        *self == OnDeviceFailure::Reroute
    }
}

impl Default for RoutingFile {
    fn default() -> Self {
        RoutingSpec::default().to_file()
    }
}

/// Validated routing settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoutingSpec {
    /// Edge candidates tried per request (>= 1).
    pub max_attempts: u32,
    /// Gateway-to-edge round trip \[ms\].
    pub edge_rtt_ms: f64,
    /// What happens to the requests of a failing device.
    pub on_device_failure: OnDeviceFailure,
    /// Health-check period \[ms\] (0: failures and repairs are seen at once).
    pub health_check_interval_ms: f64,
    /// Consecutive checks finding a device down before it is taken as down (>= 1).
    pub unhealthy_threshold: u32,
    /// Consecutive checks finding a device up before it is offered again (>= 1).
    pub healthy_threshold: u32,
    /// Time lost on an attempt on a failed device not yet seen as down \[ms\] (0: none).
    pub connect_timeout_ms: f64,
    /// Consecutive failed attempts that take a device out of selection (0: off).
    pub max_fails: u32,
    /// How long such a device is left out \[ms\].
    pub fail_timeout_ms: f64,
    /// The longest queue wait at an edge device \[ms\] (0: no limit).
    pub queue_timeout_ms: f64,
    /// What happens to a request whose queue wait reached it.
    pub on_queue_timeout: OnQueueTimeout,
    /// Predictive admission's longest predicted wait \[ms\] (`None`: off).
    pub max_predicted_wait_ms: Option<f64>,
}

impl Default for RoutingSpec {
    fn default() -> Self {
        RoutingSpec {
            max_attempts: 1,
            edge_rtt_ms: 0.0,
            on_device_failure: OnDeviceFailure::Reroute,
            health_check_interval_ms: 0.0,
            unhealthy_threshold: 1,
            healthy_threshold: 1,
            connect_timeout_ms: 0.0,
            max_fails: 0,
            fail_timeout_ms: DEFAULT_FAIL_TIMEOUT_MS,
            queue_timeout_ms: 0.0,
            on_queue_timeout: OnQueueTimeout::Cloud,
            max_predicted_wait_ms: None,
        }
    }
}

impl RoutingSpec {
    /// Validates `[routing]`.
    pub fn from_file(cx: &Checker, f: &RoutingFile) -> Result<RoutingSpec> {
        if f.max_attempts == 0 {
            return Err(cx.bad(
                "routing.max_attempts",
                0,
                "must be >= 1 (1 = no retry on another device)",
            ));
        }
        let health_check_interval_ms = cx.interval_ms(
            "routing.health_check_interval_ms",
            f.health_check_interval_ms,
            "failures and repairs known at once",
        )?;
        for (key, k) in [
            ("routing.unhealthy_threshold", f.unhealthy_threshold),
            ("routing.healthy_threshold", f.healthy_threshold),
        ] {
            if !(1..=MAX_HEALTH_THRESHOLD).contains(&k) {
                return Err(cx.bad(
                    key,
                    k,
                    format!("must lie in [1, {MAX_HEALTH_THRESHOLD}] consecutive health checks"),
                ));
            }
            if k > 1 && health_check_interval_ms == 0.0 {
                return Err(cx.bad(
                    key,
                    k,
                    "counts periodic health checks: set routing.health_check_interval_ms > 0 \
                     (without it the gateway knows of failures and repairs at once)",
                ));
            }
        }
        let connect_timeout_ms = cx.interval_ms(
            "routing.connect_timeout_ms",
            f.connect_timeout_ms,
            "a failed device refuses the connection at once",
        )?;
        if connect_timeout_ms > MAX_CONNECT_TIMEOUT_MS {
            return Err(cx.bad(
                "routing.connect_timeout_ms",
                crate::check::num(connect_timeout_ms),
                format!(
                    "must be at most {MAX_CONNECT_TIMEOUT_MS} ms (an hour): gateways give up on \
                     a connection within seconds to minutes"
                ),
            ));
        }
        if f.max_fails > MAX_FAILS {
            return Err(cx.bad(
                "routing.max_fails",
                f.max_fails,
                format!("must lie in [0, {MAX_FAILS}] consecutive failed attempts (0: off)"),
            ));
        }
        if f.max_fails > 0 && health_check_interval_ms == 0.0 {
            return Err(cx.bad(
                "routing.max_fails",
                f.max_fails,
                "counts failed attempts on devices the gateway holds as up, which happen only \
                 between periodic health checks: set routing.health_check_interval_ms > 0 \
                 (without it the gateway knows of failures at once and never tries a failed \
                 device)",
            ));
        }
        let fail_timeout_ms = cx.time_ms("routing.fail_timeout_ms", f.fail_timeout_ms)?;
        if SimDuration::from_millis_f64(fail_timeout_ms).0 == 0
            || fail_timeout_ms > MAX_FAIL_TIMEOUT_MS
        {
            return Err(cx.bad(
                "routing.fail_timeout_ms",
                crate::check::num(fail_timeout_ms),
                format!("must lie in [0.001, {MAX_FAIL_TIMEOUT_MS}] ms (1 µs to an hour)"),
            ));
        }
        let max_predicted_wait_ms = f
            .max_predicted_wait_ms
            .map(|v| check_predicted_wait_ms(cx, "routing.max_predicted_wait_ms", v))
            .transpose()?;
        Ok(RoutingSpec {
            max_attempts: f.max_attempts,
            edge_rtt_ms: cx.time_ms("routing.edge_rtt_ms", f.edge_rtt_ms)?,
            on_device_failure: f.on_device_failure,
            health_check_interval_ms,
            unhealthy_threshold: f.unhealthy_threshold,
            healthy_threshold: f.healthy_threshold,
            connect_timeout_ms,
            max_fails: f.max_fails,
            fail_timeout_ms,
            queue_timeout_ms: cx.interval_ms(
                "routing.queue_timeout_ms",
                f.queue_timeout_ms,
                "no limit: a request waits for a slot as long as it takes",
            )?,
            on_queue_timeout: f.on_queue_timeout,
            max_predicted_wait_ms,
        })
    }

    /// The section as written in a resolved scenario.
    pub fn to_file(&self) -> RoutingFile {
        RoutingFile {
            max_attempts: self.max_attempts,
            edge_rtt_ms: self.edge_rtt_ms,
            on_device_failure: self.on_device_failure,
            health_check_interval_ms: self.health_check_interval_ms,
            unhealthy_threshold: self.unhealthy_threshold,
            healthy_threshold: self.healthy_threshold,
            connect_timeout_ms: self.connect_timeout_ms,
            max_fails: self.max_fails,
            fail_timeout_ms: self.fail_timeout_ms,
            queue_timeout_ms: self.queue_timeout_ms,
            on_queue_timeout: self.on_queue_timeout,
            max_predicted_wait_ms: self.max_predicted_wait_ms,
        }
    }

    /// Whether the gateway learns of failures and repairs only at periodic checks.
    pub fn periodic_health_checks(&self) -> bool {
        self.health_check_interval_ms > 0.0
    }

    /// When the gateway next checks the devices' health at or after `t`: the first multiple of
    /// the interval (checks at 0, H, 2H, ...); `None` with ideal checks (interval 0).
    pub fn next_health_check(&self, t: SimTime) -> Option<SimTime> {
        if !self.periodic_health_checks() {
            return None;
        }
        let h = self.health_check_period().0;
        Some(SimTime(t.0.div_ceil(h).saturating_mul(h)))
    }

    /// The health-check period on the clock (at least one tick; only with periodic checks).
    pub fn health_check_period(&self) -> SimDuration {
        SimDuration(
            SimDuration::from_millis_f64(self.health_check_interval_ms)
                .0
                .max(1),
        )
    }

    /// The connect timeout on the clock (zero: refused at once).
    pub fn connect_timeout(&self) -> SimDuration {
        SimDuration::from_millis_f64(self.connect_timeout_ms)
    }

    /// How long a device that failed `max_fails` attempts in a row is left out, on the clock.
    pub fn fail_timeout(&self) -> SimDuration {
        SimDuration::from_millis_f64(self.fail_timeout_ms)
    }

    /// The edge round trip on the clock.
    pub fn edge_rtt(&self) -> SimDuration {
        SimDuration::from_millis_f64(self.edge_rtt_ms)
    }
}
