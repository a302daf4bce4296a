//! The edge fleet: `[[devices]]` entries as written ([`DeviceFile`]) and validated
//! ([`DeviceGroup`]: `count` identical devices of one board, model and server setup).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::profile::{DeviceProfile, check_profile};
use super::{CalibratedDevice, DeviceModel};
use crate::catalogue::ModelCatalogue;
use crate::check::Checker;
use crate::error::Result;
use crate::outages::{OutageSpec, RandomFile, WindowFile};

/// Default parallel slots.
pub const DEFAULT_SLOTS: u32 = 1;
/// Default waiting-queue capacity.
pub const DEFAULT_QUEUE_CAPACITY: u32 = 16;
/// Default context per slot \[tokens\].
pub const DEFAULT_CTX_TOKENS: u32 = 4096;

fn default_one() -> u32 {
    1
}
fn default_slots() -> u32 {
    DEFAULT_SLOTS
}
fn default_queue_capacity() -> u32 {
    DEFAULT_QUEUE_CAPACITY
}
fn default_ctx_tokens() -> u32 {
    DEFAULT_CTX_TOKENS
}

/// The most edge devices one scenario may hold (all groups together).
pub const MAX_DEVICES: u64 = 1_000_000;

/// The most parallel slots one device may have.
pub const MAX_SLOTS: u32 = 4096;

/// `[[devices]]` as written: one device, or `count` identical ones.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeviceFile {
    /// Name; with `count > 1` the devices are `name-1`, `name-2`, ...
    pub name: String,
    /// Number of identical devices.
    #[serde(default = "default_one")]
    pub count: u32,
    /// Device profile file (relative to the scenario file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// A device profile written inline instead of `profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<DeviceProfile>,
    /// Model served (a name in the model catalogue, calibrated in the profile).
    pub model: String,
    /// Parallel slots P (llama-server `--parallel`).
    #[serde(default = "default_slots")]
    pub slots: u32,
    /// Waiting-queue capacity (0: no waiting).
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: u32,
    /// Context size per slot \[tokens\] (for the KV-cache memory check).
    #[serde(default = "default_ctx_tokens")]
    pub ctx_tokens: u32,
    /// Weight for `weighted` selection (default: single-stream decode speed D(1)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// Fixed windows in which every device of the group is down (a site's power cut, a
    /// planned update).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outages: Vec<WindowFile>,
    /// Random failures of each device of the group, independently: mean up-time `mtbf_s`,
    /// mean repair time `mttr_s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_outages: Option<RandomFile>,
}

/// `count` identical devices: one board (profile), one model, one server setup.
#[derive(Clone, Debug)]
pub struct DeviceGroup {
    /// Name; with `count > 1` the devices are `name-1`, `name-2`, ...
    pub name: String,
    /// Number of devices.
    pub count: u32,
    /// The board's profile (inlined in the resolved scenario).
    pub profile: Arc<DeviceProfile>,
    /// Model served.
    pub model: String,
    /// Parallel slots.
    pub slots: u32,
    /// Waiting-queue capacity.
    pub queue_capacity: u32,
    /// Context per slot \[tokens\].
    pub ctx_tokens: u32,
    /// Weight for weighted selection, as given (`None`: D(1)).
    pub weight: Option<f64>,
    /// The calibrated behaviour of the model on the board.
    pub perf: Arc<dyn DeviceModel>,
    /// When the group's devices are down (none by default).
    pub outages: OutageSpec,
}

