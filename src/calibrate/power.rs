//! Power during calibration: Jetson INA3221 rails (as tegrastats reads them), Intel/AMD RAPL
//! energy counters, an external meter's CSV, or fixed values from flags.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Error, Result};
use crate::workload::trace::{csv_fields, csv_header};

/// A power meter that can report the mean power over an interval.
pub enum Meter {
    /// RAPL package energy counters (`/sys/class/powercap/intel-rapl:N/energy_uj`).
    Rapl(Vec<PathBuf>),
    /// INA3221 channels (hwmon): (voltage file \[mV\], current file \[mA\]).
    Ina3221(Vec<(PathBuf, PathBuf)>),
}

/// Where the watts of a phase come from.
pub enum Source {
    /// A meter on this machine.
    Meter(Meter),
    /// An external meter's CSV (`unix_time_s,watts`), read after the measurements.
    Csv(PathBuf),
    /// Fixed values from `--idle-watts/--busy-watts`.
    Flags,
}

impl Source {
    /// A short name for the profile.
    pub fn name(&self) -> &'static str {
        match self {
            Source::Meter(Meter::Rapl(_)) => "rapl",
            Source::Meter(Meter::Ina3221(_)) => "ina3221",
            Source::Csv(_) => "csv",
            Source::Flags => "flags",
        }
    }
}

/// Finds a readable meter: INA3221 first (Jetson boards), then RAPL.
pub fn detect() -> Option<Meter> {
    detect_in(Path::new("/sys"))
}

fn readable(p: &Path) -> bool {
    std::fs::read_to_string(p).is_ok_and(|s| s.trim().parse::<f64>().is_ok())
}

/// [`detect`] under another sysfs root (for tests).
pub fn detect_in(sys: &Path) -> Option<Meter> {
    let mut ina = Vec::new();
    if let Ok(dirs) = std::fs::read_dir(sys.join("class/hwmon")) {
        let mut dirs: Vec<PathBuf> = dirs.filter_map(|e| e.ok().map(|e| e.path())).collect();
        dirs.sort();
        for d in dirs {
            let name = std::fs::read_to_string(d.join("name")).unwrap_or_default();
            if !name.trim().starts_with("ina3221") {
                continue;
            }
            let mut channels = Vec::new();
            for i in 1..=3 {
                let (v, c) = (
                    d.join(format!("in{i}_input")),
                    d.join(format!("curr{i}_input")),
                );
                if readable(&v) && readable(&c) {
                    let label =
                        std::fs::read_to_string(d.join(format!("in{i}_label"))).unwrap_or_default();
                    // VDD_IN is the whole board's input on Orin modules: use it alone if present.
                    if label.trim() == "VDD_IN" {
                        channels = vec![(v, c)];
                        break;
                    }
                    channels.push((v, c));
                }
            }
            ina.extend(channels);
        }
    }
    if !ina.is_empty() {
        return Some(Meter::Ina3221(ina));
    }
    let mut rapl: Vec<PathBuf> = std::fs::read_dir(sys.join("class/powercap"))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                // Packages only (intel-rapl:0), not their sub-domains (intel-rapl:0:0).
                n.starts_with("intel-rapl:") && n.matches(':').count() == 1
            })
        })
        .map(|p| p.join("energy_uj"))
        .filter(|p| readable(p))
        .collect();
    rapl.sort();
    (!rapl.is_empty()).then_some(Meter::Rapl(rapl))
}

fn read_f64(p: &Path) -> Option<f64> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

