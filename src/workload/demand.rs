//! Request classes and token demand: what each request asks for, as written
//! ([`ClassFile`], the workload's `prompt_tokens`/`output_tokens`) and validated
//! ([`DemandSpec`]), and the sampler the workloads draw from ([`Demand`]).

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use super::tokens::{TokenDist, TokenDistFile};
use crate::catalogue::ModelCatalogue;
use crate::check::Checker;
use crate::error::Result;
use crate::rng::SimRng;

fn default_share() -> f64 {
    1.0
}

/// `[[workload.classes]]` as written.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClassFile {
    /// Class name.
    pub name: String,
    /// Relative share of requests.
    #[serde(default = "default_share")]
    pub share: f64,
    /// Task the class measures quality on (a key of the model catalogue's `quality` tables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// Prompt tokens of this class (default: the workload's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<TokenDistFile>,
    /// Output tokens of this class (default: the workload's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<TokenDistFile>,
    /// The longest this class's requests wait in an edge queue \[ms\] (default:
    /// `routing.queue_timeout_ms`; 0: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_timeout_ms: Option<f64>,
    /// Predictive admission for this class \[ms\]: a board whose predicted queue wait for
    /// its request is longer is skipped (default: `routing.max_predicted_wait_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_predicted_wait_ms: Option<f64>,
    /// Queue priority, 0 (the default) to 255: a board's free slot goes to its queued request
    /// of the highest priority, first come first served within one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<PriorityFile>,
    /// Where its requests may be served (default: the edge first, then the cloud).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<ClassRoute>,
    /// Its own limit under `[rate_limit]` with `scope = "class"` (default: `rate_limit.limit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<f64>,
    /// The `[[devices]]` groups (by `name`) whose boards may serve it (default: every board).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<Vec<String>>,
}

/// A class's `priority` as written: read as any number, so that `1.5` or `-1` is refused in
/// the key's own words (a whole number from 0 to 255), and written back as a whole number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PriorityFile(pub f64);

impl Serialize for PriorityFile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let p = self.0;
        if p.fract() == 0.0 && (0.0..=f64::from(MAX_PRIORITY)).contains(&p) {
            s.serialize_i64(p as i64)
        } else {
            s.serialize_f64(p)
        }
    }
}

impl<'de> Deserialize<'de> for PriorityFile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        f64::deserialize(d).map(PriorityFile)
    }
}

/// Where a class's requests may be served (`workload.classes[].route`).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ClassRoute {
    /// An edge device as the policy picks it, else the cloud: the edge-first rule.
    #[default]
    EdgeFirst,
    /// The cloud only: its requests never reach an edge device (a task the edge models do
    /// poorly, prompts longer than the boards hold).
    Cloud,
    /// The edge only: a request that would go to the cloud (no device took it, or it left
    /// one at its queue timeout or failure with the cloud as the rule) is rejected instead
    /// (data that may not leave the site).
    EdgeOnly,
}

impl ClassRoute {
    /// Its name in a file.
    pub fn name(self) -> &'static str {
        match self {
            ClassRoute::EdgeFirst => "edge_first",
            ClassRoute::Cloud => "cloud",
            ClassRoute::EdgeOnly => "edge_only",
        }
    }
}

/// The most request classes a scenario may have: a request's class, and the device pool of
/// a class (one more, the pool of every board), are 16-bit indices.
pub const MAX_CLASSES: usize = u16::MAX as usize;

/// The most a class's `priority` may be.
pub const MAX_PRIORITY: u8 = u8::MAX;

/// A validated request class.
#[derive(Clone, Debug)]
pub struct ClassSpec {
    /// Name.
    pub name: String,
    /// Relative share of requests.
    pub share: f64,
    /// Task for quality lookups (default: `metrics.task`).
    pub task: Option<String>,
    /// The class's own prompt tokens (else the workload's).
    pub prompt_tokens: Option<TokenDist>,
    /// The class's own output tokens (else the workload's).
    pub output_tokens: Option<TokenDist>,
    /// The class's own queue timeout \[ms\] (else `routing.queue_timeout_ms`; 0: no limit).
    pub queue_timeout_ms: Option<f64>,
    /// The class's own bound on a board's predicted queue wait \[ms\] (else
    /// `routing.max_predicted_wait_ms`).
    pub max_predicted_wait_ms: Option<f64>,
    /// Queue priority as written (`None`: 0).
    pub priority: Option<u8>,
    /// Where its requests may be served, as written (`None`: the edge first).
    pub route: Option<ClassRoute>,
    /// Its own limit under a rate limit per class, as written (checked against the rate
    /// limit's unit by the scenario; `None`: `rate_limit.limit`).
    pub quota: Option<f64>,
    /// The device groups whose boards may serve it, as written (checked against the fleet by
    /// the scenario; `None`: every board).
    pub devices: Option<Vec<String>>,
}

impl ClassSpec {
    /// Its queue priority (0 unless given).
    pub fn priority(&self) -> u8 {
        self.priority.unwrap_or(0)
    }

    /// Where its requests may be served.
    pub fn route(&self) -> ClassRoute {
        self.route.unwrap_or_default()
    }
}