impl DeviceGroup {
    /// A group of `count` devices of `profile` serving `model`; checks that the profile
    /// calibrates the model and that the model and KV cache fit the board's memory. Errors
    /// name `key` (e.g. `devices[1]`) in `cx`'s file.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cx: &Checker,
        key: &str,
        name: String,
        count: u32,
        profile: Arc<DeviceProfile>,
        model: String,
        slots: u32,
        queue_capacity: u32,
        ctx_tokens: u32,
        weight: Option<f64>,
        catalogue: &ModelCatalogue,
    ) -> Result<DeviceGroup> {
        let k = |s: &str| format!("{key}.{s}");
        if name.trim().is_empty() {
            return Err(cx.bad(k("name"), "\"\"", "must be non-empty"));
        }
        if count == 0 {
            return Err(cx.bad(k("count"), 0, "must be >= 1"));
        }
        if slots == 0 || slots > MAX_SLOTS {
            return Err(cx.bad(
                k("slots"),
                slots,
                format!("must lie in [1, {MAX_SLOTS}] (llama-server --parallel)"),
            ));
        }
        let entry = catalogue.model(&model).ok_or_else(|| {
            cx.bad(
                k("model"),
                format!("\"{model}\""),
                format!(
                    "is not in the model catalogue ({}); known models: {}. A model of your own \
                     goes in a catalogue of your own, named by the scenario's `model_catalogue`",
                    catalogue.source.display(),
                    catalogue.model_names()
                ),
            )
        })?;
        let usable = profile
            .device
            .usable_memory_gb
            .unwrap_or(profile.device.memory_gb);
        let kv_gb =
            f64::from(slots) * f64::from(ctx_tokens) / 1000.0 * entry.kv_mb_per_1k_tokens / 1000.0;
        let need = entry.memory_gb + kv_gb;
        if need > usable {
            return Err(cx.bad(
                k("model"),
                format!("\"{model}\""),
                format!(
                    "does not fit on {}: needs {need:.2} GB ({:.2} GB model + {kv_gb:.2} GB KV cache for {slots} slots x {ctx_tokens} tokens) but {usable:.2} GB is usable; choose a smaller model or fewer slots / a smaller ctx_tokens",
                    profile.device.name, entry.memory_gb
                ),
            ));
        }
        let perf = profile
            .models
            .iter()
            .find(|m| m.model == model)
            .ok_or_else(|| {
                let have: Vec<&str> = profile.models.iter().map(|m| m.model.as_str()).collect();
                cx.bad(
                    k("model"),
                    format!("\"{model}\""),
                    format!(
                        "the profile of {} has no calibration for it; calibrated models: {}",
                        profile.device.name,
                        have.join(", ")
                    ),
                )
            })?;
        if let Some(max) = entry.context_tokens
            && ctx_tokens > max
        {
            return Err(cx.bad(
                k("ctx_tokens"),
                ctx_tokens,
                format!("{model} was trained for at most {max} tokens of context"),
            ));
        }
        if ctx_tokens < 2 {
            return Err(cx.bad(
                k("ctx_tokens"),
                ctx_tokens,
                "must be >= 2 (a prompt token and an output token)",
            ));
        }
        let perf: Arc<dyn DeviceModel> = Arc::new(CalibratedDevice::new(&profile.device, perf));
        if let Some(w) = weight {
            cx.positive(&k("weight"), w)?;
        }
        Ok(DeviceGroup {
            name,
            count,
            profile,
            model,
            slots,
            queue_capacity,
            ctx_tokens,
            weight,
            perf,
            outages: OutageSpec::default(),
        })
    }

    /// Validates one `[[devices]]` entry (at index `i`).
    pub fn from_file(
        cx: &Checker,
        i: usize,
        d: &DeviceFile,
        catalogue: &ModelCatalogue,
    ) -> Result<DeviceGroup> {
        let key = format!("devices[{i}]");
        if d.name.trim().is_empty() {
            return Err(cx.bad(format!("{key}.name"), "\"\"", "must be non-empty"));
        }
        if d.count == 0 {
            return Err(cx.bad(format!("{key}.count"), 0, "must be >= 1"));
        }
        if d.slots == 0 || d.slots > MAX_SLOTS {
            return Err(cx.bad(
                format!("{key}.slots"),
                d.slots,
                format!("must lie in [1, {MAX_SLOTS}] (llama-server --parallel)"),
            ));
        }
        let profile = match (&d.profile, &d.inline) {
            (Some(p), None) => cx.profile(&format!("{key}.profile"), p)?.1,
            (None, Some(p)) => {
                check_profile(cx.path(), &format!("{key}.inline."), p)?;
                Arc::new(p.clone())
            }
            _ => {
                return Err(cx.bad(
                    format!("{key}.profile"),
                    d.profile.as_deref().unwrap_or("(missing)"),
                    "give exactly one of `profile` (a profile file, or the name of a shipped one) or `inline` (a profile table)",
                ));
            }
        };
        let mut group = DeviceGroup::new(
            cx,
            &key,
            d.name.clone(),
            d.count,
            profile,
            d.model.clone(),
            d.slots,
            d.queue_capacity,
            d.ctx_tokens,
            d.weight,
            catalogue,
        )?;
        group.outages = OutageSpec::from_file(cx, &key, &d.outages, d.random_outages)?;
        Ok(group)
    }

    /// The entry as written in a resolved scenario (profile inlined, so it runs anywhere).
    pub fn to_file(&self) -> DeviceFile {
        DeviceFile {
            name: self.name.clone(),
            count: self.count,
            profile: None,
            inline: Some((*self.profile).clone()),
            model: self.model.clone(),
            slots: self.slots,
            queue_capacity: self.queue_capacity,
            ctx_tokens: self.ctx_tokens,
            weight: self.weight,
            outages: self.outages.windows_file.clone(),
            random_outages: self.outages.random,
        }
    }

    /// Weight for weighted selection: as given, else D(1).
    pub fn selection_weight(&self) -> f64 {
        self.weight.unwrap_or_else(|| self.perf.decode_tps(1))
    }

    /// The name of the `k`-th device (0-based) of the group.
    pub fn device_name(&self, k: u32) -> String {
        if self.count == 1 {
            self.name.clone()
        } else {
            // Without `format!`, which costs several times as much: a fleet of 10,000 names
            // its devices at every run's end.
            let mut name = String::with_capacity(self.name.len() + 11);
            name.push_str(&self.name);
            name.push('-');
            crate::output::decimal::push_u64(&mut name, u64::from(k) + 1);
            name
        }
    }

    /// The board's name.
    pub fn board(&self) -> &str {
        &self.profile.device.name
    }
}

