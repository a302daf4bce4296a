//! The `edgesim` command line. All logic lives in the library; this file parses arguments,
//! prints, and maps errors to exit code 2.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use edgesim::report;
use edgesim::scenario::file::SelectionKind;
use edgesim::scenario::{LoadOptions, Scenario};

#[derive(Parser)]
#[command(
    name = "edgesim",
    version,
    about = "Simulate edge-first LLM inference: edge devices running llama.cpp with cloud fallback"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct ScenarioArgs {
    /// Scenario file (TOML), e.g. scenarios/bursty.toml.
    scenario: PathBuf,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override a scenario key before validation: key.path=value (TOML value; repeatable),
    /// e.g. --set selection.kind=random --set workload.rate_rps=3.5
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

impl ScenarioArgs {
    fn load(&self) -> edgesim::Result<Scenario> {
        Scenario::load(
            &self.scenario,
            &LoadOptions {
                sets: self.sets.clone(),
                seed: self.seed,
            },
        )
    }
}

#[derive(clap::Args)]
struct TableArgs {
    /// Also write the tables as CSV (beside Parquet).
    #[arg(long)]
    csv: bool,
    /// Skip the per-request table (one row per request).
    #[arg(long)]
    no_requests: bool,
    /// Width of the time-series buckets in seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    bucket_s: f64,
}

impl TableArgs {
    fn options(&self) -> anyhow::Result<edgesim::output::OutputOptions> {
        use edgesim::output::{Format, OutputOptions, default_format};
        anyhow::ensure!(
            self.bucket_s.is_finite() && self.bucket_s >= 1e-3,
            "--bucket-s {}: must be at least 0.001 (seconds)",
            self.bucket_s
        );
        let mut formats = vec![default_format()];
        if self.csv && !formats.contains(&Format::Csv) {
            formats.push(Format::Csv);
        }
        Ok(OutputOptions {
            formats,
            requests: !self.no_requests,
            bucket_s: self.bucket_s,
        })
    }
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a scenario and print its summary.
    Run {
        #[command(flatten)]
        args: ScenarioArgs,
        /// Print the summary as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Output folder for summary.json, scenario.resolved.toml and the tables
        /// (requests, devices, timeseries, gateway) \[default: output/<scenario name>\].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write no output files.
        #[arg(long, conflicts_with = "out")]
        no_out: bool,
        #[command(flatten)]
        tables: TableArgs,
    },
    /// Run one scenario and seed under several selection policies and write the paper's
    /// Figure 4 panels, latency CDFs and arrivals vs redirections (PNG, SVG and the data as CSV).
    Compare {
        #[command(flatten)]
        args: ScenarioArgs,
        /// Selection policies, comma-separated.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "random,weighted,load_aware"
        )]
        policies: Vec<String>,
        /// Output folder \[default: output/<scenario name>-compare\].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Width of the time-series buckets in seconds.
        #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
        bucket_s: f64,
        /// Print the summaries as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Validate a scenario and print its resolved form without running it.
    Check {
        #[command(flatten)]
        args: ScenarioArgs,
    },
    /// Compare platforms (each device/model profile and cloud model) for one response: the
    /// paper's Table I (tokens/s, TTFT, power, energy, CPR, Q, R, U, PCR).
    Platforms {
        /// Folder of device profiles.
        #[arg(long, default_value = "calibration")]
        calibration: PathBuf,
        /// Prompt tokens of the response.
        #[arg(long, default_value_t = 50)]
        prompt_tokens: u32,
        /// Output tokens of the response.
        #[arg(long, default_value_t = 250)]
        output_tokens: u32,
        /// Weight of quality in U = a*Q + (1-a)*R, in \[0, 1\].
        #[arg(long, default_value_t = 0.5)]
        alpha: f64,
        /// Task whose quality is Q.
        #[arg(long, default_value = "gsm8k")]
        task: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run {
            args,
            json,
            out,
            no_out,
            tables,
        } => {
            let opts = tables.options()?;
            let sc = args.load()?;
            let summary = if no_out {
                edgesim::sim::run(&sc)
            } else {
                let dir = out.unwrap_or_else(|| PathBuf::from("output").join(&sc.name));
                let (summary, files) = edgesim::output::run_to_dir(&sc, &dir, &opts)?;
                if !json {
                    let names: Vec<String> = files
                        .iter()
                        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
                        .collect();
                    eprintln!("wrote {}: {}", dir.display(), names.join(", "));
                }
                summary
            };
            if json {
                print!("{}", report::to_json(&summary));
            } else {
                print!("{}", report::to_table(&summary));
            }
        }
        Command::Compare {
            args,
            policies,
            out,
            bucket_s,
            json,
        } => {
            anyhow::ensure!(
                bucket_s.is_finite() && bucket_s >= 1e-3,
                "--bucket-s {bucket_s}: must be at least 0.001 (seconds)"
            );
            let kinds = policies
                .iter()
                .map(|p| p.trim().parse::<SelectionKind>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!("--policies: {e}"))?;
            anyhow::ensure!(!kinds.is_empty(), "--policies: name at least one policy");
            let opts = LoadOptions {
                sets: args.sets.clone(),
                seed: args.seed,
            };
            let runs = edgesim::compare::run(&args.scenario, &opts, &kinds, bucket_s)?;
            let name = runs
                .first()
                .map(|r| r.summary.scenario.clone())
                .unwrap_or_default();
            let dir =
                out.unwrap_or_else(|| PathBuf::from("output").join(format!("{name}-compare")));
            let files = edgesim::compare::write(&dir, &name, &runs)?;
            if json {
                let all: Vec<_> = runs.iter().map(|r| &r.summary).collect();
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                print!("{}", edgesim::compare::to_table(&runs));
                eprintln!("wrote {} files to {}", files.len(), dir.display());
            }
        }
        Command::Check { args } => {
            let sc = args
                .load()
                .with_context(|| format!("{} is not a valid scenario", args.scenario.display()))?;
            print!("{}", sc.resolved_toml());
            eprintln!(
                "{}: ok ({} devices, {} classes)",
                args.scenario.display(),
                sc.devices.len(),
                sc.classes.len()
            );
        }
        Command::Platforms {
            calibration,
            prompt_tokens,
            output_tokens,
            alpha,
            task,
            json,
        } => {
            anyhow::ensure!(
                (0.0..=1.0).contains(&alpha),
                "--alpha {alpha}: must lie in [0, 1]"
            );
            anyhow::ensure!(
                output_tokens >= 1,
                "--output-tokens 0: a response has at least 1 token"
            );
            let p = edgesim::platforms::PlatformParams {
                prompt_tokens,
                output_tokens,
                alpha,
                task,
                ..Default::default()
            };
            let catalogue = edgesim::catalogue::ModelCatalogue::builtin();
            let rows = edgesim::platforms::compare(&calibration, &catalogue, &p)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({ "platforms": rows }))?
                );
            } else {
                print!("{}", edgesim::platforms::to_table(&rows, &p));
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