/// Validated demand: the workload-level token distributions and the classes.
#[derive(Clone, Debug)]
pub struct DemandSpec {
    /// Prompt tokens of classes that give none.
    pub prompt_tokens: Option<TokenDist>,
    /// Output tokens of classes that give none.
    pub output_tokens: Option<TokenDist>,
    /// The classes (at least one).
    pub classes: Vec<ClassSpec>,
    /// No class was written: `classes` is the single class `default`.
    pub implicit_class: bool,
}

/// The demand keys of a workload section as written.
pub struct DemandFiles<'a> {
    /// `prompt_tokens`.
    pub prompt_tokens: Option<&'a TokenDistFile>,
    /// `output_tokens`.
    pub output_tokens: Option<&'a TokenDistFile>,
    /// `classes`.
    pub classes: &'a [ClassFile],
}

impl DemandSpec {
    /// Validates the demand keys; `from_trace`: the token counts come from a trace, so no
    /// distribution may be given.
    pub fn from_files(
        cx: &Checker,
        f: DemandFiles<'_>,
        from_trace: bool,
        catalogue: &ModelCatalogue,
    ) -> Result<DemandSpec> {
        let dist = |key: &str, d: Option<&TokenDistFile>| {
            d.map(|d| TokenDist::from_file(cx, key, d)).transpose()
        };
        let prompt_tokens = dist("workload.prompt_tokens", f.prompt_tokens)?;
        let output_tokens = dist("workload.output_tokens", f.output_tokens)?;
        let implicit_class = f.classes.is_empty();
        if f.classes.len() > MAX_CLASSES {
            return Err(cx.bad(
                "workload.classes",
                format!("({} classes)", f.classes.len()),
                format!("at most {MAX_CLASSES} request classes are allowed"),
            ));
        }
        let default_class = [ClassFile {
            name: "default".into(),
            share: 1.0,
            task: None,
            prompt_tokens: None,
            output_tokens: None,
            queue_timeout_ms: None,
            max_predicted_wait_ms: None,
            priority: None,
            route: None,
            quota: None,
            devices: None,
        }];
        let raw = if implicit_class {
            &default_class[..]
        } else {
            f.classes
        };
        let mut names = std::collections::BTreeSet::new();
        let mut classes = Vec::new();
        let mut total_share = 0.0;
        for (i, c) in raw.iter().enumerate() {
            let key = |k: &str| format!("workload.classes[{i}].{k}");
            if c.name.trim().is_empty() || !names.insert(c.name.clone()) {
                return Err(cx.bad(
                    key("name"),
                    format!("\"{}\"", c.name),
                    "class names must be non-empty and unique",
                ));
            }
            let share = cx.positive(&key("share"), c.share)?;
            total_share += share;
            if !total_share.is_finite() {
                return Err(cx.bad(
                    key("share"),
                    share,
                    "the shares of all classes must add up to a finite number",
                ));
            }
            let own = |which: &str, d: &Option<TokenDistFile>, default: &Option<TokenDist>| {
                if from_trace {
                    if d.is_some() {
                        return Err(cx.bad(
                            key(which),
                            "(set)",
                            "trace workloads take token counts from the trace",
                        ));
                    }
                    return Ok(None);
                }
                match (d, default) {
                    (Some(d), _) => TokenDist::from_file(cx, &key(which), d).map(Some),
                    (None, Some(_)) => Ok(None),
                    (None, None) => Err(cx.bad(
                        format!("workload.{which}"),
                        "(missing)",
                        format!(
                            "give workload.{which} (e.g. {{ dist = \"fixed\", value = 128 }}) or set it in every class"
                        ),
                    )),
                }
            };
            classes.push(ClassSpec {
                name: c.name.clone(),
                share,
                task: c.task.clone(),
                prompt_tokens: own("prompt_tokens", &c.prompt_tokens, &prompt_tokens)?,
                output_tokens: own("output_tokens", &c.output_tokens, &output_tokens)?,
                queue_timeout_ms: c
                    .queue_timeout_ms
                    .map(|ms| {
                        cx.interval_ms(
                            &key("queue_timeout_ms"),
                            ms,
                            "no limit for this class, whatever routing.queue_timeout_ms says",
                        )
                    })
                    .transpose()?,
                max_predicted_wait_ms: c
                    .max_predicted_wait_ms
                    .map(|ms| {
                        crate::sim::check_predicted_wait_ms(cx, &key("max_predicted_wait_ms"), ms)
                    })
                    .transpose()?,
                priority: c
                    .priority
                    .map(|PriorityFile(p)| {
                        if p.fract() == 0.0 && (0.0..=f64::from(MAX_PRIORITY)).contains(&p) {
                            return Ok(p as u8);
                        }
                        Err(cx.bad(
                            key("priority"),
                            crate::check::num(p),
                            format!(
                                "must be a whole number in [0, {MAX_PRIORITY}] (higher is served \
                                 first; 0, the default, last)"
                            ),
                        ))
                    })
                    .transpose()?,
                route: c.route,
                quota: c.quota,
                devices: c.devices.clone(),
            });
        }
        for (i, c) in classes.iter().enumerate() {
            if let Some(t) = c.task.as_deref() {
                crate::metrics::settings::check_task(
                    cx,
                    catalogue,
                    &format!("workload.classes[{i}].task"),
                    t,
                )?;
            }
        }
        Ok(DemandSpec {
            prompt_tokens,
            output_tokens,
            classes,
            implicit_class,
        })
    }