/// Validates `[[devices]]`: unique device names, and at least one entry unless the cloud
/// takes every request (`cloud_enabled`: a cloud-only scenario).
pub fn fleet_from_files(
    cx: &Checker,
    list: &[DeviceFile],
    catalogue: &ModelCatalogue,
    cloud_enabled: bool,
) -> Result<Vec<DeviceGroup>> {
    if list.is_empty() && !cloud_enabled {
        return Err(cx.bad(
            "devices",
            "[]",
            "the edge cluster is empty and the cloud is disabled, so every request would be \
             rejected; add at least one [[devices]] entry or enable [cloud]",
        ));
    }
    // Over the bound: the error names the largest group, where a typo most likely is.
    let total: u64 = list.iter().map(|d| u64::from(d.count)).sum();
    let largest = list.iter().enumerate().rev().max_by_key(|(_, d)| d.count);
    if let Some((i, d)) = largest
        && total > MAX_DEVICES
    {
        let of = if list.len() > 1 {
            format!(" over {} [[devices]] entries", list.len())
        } else {
            String::new()
        };
        return Err(cx.bad(
            format!("devices[{i}].count"),
            d.count,
            format!(
                "brings the fleet to {total} devices{of}; at most {MAX_DEVICES} are allowed \
                 (each costs simulator memory and time per event)"
            ),
        ));
    }
    let groups = list
        .iter()
        .enumerate()
        .map(|(i, d)| DeviceGroup::from_file(cx, i, d, catalogue))
        .collect::<Result<Vec<_>>>()?;
    check_names(cx, &groups)?;
    Ok(groups)
}

/// Device names must be unique across groups: a group of one board is named as the group,
/// the boards of a larger group `NAME-1` .. `NAME-N`. The error names the first board, in
/// the order of the groups and of their boards, whose name an earlier group has.
///
/// Checked per group, not per board (a fleet of 10,000 boards is loaded at every run): a
/// board `NAME-k` has the one name whose last `-` is followed by `k`, so two larger groups
/// share a name only if they share `NAME` (and then `NAME-1`), and a one-board group `P-k`
/// (with `k` written as a board number is: digits, no leading zero) shares its name only with
/// a larger group `P` of at least `k` boards or a one-board group of the same name.
pub fn check_names(cx: &Checker, groups: &[DeviceGroup]) -> Result<()> {
    let named: Vec<(&str, u32)> = groups.iter().map(|g| (g.name.as_str(), g.count)).collect();
    let Some((i, k, j)) = first_shared_name(&named) else {
        return Ok(());
    };
    let boards = |g: &DeviceGroup| match g.count {
        1 => "1 board, named as it".to_string(),
        n => format!("{n} boards, {}-1 .. {}-{n}", g.name, g.name),
    };
    let g = &groups[i];
    Err(cx.bad(
        format!("devices[{i}].name"),
        format!("\"{}\"", g.name),
        format!(
            "its board \"{}\" ({}) has the name of a board of devices[{j}] \
             (\"{}\": {}); device names must be unique",
            g.device_name(k),
            boards(g),
            groups[j].name,
            boards(&groups[j])
        ),
    ))
}

