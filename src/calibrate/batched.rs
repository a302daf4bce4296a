//! Importing llama.cpp's `llama-batched-bench` output: its Markdown table (`| PP | TG | B |
//! N_KV | T_PP s | S_PP t/s | T_TG s | S_TG t/s | T s | S t/s |`) or its JSON lines
//! (`--output-format jsonl`: keys `pp, tg, pl, n_kv, t_pp, speed_pp, t_tg, speed_tg, t,
//! speed`). Other lines (the tool's log) are skipped.
//!
//! Each row runs B = `pl` sequences of PP prompt tokens and TG generated tokens together.
//! `S_TG` = B·TG / T_TG is the aggregate decode throughput D(B) at a mean context of
//! PP + (TG + 1)/2 tokens per sequence: one decode point per row, so rows at several B give
//! the batching curve D(n). Rows with B = 1 give the prefill points (TTFT = T_PP for PP
//! tokens).
//!
//! The context effect γ is fitted only when the rows hold at least two prompt lengths PP:
//! TG lengths alone do not identify it (a longer generation also amortises the start; on
//! llama.cpp's own sample table, TG 128 vs 256 would give a γ whose correction more than
//! doubles D(32)). With one PP, γ = 0 and D(B) is the median S_TG over the TG lengths, at the
//! measured context.

use std::path::Path;

use serde::Deserialize;

use super::{DecodePoint, Measurements, PrefillPoint};
use crate::error::{Error, Result};

/// One llama-batched-bench row.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
pub struct BatchedRow {
    /// Prompt tokens per sequence (PP).
    pub pp: u32,
    /// Generated tokens per sequence (TG).
    pub tg: u32,
    /// Parallel sequences (B).
    pub pl: u32,
    /// Prompt-processing time \[s\] (T_PP).
    pub t_pp: f64,
    /// Aggregate generation speed \[tokens/s\] (S_TG).
    pub speed_tg: f64,
}

/// Reads a llama-batched-bench Markdown or JSONL file (rows in file order).
pub fn read(path: &Path) -> Result<Vec<BatchedRow>> {
    let text = crate::check::read_text(
        path,
        "llama-batched-bench output",
        crate::check::MAX_DATA_BYTES,
    )?;
    parse(path, &text)
}

fn parse(path: &Path, text: &str) -> Result<Vec<BatchedRow>> {
    let line_err = |line: usize, problem: String| Error::Line {
        path: path.into(),
        line,
        problem,
    };
    let mut rows = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.starts_with('{') {
            let r: BatchedRow = serde_json::from_str(l).map_err(|e| {
                line_err(
                    i + 1,
                    format!("not a llama-batched-bench JSONL record (keys pp, tg, pl, t_pp, speed_tg): {e}"),
                )
            })?;
            rows.push(r);
        } else if l.starts_with('|') {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            // Header and separator rows: the first cell is not a number.
            if cells.first().is_none_or(|c| c.parse::<u32>().is_err()) {
                continue;
            }
            if cells.len() < 10 {
                return Err(line_err(
                    i + 1,
                    format!(
                        "{} columns; llama-batched-bench rows have 10: PP TG B N_KV T_PP S_PP T_TG S_TG T S",
                        cells.len()
                    ),
                ));
            }
            let int = |k: usize, name: &str| {
                cells[k].parse::<u32>().map_err(|_| {
                    line_err(
                        i + 1,
                        format!("{name} = {:?}: not a whole number", cells[k]),
                    )
                })
            };
            let num = |k: usize, name: &str| {
                cells[k]
                    .parse::<f64>()
                    .map_err(|_| line_err(i + 1, format!("{name} = {:?}: not a number", cells[k])))
            };
            rows.push(BatchedRow {
                pp: int(0, "PP")?,
                tg: int(1, "TG")?,
                pl: int(2, "B")?,
                t_pp: num(4, "T_PP")?,
                speed_tg: num(7, "S_TG")?,
            });
        }
    }
    let (max_tokens, max_b) = (
        crate::workload::tokens::MAX_TOKENS,
        crate::device::fleet::MAX_SLOTS,
    );
    for (k, r) in rows.iter().enumerate() {
        // The D(n) curve has a point per stream count up to B: B = 4·10^9 asked for 32 GB.
        if r.pl > max_b || r.pp > max_tokens || r.tg > max_tokens {
            return Err(Error::Output {
                path: path.into(),
                problem: format!(
                    "row {} (PP {}, TG {}, B {}): needs B <= {max_b} (a device's most slots) \
                     and PP, TG <= {max_tokens} tokens",
                    k + 1,
                    r.pp,
                    r.tg,
                    r.pl
                ),
            });
        }
        let ok = r.pl >= 1
            && r.tg >= 1
            && r.speed_tg.is_finite()
            && r.speed_tg > 0.0
            && r.t_pp.is_finite()
            && r.t_pp >= 0.0;
        if !ok {
            return Err(Error::Output {
                path: path.into(),
                problem: format!(
                    "row {} (PP {}, TG {}, B {}): needs B >= 1, TG >= 1, S_TG > 0 and T_PP >= 0",
                    k + 1,
                    r.pp,
                    r.tg,
                    r.pl
                ),
            });
        }
    }
    if rows.is_empty() {
        return Err(Error::Output {
            path: path.into(),
            problem: "holds no llama-batched-bench result rows (Markdown `| PP | TG | B | ...` \
                      or `--output-format jsonl`)"
                .into(),
        });
    }
    Ok(rows)
}

