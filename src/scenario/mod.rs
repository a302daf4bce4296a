//! Scenarios: a TOML file, `--set` overrides, then validation into a [`Scenario`].
//!
//! Loading has two phases (raw, then validated): [`file::ScenarioFile`] mirrors the TOML and
//! rejects unknown keys; [`Scenario::from_file`] hands each section to the extension point it
//! configures, which checks it and builds its validated spec. A [`Scenario`] is a plain value:
//! tools build variants of it in code (another policy, other device counts) and
//! [`Scenario::to_file`] gives the fully explicit form back (`scenario.resolved.toml`).

pub mod budget;
pub mod file;
pub mod overrides;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::catalogue::ModelCatalogue;
use crate::check::{Checker, InputCache, MAX_CONFIG_BYTES, cut_lines, read_text};
use crate::cloud::CloudSpec;
use crate::device::DeviceGroup;
use crate::device::fleet::fleet_from_files;
use crate::error::{Error, Result};
use crate::metrics::settings::MetricsSpec;
use crate::policy::rate_limit::{LimitScope, RateLimitSpec};
use crate::policy::selection::SelectionSpec;
use crate::sim::RoutingSpec;
use crate::time::{SimDuration, SimTime};
use crate::workload::{ClassRoute, ClassSpec, WorkloadSpec};
use file::ScenarioFile;

/// A validated scenario. Every field holds validated settings; edit them in code to build a
/// variant (the invariants are those `from_file` checks: e.g. a group's `count` and `slots`
/// are at least 1).
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Run seed.
    pub seed: u64,
    /// The file it was loaded from (errors name it).
    pub source: PathBuf,
    /// Arrivals stop after this many seconds; `None` for a trace replayed whole.
    pub duration_s: Option<f64>,
    /// Arrival process and demand.
    pub workload: WorkloadSpec,
    /// The edge fleet: groups of identical devices, in order.
    pub fleet: Vec<DeviceGroup>,
    /// Selection policy.
    pub selection: SelectionSpec,
    /// Rate limiting.
    pub rate_limit: RateLimitSpec,
    /// Edge candidates tried per request, edge round trip.
    pub routing: RoutingSpec,
    /// Cloud fallback.
    pub cloud: CloudSpec,
    /// Metric settings.
    pub metrics: MetricsSpec,
    /// Model catalogue in use.
    pub catalogue: Arc<ModelCatalogue>,
    /// Where the catalogue came from (`None`: the built-in one).
    pub catalogue_path: Option<PathBuf>,
}

fn syntax(path: &Path, message: String) -> Error {
    Error::Syntax {
        path: path.into(),
        message: cut_lines(&message, 1000),
    }
}

/// Options applied on top of the file.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `key.path=value` overrides, in order.
    pub sets: Vec<String>,
    /// Seed override.
    pub seed: Option<u64>,
}

impl Scenario {
    /// Loads, overrides and validates a scenario file.
    pub fn load(path: &Path, opts: &LoadOptions) -> Result<Scenario> {
        let text = read_text(path, "scenario", MAX_CONFIG_BYTES)?;
        Self::from_str_at(&text, path, opts)
    }

    /// Parses scenario text as if read from `path` (relative paths resolve against its folder).
    pub fn from_str_at(text: &str, path: &Path, opts: &LoadOptions) -> Result<Scenario> {
        if opts.sets.is_empty() {
            // Straight from the text: errors quote the line.
            let file: ScenarioFile = crate::strict::from_str(text)
                .map_err(|e| crate::check::not_read_as(path, text, "a scenario", &e))?;
            if !file.cloud.fallbacks.is_empty() {
                let doc = Self::parse_doc(text, path)?;
                if let Some(f) = doc.get("cloud").and_then(|c| c.get("fallbacks")) {
                    CloudSpec::check_fallback_keys(&Checker::new(path), f)?;
                }
            }
            return Self::with_seed(file, path, opts.seed, Arc::new(InputCache::default()));
        }
        let doc = Self::parse_doc(text, path)?;
        Self::from_doc(doc, path, opts, Arc::new(InputCache::default()))
    }