/// The first board of `groups` (`(name, count)`, in their order and their boards' order) whose
/// name an earlier group has: its group, its number (0-based) and that earlier group.
fn first_shared_name(groups: &[(&str, u32)]) -> Option<(usize, u32, usize)> {
    // Earlier groups: one-board groups by name, larger ones by `NAME`, and the one-board
    // groups named like a board (`P-k`) by `P`, then `k`.
    let mut single: HashMap<&str, usize> = HashMap::new();
    let mut larger: HashMap<&str, usize> = HashMap::new();
    let mut numbered: HashMap<&str, BTreeMap<u64, usize>> = HashMap::new();
    for (i, &(name, count)) in groups.iter().enumerate() {
        match count {
            0 => {} // no boards (refused before this check)
            1 => {
                let earlier = single.get(name).copied().or_else(|| {
                    let (p, k) = board_number(name)?;
                    larger
                        .get(p)
                        .copied()
                        .filter(|&j| k <= u64::from(groups[j].1))
                });
                if let Some(j) = earlier {
                    return Some((i, 0, j));
                }
                single.insert(name, i);
                if let Some((p, k)) = board_number(name) {
                    numbered.entry(p).or_default().insert(k, i);
                }
            }
            _ => {
                if let Some(&j) = larger.get(name) {
                    return Some((i, 0, j));
                }
                let first = numbered
                    .get(name)
                    .and_then(|ks| ks.range(1..=u64::from(count)).next());
                if let Some((&k, &j)) = first {
                    return Some((i, (k - 1) as u32, j));
                }
                larger.insert(name, i);
            }
        }
    }
    None
}

/// `name` split as a larger group names its boards, `P-k`: the part before the last `-` and
/// the number after it, if that is written as a board number is (digits without a leading
/// zero, at least 1).
fn board_number(name: &str) -> Option<(&str, u64)> {
    let (p, k) = name.rsplit_once('-')?;
    let canonical = k.bytes().all(|b| b.is_ascii_digit()) && !k.is_empty() && !k.starts_with('0');
    Some((p, k.parse().ok().filter(|_| canonical)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// Every board's name, one at a time, as the check was first written.
    fn first_shared_by_boards(groups: &[(&str, u32)]) -> Option<(usize, u32, usize)> {
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        for (i, &(name, count)) in groups.iter().enumerate() {
            for k in 0..count {
                let board = if count == 1 {
                    name.to_string()
                } else {
                    format!("{name}-{}", k + 1)
                };
                if let Some(&j) = names.get(&board) {
                    return Some((i, k, j));
                }
                names.insert(board, i);
            }
        }
        None
    }

    /// Names that are, or look like, other groups' boards (and some that only nearly do: a
    /// leading zero, a zero, a sign, no number), in random fleets: the same first clash as
    /// naming every board.
    #[test]
    fn the_first_shared_name_is_that_of_naming_every_board() {
        let names = [
            "a", "b", "a-1", "a-2", "a-3", "a-7", "a-10", "a-12", "a-01", "a-0", "a-+1", "a-",
            "-1", "-", "b-1", "a-1-1", "a-1-2", "a--1", "a-2-1",
        ];
        let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(11);
        let mut clashes = 0;
        for _ in 0..20_000 {
            let groups: Vec<(&str, u32)> = (0..r.random_range(1..6))
                .map(|_| {
                    let count = match r.random_range(0..3) {
                        0 => 1,
                        1 => r.random_range(2..4),
                        _ => r.random_range(2..14),
                    };
                    (names[r.random_range(0..names.len())], count)
                })
                .collect();
            let want = first_shared_by_boards(&groups);
            clashes += usize::from(want.is_some());
            assert_eq!(first_shared_name(&groups), want, "{groups:?}");
        }
        assert!(clashes > 2_000, "too few clashes to test: {clashes}");
    }
}
