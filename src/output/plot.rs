//! Renders [`Figure`]s to PNG and SVG with plotters (feature `plots`). Text is drawn with an
//! embedded DejaVu Sans (`assets/fonts`), so no system font packages are needed.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use super::figure::{Figure, Panel, PanelKind};
use crate::error::{Error, Result};

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// Tableau 10: distinguishable, print-friendly.
const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is compiled in; registering valid bytes cannot fail at run time.
        let _ = register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

type DrawResult<T, DB> =
    std::result::Result<T, DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

const WIDTH: u32 = 1100;
const PANEL_HEIGHT: u32 = 400;

fn size(fig: &Figure) -> (u32, u32) {
    (WIDTH, 60 + PANEL_HEIGHT * fig.panels.len().max(1) as u32)
}

/// Writes `dir/<name>.png` and `dir/<name>.svg` (each atomically); returns their paths.
pub fn render(fig: &Figure, dir: &Path) -> Result<Vec<PathBuf>> {
    ensure_font();
    let png = dir.join(format!("{}.png", fig.name));
    let svg = dir.join(format!("{}.svg", fig.name));
    let fail = |p: &Path, e: String| Error::Output {
        path: p.into(),
        problem: format!("cannot draw the figure: {e}"),
    };
    crate::report::create_folder(dir, dir, "cannot create")?;
    // The bitmap backend picks the encoder from the extension: the temporary ends in .png.
    let tmp = dir.join(format!(".{}.tmp-{}.png", fig.name, std::process::id()));
    let drawn = {
        let root = BitMapBackend::new(&tmp, size(fig)).into_drawing_area();
        draw(&root, fig).and_then(|()| root.present())
    };
    if let Err(e) = drawn {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(&png, e.to_string()));
    }
    std::fs::rename(&tmp, &png).map_err(Error::io(&png, "cannot write"))?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size(fig)).into_drawing_area();
        draw(&root, fig)
            .and_then(|()| root.present())
            .map_err(|e| fail(&svg, e.to_string()))?;
    }
    crate::report::write_atomic(&svg, text.as_bytes())?;
    Ok(vec![png, svg])
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, fig: &Figure) -> DrawResult<(), DB> {
    root.fill(&WHITE)?;
    let body = root.titled(&fig.title, (FAMILY, 26))?;
    let areas = body.split_evenly((fig.panels.len().max(1), 1));
    for (area, panel) in areas.iter().zip(&fig.panels) {
        match &panel.kind {
            PanelKind::Bars { categories } => bars(area, panel, categories)?,
            PanelKind::Lines { log_x } => lines(area, panel, *log_x)?,
        }
    }
    Ok(())
}

fn y_max(panel: &Panel) -> f64 {
    let m = panel
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|y| y.is_finite())
        .fold(0.0, f64::max);
    if m > 0.0 { m * 1.08 } else { 1.0 }
}

fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> DrawResult<(), DB> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font((FAMILY, 14))
        .draw()
}

fn bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    categories: &[String],
) -> DrawResult<(), DB> {
    let n = categories.len().max(1);
    let k = panel.series.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FAMILY, 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(90)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..y_max(panel))?;
    let label = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < categories.len() {
            categories[i as usize].clone()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n + 1)
        .x_label_formatter(&label)
        .y_label_formatter(&number)
        .x_desc(&panel.x_label)
        .y_desc(&panel.y_label)
        .label_style((FAMILY, 15))
        .axis_desc_style((FAMILY, 16))
        .draw()?;
    let w = 0.8 / k as f64;
    for (j, s) in panel.series.iter().enumerate() {
        let c = colour(j);
        chart
            .draw_series(s.points.iter().map(|&(x, y)| {
                let x0 = x - 0.4 + j as f64 * w;
                Rectangle::new([(x0, 0.0), (x0 + w * 0.92, y)], c.filled())
            }))?
            .label(&s.name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled()));
    }
    legend(&mut chart)
}

