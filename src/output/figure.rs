//! Figures as data: panels of bar groups or lines. The same [`Figure`] is rendered by
//! `output::plot` (feature `plots`) and written as a long table beside the picture, so every
//! plotted number can be read back.

use super::table::{Table, Values};

/// A named series: bar heights by category index, or line points (x, y).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// Points: (category index, height) for bars; (x, y) for lines.
    pub points: Vec<(f64, f64)>,
    /// A band around a line, (low, high) per point (confidence intervals), if any.
    pub band: Option<Vec<(f64, f64)>>,
    /// Draw the points as markers, not joined (line panels only).
    pub markers: bool,
}

impl Series {
    /// A series without a band.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            points,
            band: None,
            markers: false,
        }
    }

    /// A series drawn as unjoined markers (a scatter).
    pub fn markers(name: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            markers: true,
            ..Series::new(name, points)
        }
    }
}

/// How a panel draws its series.
#[derive(Clone, Debug, PartialEq)]
pub enum PanelKind {
    /// Grouped bars, one group per category.
    Bars {
        /// Category names (x axis).
        categories: Vec<String>,
    },
    /// Lines.
    Lines {
        /// Logarithmic x axis.
        log_x: bool,
    },
}

/// One chart of a figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// Title above the chart.
    pub title: String,
    /// X axis label, with unit.
    pub x_label: String,
    /// Y axis label, with unit.
    pub y_label: String,
    /// Bars or lines.
    pub kind: PanelKind,
    /// The data.
    pub series: Vec<Series>,
}

/// A figure: panels stacked vertically.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// File stem (`fig4a_requests`).
    pub name: String,
    /// Caption.
    pub title: String,
    /// Panels, top to bottom.
    pub panels: Vec<Panel>,
}

impl Figure {
    /// The data behind the figure, one row per plotted point: `panel`, `series`, `x`,
    /// `category` (bars only), `y`, and `y_low`, `y_high` (band, if any).
    pub fn to_table(&self) -> Table {
        let (mut panel, mut series, mut x, mut cat, mut y) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut lo, mut hi) = (Vec::new(), Vec::new());
        let banded = self
            .panels
            .iter()
            .any(|p| p.series.iter().any(|s| s.band.is_some()));
        for p in &self.panels {
            for s in &p.series {
                for (k, &(px, py)) in s.points.iter().enumerate() {
                    let b = s.band.as_ref().and_then(|b| b.get(k).copied());
                    lo.push(b.map(|b| b.0));
                    hi.push(b.map(|b| b.1));
                    panel.push(p.title.clone());
                    series.push(s.name.clone());
                    x.push(px);
                    cat.push(match &p.kind {
                        PanelKind::Bars { categories } => categories.get(px as usize).cloned(),
                        PanelKind::Lines { .. } => None,
                    });
                    y.push(py);
                }
            }
        }
        let t = Table::new()
            .with("panel", Values::Str(panel))
            .with("series", Values::Str(series))
            .with("x", Values::F64(x))
            .with("category", Values::OptStr(cat))
            .with("y", Values::F64(y));
        if banded {
            t.with("y_low", Values::OptF64(lo))
                .with("y_high", Values::OptF64(hi))
        } else {
            t
        }
    }
}