    /// The workload-level distributions and the classes as written.
    pub fn to_files(&self) -> (Option<TokenDistFile>, Option<TokenDistFile>, Vec<ClassFile>) {
        let classes = if self.implicit_class {
            Vec::new()
        } else {
            self.classes
                .iter()
                .map(|c| ClassFile {
                    name: c.name.clone(),
                    share: c.share,
                    task: c.task.clone(),
                    prompt_tokens: c.prompt_tokens.as_ref().map(TokenDist::to_file),
                    output_tokens: c.output_tokens.as_ref().map(TokenDist::to_file),
                    queue_timeout_ms: c.queue_timeout_ms,
                    max_predicted_wait_ms: c.max_predicted_wait_ms,
                    priority: c.priority.map(|p| PriorityFile(f64::from(p))),
                    route: c.route,
                    quota: c.quota,
                    devices: c.devices.clone(),
                })
                .collect()
        };
        (
            self.prompt_tokens.as_ref().map(TokenDist::to_file),
            self.output_tokens.as_ref().map(TokenDist::to_file),
            classes,
        )
    }

    /// Class `c`'s prompt and output distributions (own, else the workload's; a trace
    /// workload's placeholder `Fixed(1)`, never drawn).
    pub fn dists(&self, c: usize) -> (TokenDist, TokenDist) {
        let class = &self.classes[c];
        let pick = |own: &Option<TokenDist>, default: &Option<TokenDist>| {
            own.clone()
                .or_else(|| default.clone())
                .unwrap_or(TokenDist::Fixed(1))
        };
        (
            pick(&class.prompt_tokens, &self.prompt_tokens),
            pick(&class.output_tokens, &self.output_tokens),
        )
    }

    /// The largest prompt and output a request can have (traces: `None`).
    pub fn max_tokens(&self) -> (u32, u32) {
        (0..self.classes.len())
            .map(|c| {
                let (p, o) = self.dists(c);
                (p.max_tokens(), o.max_tokens())
            })
            .fold((1, 1), |a, b| (a.0.max(b.0), a.1.max(b.1)))
    }
}

/// One class as the sampler sees it.
#[derive(Clone, Debug)]
struct Class {
    prompt: TokenDist,
    output: TokenDist,
}

/// Draws a request's class and token counts.
#[derive(Clone, Debug)]
pub struct Demand {
    classes: Vec<Class>,
    cumulative: Vec<f64>,
}

impl Demand {
    /// The sampler of validated demand.
    pub fn new(spec: &DemandSpec) -> Demand {
        let mut acc = 0.0;
        let cumulative = spec
            .classes
            .iter()
            .map(|c| {
                acc += c.share;
                acc
            })
            .collect();
        Demand {
            classes: (0..spec.classes.len())
                .map(|c| {
                    let (prompt, output) = spec.dists(c);
                    Class { prompt, output }
                })
                .collect(),
            cumulative,
        }
    }

    /// Picks a class by share. With one class no random number is used.
    pub fn class<R: Rng + ?Sized>(&self, rng: &mut R) -> u16 {
        if self.classes.len() == 1 {
            return 0;
        }
        let total = self.cumulative[self.cumulative.len() - 1];
        let x = rng.random::<f64>() * total;
        self.cumulative
            .partition_point(|c| *c <= x)
            .min(self.classes.len() - 1) as u16
    }

    /// Class `c`'s prompt and output tokens, drawn from one stream.
    pub fn tokens<R: Rng + ?Sized>(&self, c: u16, rng: &mut R) -> (u32, u32) {
        let class = &self.classes[usize::from(c)];
        let p = class.prompt.sample(rng);
        (p, class.output.sample(rng))
    }

    /// Draws `(class, prompt, output)` from three streams.
    pub fn draw(
        &self,
        class_rng: &mut SimRng,
        prompt_rng: &mut SimRng,
        output_rng: &mut SimRng,
    ) -> (u16, u32, u32) {
        let c = self.class(class_rng);
        let class = &self.classes[usize::from(c)];
        (
            c,
            class.prompt.sample(prompt_rng),
            class.output.sample(output_rng),
        )
    }
}

/// The three token/class streams of an open-loop workload.
#[derive(Clone, Debug)]
pub(crate) struct DemandStreams {
    pub class: SimRng,
    pub prompt: SimRng,
    pub output: SimRng,
}

impl DemandStreams {
    pub(crate) fn new(streams: &crate::rng::RngStreams) -> Self {
        DemandStreams {
            class: streams.stream("class"),
            prompt: streams.stream("prompt_tokens"),
            output: streams.stream("output_tokens"),
        }
    }
    pub(crate) fn draw(&mut self, demand: &Demand) -> (u16, u32, u32) {
        demand.draw(&mut self.class, &mut self.prompt, &mut self.output)
    }
}