impl Meter {
    /// Mean power over running `work` \[W\], and what `work` returned. INA3221 is sampled every
    /// 50 ms on a helper thread; RAPL counters are read before and after (with wrap-around).
    pub fn measure<T>(&self, work: impl FnOnce() -> T) -> (Option<f64>, T) {
        match self {
            Meter::Rapl(files) => {
                let before: Vec<Option<f64>> = files.iter().map(|f| read_f64(f)).collect();
                let t0 = Instant::now();
                let out = work();
                let dt = t0.elapsed().as_secs_f64();
                let mut joules = 0.0;
                for (f, b) in files.iter().zip(before) {
                    let (Some(b), Some(a)) = (b, read_f64(f)) else {
                        return (None, out);
                    };
                    let range = f
                        .parent()
                        .and_then(|d| read_f64(&d.join("max_energy_range_uj")))
                        .unwrap_or(0.0);
                    let delta = if a >= b { a - b } else { a + range - b };
                    joules += delta / 1e6;
                }
                ((dt > 0.0).then(|| joules / dt), out)
            }
            Meter::Ina3221(channels) => {
                let stop = std::sync::atomic::AtomicBool::new(false);
                std::thread::scope(|s| {
                    let sampler = s.spawn(|| {
                        let mut samples = Vec::new();
                        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                            let w: Option<f64> = channels
                                .iter()
                                .map(|(v, c)| Some(read_f64(v)? * read_f64(c)? / 1e6))
                                .sum();
                            samples.extend(w);
                            std::thread::sleep(Duration::from_millis(50));
                        }
                        samples
                    });
                    let out = work();
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    let samples = sampler.join().unwrap_or_default();
                    let mean = (!samples.is_empty())
                        .then(|| samples.iter().sum::<f64>() / samples.len() as f64);
                    (mean, out)
                })
            }
        }
    }
}

/// Wall-clock seconds since the Unix epoch (for aligning an external meter's CSV).
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The columns a power CSV's header must name.
const COLUMNS: [&str; 2] = ["unix_time_s", "watts"];

/// Checks the header of an external meter's CSV before a calibration measures anything, if
/// the file exists already (a meter logging since before the run): a header that
/// [`csv_means`] would refuse after minutes of measurements is refused at once. A file that
/// does not exist yet, or holds no line yet, is read after the measurements as usual.
pub fn check_csv_header(path: &Path) -> Result<()> {
    use std::io::{BufRead as _, Read as _};
    if !path.exists() {
        return Ok(());
    }
    let file = crate::check::open_input(path, "power CSV", crate::check::MAX_DATA_BYTES)?;
    // A header is a short line: read no more than 64 KiB looking for it.
    let reader = std::io::BufReader::new(file.take(1 << 16));
    for (i, line) in reader.lines().enumerate() {
        let Ok(line) = line else {
            // Not text (or cut inside a character): csv_means says so with the whole file.
            return Ok(());
        };
        if line.trim().is_empty() {
            continue;
        }
        return csv_header(&line, COLUMNS)
            .map(|_| ())
            .map_err(|problem| Error::Line {
                path: path.into(),
                line: i + 1,
                problem,
            });
    }
    Ok(())
}

/// What a meter's CSV says of some time spans ([`csv_means`]).
#[derive(Clone, Debug, PartialEq)]
pub struct CsvMeans {
    /// Per span, the mean of the readings in it (`None` where none lies there).
    pub means: Vec<Option<f64>>,
    /// How many readings the file holds.
    pub readings: u64,
    /// The first and last Unix time among them (for an error that says where they lie).
    pub span: Option<(f64, f64)>,
    /// The line number of a last row without its line break, which is not read: the meter may
    /// still have been writing it.
    pub unread_line: Option<usize>,
}