    /// Warnings about `opts`' overrides of the scenario at `path` that change less than they
    /// seem to ([`overrides::pinned_by_model`]), each led by the key it is about. Reads the
    /// file again only when an override names a cloud's model; a file that cannot be read
    /// gives none (loading it says why).
    pub fn override_warnings(path: &Path, opts: &LoadOptions) -> Vec<String> {
        let changed: Vec<Vec<String>> = opts
            .sets
            .iter()
            .filter_map(|a| overrides::parse_set(a).ok().map(|(k, _)| k))
            .collect();
        if !changed
            .iter()
            .any(|k| k.last().is_some_and(|l| l == "model"))
        {
            return Vec::new();
        }
        let Ok(text) = read_text(path, "scenario", MAX_CONFIG_BYTES) else {
            return Vec::new();
        };
        Self::parse_doc(&text, path)
            .map(|doc| overrides::pinned_by_model(&doc, &changed))
            .unwrap_or_default()
            .into_iter()
            .map(|(key, w)| format!("--set {key}: {w}"))
            .collect()
    }

    /// Parses scenario text into a document that overrides can edit.
    pub fn parse_doc(text: &str, path: &Path) -> Result<toml::Value> {
        toml::from_str::<toml::Table>(text)
            .map(toml::Value::Table)
            .map_err(|e| syntax(path, e.to_string()))
    }

    /// Applies `opts` to a parsed document (from `path`) and validates it, reading input files
    /// through `cache`. Sweeps and plans build each point's scenario this way, from one parse.
    pub fn from_doc(
        mut doc: toml::Value,
        path: &Path,
        opts: &LoadOptions,
        cache: Arc<InputCache>,
    ) -> Result<Scenario> {
        let mut keys = Vec::with_capacity(opts.sets.len());
        for arg in &opts.sets {
            let (key, value) = overrides::parse_set(arg)?;
            overrides::apply(&mut doc, arg, &key, value)?;
            keys.push((key, arg));
        }
        // The fallbacks as written, before typing gives absent keys their defaults.
        let fallbacks = doc.get("cloud").and_then(|c| c.get("fallbacks")).cloned();
        // Deserialised from the edited document: errors name the key path (with the index of
        // an array entry, `devices[1].slots`), not a line.
        let file: ScenarioFile = crate::strict::from_value(doc).map_err(|e| {
            let msg = crate::check::tagged::path_message(e);
            let hint = overrides::tag_switch_hint(&keys, &msg);
            // The overrides given, if any (a plan's option sets its keys in the document):
            // of a sweep's point of thousands of axes, the first few and how many more (the
            // message names the key at fault).
            const SHOWN: usize = 8;
            let after = match opts.sets.len() {
                0 => String::new(),
                n if n <= SHOWN => {
                    format!("after the --set overrides ({}): ", opts.sets.join(", "))
                }
                n => format!(
                    "after the --set overrides ({}, and {} more): ",
                    opts.sets[..SHOWN].join(", "),
                    n - SHOWN
                ),
            };
            syntax(path, format!("{after}{msg}{hint}"))
        })?;
        if let Some(f) = &fallbacks {
            CloudSpec::check_fallback_keys(&Checker::new(path), f)?;
        }
        Self::with_seed(file, path, opts.seed, cache)
    }

    fn with_seed(
        mut file: ScenarioFile,
        path: &Path,
        seed: Option<u64>,
        cache: Arc<InputCache>,
    ) -> Result<Scenario> {
        if let Some(seed) = seed {
            if seed > i64::MAX as u64 {
                return Err(Error::Override {
                    arg: format!("--seed {seed}"),
                    problem: format!("seeds must be at most {}", i64::MAX),
                });
            }
            file.seed = seed;
        }
        Self::from_file_with(file, path, cache)
    }

    /// Validates a raw scenario read from `path`: each section is checked by its own spec.
    pub fn from_file(file: ScenarioFile, path: &Path) -> Result<Scenario> {
        Self::from_file_with(file, path, Arc::new(InputCache::default()))
    }