/// Turns rows into measurements: prefill points from B = 1, one decode point per (B, context).
pub fn to_measurements(path: &Path, rows: &[BatchedRow]) -> Result<Measurements> {
    let mut pps: Vec<u32> = rows.iter().map(|r| r.pp).collect();
    pps.sort_unstable();
    pps.dedup();
    let with_context = pps.len() >= 2;
    let mut m = Measurements::default();
    for r in rows {
        if r.pl == 1 && r.pp > 0 && r.t_pp > 0.0 {
            match m.prefill.iter_mut().find(|p| p.prompt_tokens == r.pp) {
                Some(p) => p.ttft_s.push(r.t_pp),
                None => m.prefill.push(PrefillPoint {
                    prompt_tokens: r.pp,
                    ttft_s: vec![r.t_pp],
                }),
            }
        }
        let context = if with_context {
            f64::from(r.pp) + (f64::from(r.tg) + 1.0) / 2.0
        } else {
            0.0
        };
        match m
            .decode
            .iter_mut()
            .find(|d| d.streams == r.pl && d.mean_context_tokens == context)
        {
            Some(d) => d.tokens_per_s.push(r.speed_tg),
            None => m.decode.push(DecodePoint {
                streams: r.pl,
                mean_context_tokens: context,
                tokens_per_s: vec![r.speed_tg],
                power_w: None,
            }),
        }
    }
    if m.prefill.is_empty() || !m.decode.iter().any(|d| d.streams == 1) {
        return Err(Error::Output {
            path: path.into(),
            problem: "needs rows with B = 1 (`-npl 1,...` with `-npp` > 0): they give the \
                      prefill speed and D(1)"
                .into(),
        });
    }
    m.prefill.sort_by_key(|p| p.prompt_tokens);
    m.decode.sort_by(|a, b| {
        a.streams
            .cmp(&b.streams)
            .then(a.mean_context_tokens.total_cmp(&b.mean_context_tokens))
    });
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's example of llama-batched-bench (LLaMA-7B F16), Markdown with its log.
    const MD: &str = "main: n_kv_max = 16384, n_batch = 2048, n_ubatch = 512, flash_attn = 0\n\
        \n\
        |    PP |     TG |    B |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s |      T s |    S t/s |\n\
        |-------|--------|------|--------|----------|----------|----------|----------|----------|----------|\n\
        |   128 |    128 |    1 |    256 |    0.108 |  1186.64 |    3.079 |    41.57 |    3.187 |    80.32 |\n\
        |   128 |    128 |    2 |    512 |    0.198 |  1295.19 |    5.029 |    50.90 |    5.227 |    97.95 |\n\
        |   128 |    128 |    4 |   1024 |    0.373 |  1373.96 |    6.878 |    74.44 |    7.251 |   141.23 |\n\
        |   128 |    128 |    8 |   2048 |    0.751 |  1363.27 |    7.344 |   139.43 |    8.095 |   252.99 |\n";

    #[test]
    fn markdown_and_jsonl_give_the_same_rows() {
        let p = Path::new("bb.md");
        let md = parse(p, MD).unwrap();
        assert_eq!(md.len(), 4);
        assert_eq!(
            md[2],
            BatchedRow {
                pp: 128,
                tg: 128,
                pl: 4,
                t_pp: 0.373,
                speed_tg: 74.44
            }
        );
        let jsonl: String = md
            .iter()
            .map(|r| {
                format!(
                    "{{\"n_kv_max\": 16384, \"pp\": {}, \"tg\": {}, \"pl\": {}, \"n_kv\": 0, \"t_pp\": {}, \"speed_pp\": 1.0, \"t_tg\": 1.0, \"speed_tg\": {}, \"t\": 1.0, \"speed\": 1.0}}\n",
                    r.pp, r.tg, r.pl, r.t_pp, r.speed_tg
                )
            })
            .collect();
        assert_eq!(parse(p, &format!("log line\n{jsonl}")).unwrap(), md);
        let m = to_measurements(p, &md).unwrap();
        assert_eq!(m.prefill.len(), 1);
        assert_eq!(m.prefill[0].ttft_s, vec![0.108]);
        let d: Vec<(u32, f64)> = m
            .decode
            .iter()
            .map(|d| (d.streams, d.tokens_per_s[0]))
            .collect();
        assert_eq!(d, vec![(1, 41.57), (2, 50.9), (4, 74.44), (8, 139.43)]);
        // One prompt length: no context effect, the points at the measured context.
        assert_eq!(m.decode[0].mean_context_tokens, 0.0);
        let two_pp = format!(
            "{MD}|   512 |    128 |    1 |    640 |    0.4 |  1 |    3.2 |    40.0 |    1 |    1 |\n"
        );
        let m = to_measurements(p, &parse(p, &two_pp).unwrap()).unwrap();
        let ctx: Vec<f64> = m
            .decode
            .iter()
            .filter(|d| d.streams == 1)
            .map(|d| d.mean_context_tokens)
            .collect();
        assert_eq!(ctx, vec![128.0 + 64.5, 512.0 + 64.5]);
    }

    #[test]
    fn bad_rows_are_named() {
        let p = Path::new("bb.md");
        let e = parse(p, "| 128 | 128 | x | 1 | 1 | 1 | 1 | 1 | 1 | 1 |\n").unwrap_err();
        assert!(e.to_string().contains("B = \"x\""), "{e}");
        let e = parse(p, "| 128 | 128 | 1 | 1 |\n").unwrap_err();
        assert!(e.to_string().contains("4 columns"), "{e}");
        let e = parse(p, "nothing here\n").unwrap_err();
        assert!(e.to_string().contains("no llama-batched-bench"), "{e}");
        let e = parse(p, "{\"pp\": 1}\n").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        let e = parse(p, "| 128 | 128 | 2 | 1 | 1 | 1 | 1 | 0 | 1 | 1 |\n").unwrap_err();
        assert!(e.to_string().contains("S_TG > 0"), "{e}");
        // B = 4·10^9 asked for a 32 GB curve and aborted; PP and TG are bounded too.
        for row in [
            "| 128 | 128 | 4000000000 | 1 | 1 | 1 | 1 | 9 | 1 | 1 |\n",
            "| 4000000000 | 128 | 1 | 1 | 1 | 1 | 1 | 9 | 1 | 1 |\n",
            "| 128 | 10000001 | 1 | 1 | 1 | 1 | 1 | 9 | 1 | 1 |\n",
        ] {
            let e = parse(p, row).unwrap_err();
            assert!(e.to_string().contains("needs B <= 4096"), "{e}");
        }
        let rows = parse(p, "| 128 | 128 | 2 | 1 | 1 | 1 | 1 | 9 | 1 | 1 |\n").unwrap();
        let e = to_measurements(p, &rows).unwrap_err();
        assert!(e.to_string().contains("B = 1"), "{e}");
    }
}