/// The mean of an external meter's readings in each of `spans` (`from`, `to`, Unix seconds,
/// both included), in one reading of the file. The CSV's first line is a header naming the
/// columns `unix_time_s` and `watts`, in any order; other columns are ignored.
pub fn csv_means(path: &Path, spans: &[(f64, f64)]) -> Result<CsvMeans> {
    let mut sums = vec![(0.0, 0u32); spans.len()];
    let (mut readings, mut span) = (0u64, None::<(f64, f64)>);
    let unread_line = csv_readings(path, |t, w| {
        for (&(from, to), (sum, n)) in spans.iter().zip(&mut sums) {
            if t >= from && t <= to {
                *sum += w;
                *n += 1;
            }
        }
        readings += 1;
        span = Some(span.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
    })?;
    Ok(CsvMeans {
        means: sums
            .into_iter()
            .map(|(sum, n)| (n > 0).then(|| sum / f64::from(n)))
            .collect(),
        readings,
        span,
        unread_line,
    })
}

/// Reads a meter's CSV (checked as [`csv_means`] says) and hands each reading `(unix_time_s,
/// watts)` to `each`, in file order; any bad row is refused with its line number. A last row
/// without its line break may be one the meter is still writing (a logger flushes its buffer
/// at any byte), cut anywhere, even within a number that still reads as one (`4.5` of
/// `4.56`): it is not read, and its line number is returned.
fn csv_readings(path: &Path, mut each: impl FnMut(f64, f64)) -> Result<Option<usize>> {
    use crate::check::{EXCERPT_CHARS, excerpt};
    let text = crate::check::read_text(path, "power CSV", crate::check::MAX_DATA_BYTES)?;
    let err = |line: usize, problem: String| Error::Line {
        path: path.into(),
        line,
        problem,
    };
    let max = crate::device::profile::MAX_WATTS;
    let mut header: Option<(usize, [usize; 2])> = None;
    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        if line.trim().is_empty() {
            continue;
        }
        let Some((width, [t_at, w_at])) = header else {
            header = Some(csv_header(line, COLUMNS).map_err(|p| err(i + 1, p))?);
            continue;
        };
        if lines.peek().is_none() && !text.ends_with('\n') {
            return Ok(Some(i + 1));
        }
        let row = csv_fields(line).and_then(|cells| {
            let parse = |at: usize| cells.get(at).and_then(|s| s.parse::<f64>().ok());
            let (Some(t), Some(w), true) = (parse(t_at), parse(w_at), cells.len() == width) else {
                return Err(format!(
                    "expected {width} comma-separated fields as in the header, with numbers in \
                     unix_time_s (column {}) and watts (column {}), got `{}`",
                    t_at + 1,
                    w_at + 1,
                    excerpt(line, EXCERPT_CHARS)
                ));
            };
            if !(t.is_finite() && w.is_finite() && (0.0..=max).contains(&w)) {
                return Err(format!(
                    "unix_time_s = {}, watts = {}: a time must be finite and a reading finite \
                     and from 0 to {max} W, got `{}`",
                    crate::check::num(t),
                    crate::check::num(w),
                    excerpt(line, EXCERPT_CHARS)
                ));
            }
            Ok((t, w))
        });
        let (t, w) = row.map_err(|problem| err(i + 1, problem))?;
        each(t, w);
    }
    if header.is_none() {
        return Err(err(
            1,
            "empty power CSV; expected a header naming unix_time_s and watts".into(),
        ));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mean of the file's readings from `from` to `to`.
    fn csv_mean(path: &Path, from: f64, to: f64) -> Result<Option<f64>> {
        Ok(csv_means(path, &[(from, to)])?.means[0])
    }

    /// How many readings the file holds, and their first and last time.
    fn csv_span(path: &Path) -> Result<(u64, Option<(f64, f64)>)> {
        let m = csv_means(path, &[])?;
        Ok((m.readings, m.span))
    }

    #[test]
    fn ina3221_and_rapl_detection_on_a_fake_sysfs() {
        let root = std::env::temp_dir().join(format!("edgesim-sysfs-{}", std::process::id()));
        let hw = root.join("class/hwmon/hwmon3");
        std::fs::create_dir_all(&hw).unwrap();
        std::fs::write(hw.join("name"), "ina3221\n").unwrap();
        for (i, label, mv, ma) in [
            (1, "VDD_IN", "5000", "1500"),
            (2, "VDD_CPU_GPU_CV", "5000", "400"),
        ] {
            std::fs::write(hw.join(format!("in{i}_label")), label).unwrap();
            std::fs::write(hw.join(format!("in{i}_input")), mv).unwrap();
            std::fs::write(hw.join(format!("curr{i}_input")), ma).unwrap();
        }
        let m = detect_in(&root).unwrap();
        let (w, ()) = m.measure(|| std::thread::sleep(Duration::from_millis(120)));
        // VDD_IN alone: 5 V x 1.5 A.
        assert!((w.unwrap() - 7.5).abs() < 1e-9, "{w:?}");

        std::fs::remove_dir_all(root.join("class/hwmon")).unwrap();
        let pkg = root.join("class/powercap/intel-rapl:0");
        std::fs::create_dir_all(pkg.join("x")).unwrap();
        std::fs::create_dir_all(root.join("class/powercap/intel-rapl:0:0")).unwrap();
        std::fs::write(pkg.join("energy_uj"), "1000000").unwrap();
        let Some(Meter::Rapl(files)) = detect_in(&root) else {
            panic!("no RAPL")
        };
        assert_eq!(files, vec![pkg.join("energy_uj")]);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn external_meter_csv_window_mean() {
        let p = std::env::temp_dir().join(format!("edgesim-meter-{}.csv", std::process::id()));
        std::fs::write(&p, "unix_time_s,watts\n10,5\n11,7\n12,9\n13,100\n").unwrap();
        assert_eq!(csv_mean(&p, 10.5, 12.0).unwrap(), Some(8.0));
        assert_eq!(csv_mean(&p, 20.0, 30.0).unwrap(), None);
        assert_eq!(csv_span(&p).unwrap(), (4, Some((10.0, 13.0))));
        // A last line without its line break, perhaps cut while the meter writes it: not
        // read, whether it reads as a row (here "12,9", perhaps "12,95" cut: until
        // 2026-12-06 it was read) or not ("12,"), and its line number told; refused once it
        // ends.
        for cut in ["12,", "12,9", "12,95", "1", "12,9\r"] {
            std::fs::write(&p, format!("unix_time_s,watts\n10,5\n\n11,7\n{cut}")).unwrap();
            let m = csv_means(&p, &[(0.0, 100.0)]).unwrap();
            assert_eq!(
                (m.means[0], m.readings, m.unread_line),
                (Some(6.0), 2, Some(5))
            );
        }
        std::fs::write(&p, "unix_time_s,watts\n10,5\n11,7\n12,9\n").unwrap();
        let m = csv_means(&p, &[(0.0, 100.0)]).unwrap();
        assert_eq!((m.means[0], m.unread_line), (Some(7.0), None));
        std::fs::write(&p, "unix_time_s,watts").unwrap();
        assert_eq!(csv_span(&p).unwrap(), (0, None));
        std::fs::write(&p, "unix_time_s,watts\n10,5\n11,7\n12,\n").unwrap();
        let e = csv_mean(&p, 0.0, 100.0).unwrap_err().to_string();
        assert!(e.contains(":4:") && e.contains("`12,`"), "{e}");
        std::fs::write(&p, "unix_time_s,watts\n10,five\n").unwrap();
        let e = csv_mean(&p, 0.0, 1.0).unwrap_err().to_string();
        assert!(e.contains(":2:") && e.contains("10,five"), "{e}");
        // Readings that are not power: refused with their line, wherever they lie.
        for bad in ["11,nan", "11,-0.5", "11,inf", "nan,5", "11,1e9"] {
            std::fs::write(&p, format!("unix_time_s,watts\n10,5\n{bad}\n")).unwrap();
            let e = csv_mean(&p, 0.0, 1.0).unwrap_err().to_string();
            assert!(e.contains(":3:") && e.contains(bad), "{e}");
        }
        // Columns are found by the header's names, in any order, others ignored.
        std::fs::write(
            &p,
            "\u{feff}meter, watts,unix_time_s\nA,5,10\nA,7,11\n\"A\",9,12\n",
        )
        .unwrap();
        assert_eq!(csv_mean(&p, 10.5, 12.0).unwrap(), Some(8.0));
        // A file without its header, or with other names, was read by position, its first
        // reading lost: now refused, naming what the header lacks.
        for (text, want) in [
            (
                "10,5\n11,7\n",
                "header has no column `unix_time_s` (found: 10,5;",
            ),
            (
                "time,power\n10,5\n",
                "header has no column `unix_time_s` (found: time,power;",
            ),
            ("unix_time_s,W\n10,5\n", "header has no column `watts`"),
            (
                "watts,unix_time_s,watts\n",
                "header names column `watts` twice (columns 1 and 3)",
            ),
            ("\n\n", "empty power CSV"),
        ] {
            std::fs::write(&p, text).unwrap();
            let e = csv_mean(&p, 0.0, 1.0).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
        // A header refused after the measurements is refused before them, if the file
        // exists; a file the meter has not written yet, or not begun, waits.
        std::fs::write(&p, "time,power\n10,5\n").unwrap();
        let e = check_csv_header(&p).unwrap_err().to_string();
        assert!(
            e.contains(":1:") && e.contains("no column `unix_time_s`"),
            "{e}"
        );
        for ok in ["\n\u{feff}watts,unix_time_s\n5,10\n", "", "\n\n"] {
            std::fs::write(&p, ok).unwrap();
            check_csv_header(&p).unwrap();
        }
        check_csv_header(&p.with_extension("not-yet")).unwrap();
        // A row without one of the columns names the row.
        std::fs::write(&p, "unix_time_s,watts,volts\n10,5,12\n11,7\n").unwrap();
        let e = csv_mean(&p, 0.0, 1.0).unwrap_err().to_string();
        assert!(
            e.contains(":3:") && e.contains("expected 3 comma-separated fields"),
            "{e}"
        );
        std::fs::remove_file(&p).unwrap();
    }
}