    /// [`Scenario::from_file`], reading input files through `cache`.
    pub fn from_file_with(
        file: ScenarioFile,
        path: &Path,
        cache: Arc<InputCache>,
    ) -> Result<Scenario> {
        let cx = Checker::with_cache(path, cache);
        let mut name = file.name.clone();
        if name.trim().is_empty() {
            name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".into());
        }
        cx.folder_name("name", &name)?;
        let catalogue_path = file.model_catalogue.as_deref().map(|p| cx.resolve(p));
        let catalogue = cx.catalogue(
            "model_catalogue",
            file.model_catalogue
                .as_deref()
                .zip(catalogue_path.as_deref()),
        )?;
        let is_trace = matches!(file.workload, crate::workload::WorkloadFile::Trace(_));
        let duration_s = match file.duration_s {
            Some(d) => Some(cx.span_s("duration_s", d)?),
            None if is_trace => None,
            None => {
                return Err(cx.bad(
                    "duration_s",
                    "(missing)",
                    "is required (seconds of arrivals, > 0) unless workload.kind = \"trace\"",
                ));
            }
        };
        let workload = WorkloadSpec::from_file(&cx, &file.workload, &catalogue)?;
        let cloud = CloudSpec::from_file(&cx, &file.cloud, &catalogue)?;
        // No names without `[[workload.classes]]`: the one implicit class has no quota.
        let class_names: Vec<&str> = match workload.demand.implicit_class {
            true => Vec::new(),
            false => workload
                .demand
                .classes
                .iter()
                .map(|c| c.name.as_str())
                .collect(),
        };
        cloud.check_quota_classes(&cx, &class_names)?;
        let fleet = fleet_from_files(&cx, &file.devices, &catalogue, cloud.enabled)?;
        check_class_devices(&cx, &workload.demand.classes, &fleet)?;
        let rate_limit = RateLimitSpec::from_file(&cx, &file.rate_limit)?;
        for (i, c) in workload.demand.classes.iter().enumerate() {
            if let Some(q) = c.quota {
                rate_limit.check_quota(&cx, &format!("workload.classes[{i}].quota"), q)?;
            }
        }
        let routing = RoutingSpec::from_file(&cx, &file.routing)?;
        let metrics = MetricsSpec::from_file(&cx, &file.metrics, &catalogue)?;
        let sc = Scenario {
            name,
            description: file.description,
            seed: file.seed,
            source: path.to_path_buf(),
            duration_s,
            workload,
            fleet,
            selection: SelectionSpec::from_file(&cx, &file.selection)?,
            rate_limit,
            routing,
            cloud,
            metrics,
            catalogue,
            catalogue_path,
        };
        crate::metrics::windows::check_count(&cx, &sc)?;
        budget::check(&cx, &sc)?;
        Ok(sc)
    }