/// An axis number without trailing zeros (1200, 0.25, 1.5e6 as 1500000).
fn number(v: &f64) -> String {
    let r = (v * 1e6).round() / 1e6;
    format!("{r}")
}

/// A "nice" label for 10^v on a log axis.
fn pow10_label(v: &f64) -> String {
    let x = 10f64.powf(*v);
    if x >= 1.0 {
        format!("{}", (x * 100.0).round() / 100.0)
    } else {
        let digits = (-x.log10().floor()) as usize + 1;
        format!("{x:.digits$}")
    }
}

fn lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    log_x: bool,
) -> DrawResult<(), DB> {
    // A log axis plots log10(x) and labels the ticks with 10^v.
    let tx = |x: f64| if log_x { x.max(1e-3).log10() } else { x };
    let xs = || {
        panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| tx(p.0)))
    };
    let (mut lo, mut hi) = xs().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    if !lo.is_finite() || !hi.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi <= lo {
        hi = lo + 1.0;
    }
    // Whole decades on a log axis, one tick per decade.
    let ticks = if log_x {
        (lo, hi) = (lo.floor(), hi.ceil().max(lo.floor() + 1.0));
        (hi - lo) as usize + 1
    } else {
        10
    };
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FAMILY, 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(90)
        .build_cartesian_2d(lo..hi, 0f64..y_max(panel))?;
    let plain = |x: &f64| format!("{}", (x * 1000.0).round() / 1000.0);
    let fmt: &dyn Fn(&f64) -> String = if log_x { &pow10_label } else { &plain };
    chart
        .configure_mesh()
        .x_labels(ticks)
        .x_label_formatter(fmt)
        .y_label_formatter(&number)
        .x_desc(&panel.x_label)
        .y_desc(&panel.y_label)
        .label_style((FAMILY, 15))
        .axis_desc_style((FAMILY, 16))
        .draw()?;
    let named = legend_rows(panel.series.len());
    for (j, s) in panel.series.iter().enumerate() {
        let c = colour(j);
        if let Some(band) = &s.band {
            // The band as one polygon: along the lows, back along the highs.
            let mut poly: Vec<(f64, f64)> = s
                .points
                .iter()
                .zip(band)
                .map(|(p, b)| (tx(p.0), b.0))
                .collect();
            poly.extend(s.points.iter().zip(band).rev().map(|(p, b)| (tx(p.0), b.1)));
            chart.draw_series(std::iter::once(Polygon::new(poly, c.mix(0.18).filled())))?;
        }
        if s.markers {
            let drawn = chart.draw_series(
                s.points
                    .iter()
                    .map(|&(x, y)| Circle::new((tx(x), y), 4, c.filled())),
            )?;
            if j < named {
                drawn
                    .label(&s.name)
                    .legend(move |(x, y)| Circle::new((x + 9, y), 4, c.filled()));
            }
            continue;
        }
        let drawn = chart.draw_series(LineSeries::new(
            s.points.iter().map(|&(x, y)| (tx(x), y)),
            c.stroke_width(2),
        ))?;
        if j < named {
            drawn.label(&s.name).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3))
            });
        }
    }
    if named < panel.series.len() {
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label(format!("... and {} more", panel.series.len() - named))
            .legend(|(x, y)| EmptyElement::at((x, y)));
    }
    legend(&mut chart)
}

/// The most rows a panel's legend has: about as many as fit in its height. With more series
/// than that, the first `LEGEND_ROWS - 1` are named and a last row counts the rest (a fleet's
/// utilisation panel has a line per device; its legend ran off the figure). The figure's data
/// file names every series.
const LEGEND_ROWS: usize = 12;

/// How many of `series` series a legend names.
fn legend_rows(series: usize) -> usize {
    if series <= LEGEND_ROWS {
        series
    } else {
        LEGEND_ROWS - 1
    }
}
