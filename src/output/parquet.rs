//! Parquet through polars (cargo feature `parquet`).

use std::fs::File;
use std::path::Path;

/// The polars crate, for reading tables back (tests, tools) without a second dependency.
pub use polars;
use polars::prelude::{Column, DataFrame, ParquetReader, ParquetWriter, SerReader};

use super::table::{Table, Values};
use crate::error::{Error, Result};

fn err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Output {
        path: path.into(),
        problem: format!("Parquet: {e}"),
    }
}

/// A table as a polars data frame.
pub fn to_frame(t: &Table, path: &Path) -> Result<DataFrame> {
    let columns: Vec<Column> = t
        .names
        .iter()
        .zip(&t.columns)
        .map(|(n, v)| {
            let name = n.as_str().into();
            match v {
                Values::U64(v) => Column::new(name, v),
                Values::F64(v) => Column::new(name, v),
                Values::OptF64(v) => Column::new(name, v),
                Values::Str(v) => Column::new(name, v),
                Values::OptStr(v) => Column::new(name, v),
                Values::Label(labels, v) => Column::new(
                    name,
                    v.iter()
                        .map(|&k| labels[k as usize].as_str())
                        .collect::<Vec<_>>(),
                ),
                Values::OptLabel(labels, v) => Column::new(
                    name,
                    v.iter()
                        .map(|k| k.map(|k| labels[k as usize].as_str()))
                        .collect::<Vec<_>>(),
                ),
            }
        })
        .collect();
    DataFrame::new(t.rows(), columns).map_err(|e| err(path, e))
}

/// A Parquet file being written batch by batch (one row group per batch).
pub(crate) struct Batched(polars::io::parquet::write::BatchedWriter<File>);

impl Batched {
    pub(crate) fn new(file: File, first: &Table, path: &Path) -> Result<Batched> {
        let df = to_frame(first, path)?;
        ParquetWriter::new(file)
            .batched(df.schema())
            .map(Batched)
            .map_err(|e| err(path, e))
    }

    pub(crate) fn write(&mut self, t: &Table, path: &Path) -> Result<()> {
        if t.rows() == 0 {
            return Ok(());
        }
        let df = to_frame(t, path)?;
        self.0.write_batch(&df).map_err(|e| err(path, e))
    }

    pub(crate) fn finish(self, path: &Path) -> Result<()> {
        self.0.finish().map(|_| ()).map_err(|e| err(path, e))
    }
}

/// Reads a Parquet file into a data frame (for tests and tools).
pub fn read(path: &Path) -> Result<DataFrame> {
    let f = File::open(path).map_err(Error::io(path, "cannot open"))?;
    ParquetReader::new(f).finish().map_err(|e| err(path, e))
}