    /// The fully explicit raw form: defaults filled, profiles inlined, paths absolute.
    pub fn to_file(&self) -> ScenarioFile {
        ScenarioFile {
            name: self.name.clone(),
            description: self.description.clone(),
            seed: self.seed,
            duration_s: self.duration_s,
            model_catalogue: self
                .catalogue_path
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned()),
            workload: self.workload.to_file(),
            devices: self.fleet.iter().map(DeviceGroup::to_file).collect(),
            selection: self.selection.to_file(),
            rate_limit: self.rate_limit.to_file(),
            routing: self.routing.to_file(),
            cloud: self.cloud.to_file(),
            metrics: self.metrics.to_file(),
        }
    }

    /// The resolved scenario as TOML text (it reproduces the run anywhere).
    pub fn resolved_toml(&self) -> String {
        crate::strict::to_toml(&self.to_file())
            .unwrap_or_else(|e| format!("# cannot serialise: {e}\n"))
    }

    /// Arrivals stop after this time (never, for a trace replayed whole).
    pub fn horizon(&self) -> SimTime {
        self.duration_s.map_or(SimTime::MAX, SimTime::from_secs_f64)
    }

    /// How long arrivals last \[s\]: `duration_s`, or for a trace replayed whole the time of
    /// its last row (scaled); a trace cut by `duration_s` ends at the earlier of the two.
    pub fn arrival_span_s(&self) -> f64 {
        let trace = match &self.workload.arrivals {
            crate::workload::Arrivals::Trace(t) => Some(t.last_arrival_s()),
            _ => None,
        };
        match (self.duration_s, trace) {
            (Some(d), Some(t)) => d.min(t),
            (Some(d), None) => d,
            (None, Some(t)) => t,
            (None, None) => 0.0,
        }
    }

    /// The longest a request arriving last may still wait to be routed, beyond its service
    /// \[s\]: its cloud retries' waits ([`CloudSpec::retry_chain_s`]), a connect timeout on
    /// every attempt of every routing pass, and a queue timeout in every pass. The run, its
    /// time series and its boards' random episodes go on that long after the arrivals at most
    /// (queues without a timeout aside), so the budgets count it.
    pub fn wait_tail_s(&self) -> f64 {
        let passes = if self.cloud.retries_refused() {
            f64::from(self.cloud.max_retries) + 1.0
        } else {
            1.0
        };
        self.cloud.retry_chain_s()
            + passes * f64::from(self.routing.max_attempts) * self.routing.connect_timeout_ms
                / 1000.0
            + passes * self.longest_queue_timeout_ms() / 1000.0
    }

    /// Each class's queue timeout on the clock: the class's own `queue_timeout_ms`, else
    /// `routing.queue_timeout_ms` (`None` for a class without a limit); `None` when no class
    /// has one.
    pub fn queue_timeouts(&self) -> Option<Vec<Option<SimDuration>>> {
        self.has_queue_timeouts().then(|| {
            self.classes()
                .iter()
                .map(|c| {
                    let ms = self.queue_timeout_ms(c);
                    (ms > 0.0).then(|| SimDuration::from_millis_f64(ms))
                })
                .collect()
        })
    }

    /// Each class's bound on a board's predicted queue wait \[s\] (its own, else
    /// `routing.max_predicted_wait_ms`; `None`: predictive admission off for the class), in
    /// class order; `None` when no class has one.
    pub fn predicted_waits_s(&self) -> Option<Vec<Option<f64>>> {
        self.has_predicted_waits().then(|| {
            self.classes()
                .iter()
                .map(|c| {
                    let ms = c
                        .max_predicted_wait_ms
                        .or(self.routing.max_predicted_wait_ms);
                    ms.map(|ms| ms / 1000.0)
                })
                .collect()
        })
    }

    /// Whether some class's requests are admitted by predicted wait (predictive admission).
    pub fn has_predicted_waits(&self) -> bool {
        self.routing.max_predicted_wait_ms.is_some()
            || self
                .classes()
                .iter()
                .any(|c| c.max_predicted_wait_ms.is_some())
    }

    /// Class `c`'s queue timeout \[ms\]: its own, else `routing.queue_timeout_ms` (0: none).
    fn queue_timeout_ms(&self, c: &ClassSpec) -> f64 {
        c.queue_timeout_ms.unwrap_or(self.routing.queue_timeout_ms)
    }

    /// The longest queue timeout of any class \[ms\] (0: none).
    pub fn longest_queue_timeout_ms(&self) -> f64 {
        self.classes()
            .iter()
            .map(|c| self.queue_timeout_ms(c))
            .fold(0.0, f64::max)
    }

    /// Each class's queue priority, when they differ (`None` when every class has the same:
    /// the queues are first come, first served).
    pub fn class_priorities(&self) -> Option<Vec<u8>> {
        let p: Vec<u8> = self.classes().iter().map(|c| c.priority()).collect();
        p.windows(2).any(|w| w[0] != w[1]).then_some(p)
    }

    /// Each class's route, when some class has one other than the edge first (`None` when
    /// every request is routed edge first).
    pub fn class_routes(&self) -> Option<Vec<ClassRoute>> {
        let r: Vec<ClassRoute> = self.classes().iter().map(|c| c.route()).collect();
        r.iter().any(|&r| r != ClassRoute::EdgeFirst).then_some(r)
    }

    /// The pools of boards that serve classes restricted to some device groups
    /// (`workload.classes[].devices`); `None` when every class may be served by every board.
    /// Pool 0 is every board: the pool of the other classes, and of a class whose list names
    /// every group or that is routed to the cloud (it never meets a board).
    pub fn device_pools(&self) -> Option<DevicePools> {
        let all: Vec<usize> = (0..self.fleet.len()).collect();
        let mut groups: Vec<Vec<usize>> = vec![all.clone()];
        let mut known: std::collections::HashMap<Vec<usize>, u16> =
            std::collections::HashMap::from([(all.clone(), 0)]);
        let mut of_class = Vec::with_capacity(self.classes().len());
        for c in self.classes() {
            let g: Vec<usize> = match &c.devices {
                Some(names) if c.route() != ClassRoute::Cloud => {
                    let names: std::collections::HashSet<&str> =
                        names.iter().map(String::as_str).collect();
                    all.iter()
                        .copied()
                        .filter(|&i| names.contains(self.fleet[i].name.as_str()))
                        .collect()
                }
                _ => all.clone(),
            };
            // Pool 0 and at most one per class (MAX_CLASSES): the index fits in 16 bits.
            let k = *known.entry(g).or_insert_with_key(|g| {
                groups.push(g.clone());
                (groups.len() - 1) as u16
            });
            of_class.push(k);
        }
        let whole_used = self
            .classes()
            .iter()
            .zip(&of_class)
            .any(|(c, &k)| k == 0 && c.route() != ClassRoute::Cloud);
        (groups.len() > 1).then_some(DevicePools {
            groups,
            of_class,
            whole_used,
        })
    }

    /// The rate limit in words, as the summary's `rate_limit`: with classes' own quotas under
    /// a limit per class, each class's quota after it (`...; quotas question 6, summary 2`).
    pub fn rate_limit_description(&self) -> String {
        let mut d = self.rate_limit.describe();
        if self.rate_limit.scope == LimitScope::Class
            && !self.rate_limit.is_none()
            && self.classes().iter().any(|c| c.quota.is_some())
        {
            let quotas: Vec<String> = self
                .classes()
                .iter()
                .map(|c| {
                    let q = c.quota.unwrap_or(self.rate_limit.most_per_admission());
                    format!("{} {}", c.name, crate::check::num(q))
                })
                .collect();
            d += &format!("; quotas {}", quotas.join(", "));
        }
        d
    }

    /// Whether some class is served at the edge only (the summary then counts the requests
    /// its rule rejected, `rejected_by.edge_only`).
    pub fn has_edge_only_classes(&self) -> bool {
        self.classes()
            .iter()
            .any(|c| c.route() == ClassRoute::EdgeOnly)
    }

    /// Whether some class has a queue timeout (the summary then counts timeouts).
    pub fn has_queue_timeouts(&self) -> bool {
        self.longest_queue_timeout_ms() > 0.0
    }

    /// The keys that set a queue timeout, with their values \[ms\].
    fn queue_timeout_keys(&self) -> Vec<(String, f64)> {
        let mut keys = Vec::new();
        if self.routing.queue_timeout_ms > 0.0 {
            keys.push((
                "routing.queue_timeout_ms".to_string(),
                self.routing.queue_timeout_ms,
            ));
        }
        for (i, c) in self.classes().iter().enumerate() {
            if let Some(ms) = c.queue_timeout_ms.filter(|&ms| ms > 0.0) {
                keys.push((format!("workload.classes[{i}].queue_timeout_ms"), ms));
            }
        }
        keys
    }

    /// Settings given that nothing reads, each as a sentence naming the key: the report
    /// interval outside `load_aware` and `power_of_two`, a group's `weight` outside
    /// `weighted`, a queue timeout where no device has a queue, `on_queue_timeout` without a
    /// queue timeout; a class routed to a cloud that is disabled, or to an edge the scenario
    /// lacks, a queue timeout or priority of a class routed to the cloud, and a class's
    /// `quota` without a rate limit per class, predictive admission where no device has a
    /// queue, a cloud limit's quota of a class whose requests never reach the cloud; a class's
    /// `devices` when it is routed to the cloud, or empty. They are valid (a sweep over
    /// policies or timeouts keeps them fixed), but a run with them is likely a mistake, so
    /// `run` and `check` warn.
    pub fn unread_settings(&self) -> Vec<String> {
        use crate::policy::selection::SelectionKind as K;
        let kind = self.selection.kind;
        let mut out = Vec::new();
        let ms = self.selection.load_report_interval_ms;
        if ms > 0.0 && !matches!(kind, K::LoadAware | K::PowerOfTwo) {
            out.push(format!(
                "`selection.load_report_interval_ms` = {} does nothing under `selection.kind` = \
                 \"{}\": only load_aware and power_of_two decide on reported loads",
                crate::check::num(ms),
                kind.name()
            ));
        }
        if kind != K::Weighted {
            for (i, g) in self.fleet.iter().enumerate() {
                if let Some(w) = g.weight {
                    out.push(format!(
                        "`devices[{i}].weight` = {} does nothing under `selection.kind` = \
                         \"{}\": only weighted selection reads weights",
                        crate::check::num(w),
                        kind.name()
                    ));
                }
            }
        }
        if !self.fleet.is_empty() && self.fleet.iter().all(|g| g.queue_capacity == 0) {
            let class_keys = self.classes().iter().enumerate().filter_map(|(i, c)| {
                c.max_predicted_wait_ms
                    .map(|ms| (format!("workload.classes[{i}].max_predicted_wait_ms"), ms))
            });
            let keys = self
                .routing
                .max_predicted_wait_ms
                .map(|ms| ("routing.max_predicted_wait_ms".to_string(), ms))
                .into_iter()
                .chain(class_keys);
            for (key, ms) in keys {
                out.push(format!(
                    "`{key}` = {} does nothing: no device has a queue (every group's \
                     `queue_capacity` is 0), so no request waits",
                    crate::check::num(ms)
                ));
            }
            for (key, ms) in self.queue_timeout_keys() {
                out.push(format!(
                    "`{key}` = {} does nothing: no device has a queue (every group's \
                     `queue_capacity` is 0)",
                    crate::check::num(ms)
                ));
            }
        }
        for (i, c) in self.classes().iter().enumerate() {
            let route = c.route();
            if let Some(q) = c.quota
                && (self.rate_limit.scope != LimitScope::Class || self.rate_limit.is_none())
            {
                out.push(format!(
                    "`workload.classes[{i}].quota` = {} does nothing: only a rate limit per \
                     class reads it (`[rate_limit]` with a `kind` and `scope` = \"class\"; here \
                     kind \"{}\", scope \"{}\")",
                    crate::check::num(q),
                    self.rate_limit.kind.name(),
                    self.rate_limit.scope.name()
                ));
            }
            if route == ClassRoute::EdgeOnly || !self.cloud.enabled {
                for (k, p) in self.cloud.providers().enumerate() {
                    let at = CloudSpec::provider_key(k);
                    for (j, l) in p.limits.iter().enumerate() {
                        if let Some(q) = l.quotas.get(&c.name) {
                            out.push(format!(
                                "`{at}.limits[{j}].quotas.{}` = {} does nothing: the class's \
                                 requests never reach the cloud ({})",
                                c.name,
                                crate::check::num(*q),
                                if route == ClassRoute::EdgeOnly {
                                    "`route` = \"edge_only\""
                                } else {
                                    "`cloud.enabled` = false"
                                }
                            ));
                        }
                    }
                }
            }
            match &c.devices {
                Some(_) if route == ClassRoute::Cloud => out.push(format!(
                    "`workload.classes[{i}].devices` does nothing: the class ({}) is routed to \
                     the cloud (`route` = \"cloud\") and never meets a board",
                    c.name
                )),
                Some(names) if names.is_empty() => out.push(format!(
                    "`workload.classes[{i}].devices` = [] ({}): no board may serve the class, so \
                     its requests are all {}",
                    c.name,
                    if route == ClassRoute::EdgeOnly || !self.cloud.enabled {
                        "rejected"
                    } else {
                        "sent to the cloud"
                    }
                )),
                _ => {}
            }
            if route == ClassRoute::Cloud {
                // Its requests never wait in an edge queue.
                let own = [
                    (
                        "queue_timeout_ms",
                        c.queue_timeout_ms.filter(|&ms| ms > 0.0),
                    ),
                    ("priority", c.priority.filter(|&p| p > 0).map(f64::from)),
                    ("max_predicted_wait_ms", c.max_predicted_wait_ms),
                ];
                for (key, v) in own.into_iter().filter_map(|(k, v)| Some((k, v?))) {
                    out.push(format!(
                        "`workload.classes[{i}].{key}` = {} does nothing: the class ({}) is \
                         routed to the cloud (`route` = \"cloud\") and never waits in an edge \
                         queue",
                        crate::check::num(v),
                        c.name
                    ));
                }
            }
            let why = match route {
                ClassRoute::Cloud if !self.cloud.enabled => {
                    "the cloud is disabled (`cloud.enabled` = false): its requests are all \
                     rejected"
                }
                ClassRoute::EdgeOnly if self.fleet.is_empty() => {
                    "the scenario has no edge device: its requests are all rejected"
                }
                _ => continue,
            };
            out.push(format!(
                "`workload.classes[{i}].route` = \"{}\" ({}): {why}",
                route.name(),
                c.name
            ));
        }
        if !self.has_queue_timeouts() && !self.routing.on_queue_timeout.is_cloud() {
            out.push(format!(
                "`routing.on_queue_timeout` = \"{}\" does nothing without a queue timeout \
                 (`routing.queue_timeout_ms` > 0, or a class's `queue_timeout_ms`): requests \
                 wait for a slot as long as it takes",
                self.routing.on_queue_timeout.name()
            ));
        }
        out
    }

    /// The arrivals' span and the wait tail after it \[s\]: the span the budgets count.
    pub fn horizon_s(&self) -> f64 {
        self.arrival_span_s() + self.wait_tail_s()
    }

    /// The request classes (at least one).
    pub fn classes(&self) -> &[ClassSpec] {
        &self.workload.demand.classes
    }

    /// Whether any device group has outages (device failures are simulated).
    pub fn has_device_faults(&self) -> bool {
        self.fleet.iter().any(|g| g.outages.any())
    }

    /// Whether the run models faults (cloud limits or outages, device failures): the request
    /// table then has its fault columns.
    pub fn has_faults(&self) -> bool {
        self.cloud.can_refuse() || self.has_device_faults()
    }

    /// Number of edge devices (groups expanded).
    pub fn device_count(&self) -> usize {
        self.fleet.iter().map(|g| g.count as usize).sum()
    }

    /// Every device in order: its group and its name.
    pub fn devices(&self) -> impl Iterator<Item = (&DeviceGroup, String)> + '_ {
        self.fleet
            .iter()
            .flat_map(|g| (0..g.count).map(move |k| (g, g.device_name(k))))
    }
}

/// The pools of boards that serve classes restricted to some device groups
/// ([`Scenario::device_pools`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevicePools {
    /// Each pool's groups (indices into the fleet, in fleet order), pool 0 every group; a
    /// pool may have none.
    pub groups: Vec<Vec<usize>>,
    /// Each class's pool.
    pub of_class: Vec<u16>,
    /// Whether pool 0 serves a class that meets boards.
    pub whole_used: bool,
}

impl DevicePools {
    /// Per group of the fleet's `groups`, the pools it is in besides pool 0.
    pub fn of_group(&self, groups: usize) -> Vec<Vec<u16>> {
        let mut of = vec![Vec::new(); groups];
        for (k, gs) in self.groups.iter().enumerate().skip(1) {
            for &g in gs {
                of[g].push(k as u16);
            }
        }
        of
    }
}

/// Each class's `devices` must name groups of the fleet, each once.
fn check_class_devices(cx: &Checker, classes: &[ClassSpec], fleet: &[DeviceGroup]) -> Result<()> {
    // Sets, not scans: a class may name tens of thousands of groups.
    let groups: std::collections::HashSet<&str> = fleet.iter().map(|g| g.name.as_str()).collect();
    for (i, c) in classes.iter().enumerate() {
        let mut listed = std::collections::HashSet::new();
        for (j, name) in c.devices.iter().flatten().enumerate() {
            let key = format!("workload.classes[{i}].devices[{j}]");
            if !listed.insert(name.as_str()) {
                return Err(cx.bad(
                    key,
                    format!("\"{name}\""),
                    "names a device group listed before it; list each group once",
                ));
            }
            if !groups.contains(name.as_str()) {
                let mut names: Vec<&str> = Vec::new();
                let mut seen = std::collections::HashSet::new();
                for g in fleet {
                    if seen.insert(g.name.as_str()) {
                        names.push(&g.name);
                    }
                }
                let known = crate::check::known_names(
                    &names,
                    "the groups are",
                    "the scenario has no [[devices]] group",
                );
                return Err(cx.bad(
                    key,
                    format!("\"{name}\""),
                    format!(
                        "must be the `name` of a [[devices]] group whose boards may serve the \
                         class; {known}"
                    ),
                ));
            }
        }
    }
    Ok(())
}
