//! Column tables for output files: CSV (always available) and Parquet (cargo feature `parquet`,
//! written through polars). A [`TableWriter`] writes a table in batches to a temporary file and
//! renames it into place when finished, so an interrupted run never leaves a truncated file
//! that looks complete.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::decimal::{push_f64, push_u64};
use crate::error::{Error, Result};

/// The values of one column.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// Unsigned integers.
    U64(Vec<u64>),
    /// Floating-point numbers.
    F64(Vec<f64>),
    /// Floating-point numbers with missing values (empty in CSV, null in Parquet).
    OptF64(Vec<Option<f64>>),
    /// Text.
    Str(Vec<String>),
    /// Text with missing values.
    OptStr(Vec<Option<String>>),
    /// Text from a short list, by index (written as [`Values::Str`] would be): a column of
    /// a few distinct names, a row's name without an allocation.
    Label(Arc<[String]>, Vec<u32>),
    /// Text from a short list with missing values (written as [`Values::OptStr`] would be).
    OptLabel(Arc<[String]>, Vec<Option<u32>>),
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::U64(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::OptF64(v) => v.len(),
            Values::Str(v) => v.len(),
            Values::OptStr(v) => v.len(),
            Values::Label(_, v) => v.len(),
            Values::OptLabel(_, v) => v.len(),
        }
    }

    fn clear(&mut self) {
        match self {
            Values::U64(v) => v.clear(),
            Values::F64(v) => v.clear(),
            Values::OptF64(v) => v.clear(),
            Values::Str(v) => v.clear(),
            Values::OptStr(v) => v.clear(),
            Values::Label(_, v) => v.clear(),
            Values::OptLabel(_, v) => v.clear(),
        }
    }

    /// Appends row `i` as CSV text.
    fn csv_cell(&self, i: usize, out: &mut String) {
        match self {
            Values::U64(v) => push_u64(out, v[i]),
            Values::F64(v) => push_f64(out, v[i]),
            Values::OptF64(v) => {
                if let Some(x) = v[i] {
                    push_f64(out, x);
                }
            }
            Values::Str(v) => csv_text(&v[i], out),
            Values::OptStr(v) => {
                if let Some(s) = &v[i] {
                    csv_text(s, out);
                }
            }
            Values::Label(labels, v) => csv_text(&labels[v[i] as usize], out),
            Values::OptLabel(labels, v) => {
                if let Some(k) = v[i] {
                    csv_text(&labels[k as usize], out);
                }
            }
        }
    }
}

/// RFC 4180 quoting: only where needed.
fn csv_text(s: &str, out: &mut String) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// A table: named columns of equal length.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Column names, with units (`ttft_ms`, `energy_j`).
    pub names: Vec<String>,
    /// Column values, parallel to `names`.
    pub columns: Vec<Values>,
}

impl Table {
    /// An empty table.
    pub fn new() -> Table {
        Table::default()
    }

    /// Adds a column (builder style).
    pub fn with(mut self, name: &str, values: Values) -> Table {
        self.names.push(name.to_string());
        self.columns.push(values);
        self
    }

    /// Number of rows (of the first column).
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Values::len)
    }

    /// Removes every row, keeping the columns.
    pub fn clear(&mut self) {
        self.columns.iter_mut().for_each(Values::clear);
    }

    /// The whole table as CSV text with a header line.
    pub fn to_csv(&self) -> String {
        let mut s = self.csv_header();
        self.csv_rows(&mut s);
        s
    }

    fn csv_header(&self) -> String {
        let mut s = String::new();
        for (i, n) in self.names.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            csv_text(n, &mut s);
        }
        s.push('\n');
        s
    }

    fn csv_rows(&self, s: &mut String) {
        for r in 0..self.rows() {
            for (i, c) in self.columns.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                c.csv_cell(r, s);
            }
            s.push('\n');
        }
    }
}

/// File format of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Apache Parquet (needs the `parquet` feature).
    Parquet,
    /// Comma-separated values with a header line.
    Csv,
}

impl Format {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
        }
    }

    /// Whether this build can write the format.
    pub fn available(self) -> bool {
        match self {
            Format::Parquet => cfg!(feature = "parquet"),
            Format::Csv => true,
        }
    }
}

enum Sink {
    Csv(BufWriter<File>),
    #[cfg(feature = "parquet")]
    Parquet(Option<Box<super::parquet::Batched>>, Option<File>),
}

/// Writes one table in batches; the file appears under its name only on [`finish`].
///
/// [`finish`]: TableWriter::finish
pub struct TableWriter {
    path: PathBuf,
    tmp: PathBuf,
    sink: Option<Sink>,
    header_done: bool,
    buf: String,
}

impl TableWriter {
    /// Starts `path` in `format` (creating its folder).
    pub fn create(path: &Path, format: Format) -> Result<TableWriter> {
        if !format.available() {
            return Err(Error::Output {
                path: path.into(),
                problem: "Parquet output needs the `parquet` feature (on by default); this \
                          build has it off: rebuild with default features or write CSV"
                    .into(),
            });
        }
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        crate::report::create_folder(dir, path, "cannot create the folder for this file")?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::create(&tmp).map_err(Error::io(path, "cannot create"))?;
        let sink = match format {
            Format::Csv => Sink::Csv(BufWriter::new(file)),
            #[cfg(feature = "parquet")]
            Format::Parquet => Sink::Parquet(None, Some(file)),
            #[cfg(not(feature = "parquet"))]
            Format::Parquet => unreachable!("checked by available()"),
        };
        Ok(TableWriter {
            path: path.into(),
            tmp,
            sink: Some(sink),
            header_done: false,
            buf: String::new(),
        })
    }

    /// Appends the rows of `t` (same columns on every call). The first call fixes the schema;
    /// an empty table is fine.
    pub fn write(&mut self, t: &Table) -> Result<()> {
        let path = self.path.clone();
        match self.sink.as_mut() {
            Some(Sink::Csv(w)) => {
                self.buf.clear();
                if !self.header_done {
                    self.buf.push_str(&t.csv_header());
                }
                t.csv_rows(&mut self.buf);
                w.write_all(self.buf.as_bytes())
                    .map_err(Error::io(&path, "cannot write"))?;
            }
            #[cfg(feature = "parquet")]
            Some(Sink::Parquet(batched, file)) => {
                if batched.is_none() {
                    let f = file.take().expect("file until the first batch");
                    *batched = Some(Box::new(super::parquet::Batched::new(f, t, &path)?));
                }
                if let Some(b) = batched {
                    b.write(t, &path)?;
                }
            }
            None => {}
        }
        self.header_done = true;
        Ok(())
    }

    /// Completes the file and renames it into place. Writes the header (or schema) if no
    /// batch was written, from `empty` (a table with the columns and no rows).
    pub fn finish(mut self, empty: &Table) -> Result<()> {
        if !self.header_done {
            self.write(empty)?;
        }
        let path = self.path.clone();
        match self.sink.take() {
            Some(Sink::Csv(w)) => {
                let f = w
                    .into_inner()
                    .map_err(|e| Error::io(&path, "cannot write")(e.into_error()))?;
                f.sync_all().map_err(Error::io(&path, "cannot write"))?;
            }
            #[cfg(feature = "parquet")]
            Some(Sink::Parquet(Some(b), _)) => b.finish(&path)?,
            #[cfg(feature = "parquet")]
            Some(Sink::Parquet(None, _)) => {}
            None => {}
        }
        std::fs::rename(&self.tmp, &self.path).map_err(Error::io(&path, "cannot write"))?;
        Ok(())
    }
}

impl Drop for TableWriter {
    fn drop(&mut self) {
        // Not finished (error or early return): remove the partial file.
        if self.sink.is_some() {
            self.sink = None;
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes a whole table to `path` (atomically).
pub fn write_table(path: &Path, format: Format, t: &Table) -> Result<()> {
    let mut w = TableWriter::create(path, format)?;
    w.write(t)?;
    w.finish(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        Table::new()
            .with("id", Values::U64(vec![1, 2]))
            .with("x_ms", Values::F64(vec![0.5, 1e-7]))
            .with("y", Values::OptF64(vec![None, Some(2.0)]))
            .with("name", Values::Str(vec!["a,b".into(), "say \"hi\"".into()]))
            .with("dev", Values::OptStr(vec![Some("d".into()), None]))
    }

    #[test]
    fn csv_text_quotes_and_nulls() {
        assert_eq!(
            sample().to_csv(),
            "id,x_ms,y,name,dev\n1,0.5,,\"a,b\",d\n2,0.0000001,2,\"say \"\"hi\"\"\",\n"
        );
    }

    /// `sample`'s text columns as labels.
    fn labelled() -> Table {
        let names: Arc<[String]> = ["say \"hi\"", "a,b", "d"].map(String::from).into();
        let mut t = sample();
        t.columns[3] = Values::Label(names.clone(), vec![1, 0]);
        t.columns[4] = Values::OptLabel(names, vec![Some(2), None]);
        t
    }

    #[test]
    fn labels_write_as_their_text() {
        assert_eq!(labelled().to_csv(), sample().to_csv());
        #[cfg(feature = "parquet")]
        {
            let p = Path::new("t.parquet");
            let (a, b) = (
                super::super::parquet::to_frame(&labelled(), p),
                super::super::parquet::to_frame(&sample(), p),
            );
            let (a, b) = (a.unwrap(), b.unwrap());
            assert!(a.equals_missing(&b), "{a}\n{b}");
            assert_eq!(a.schema(), b.schema());
        }
    }

    #[test]
    fn batches_append_and_the_file_appears_only_when_finished() {
        let dir = std::env::temp_dir().join(format!("edgesim-table-{}", std::process::id()));
        let p = dir.join("t.csv");
        let mut w = TableWriter::create(&p, Format::Csv).unwrap();
        w.write(&sample()).unwrap();
        w.write(&sample()).unwrap();
        assert!(!p.exists(), "not visible before finish");
        w.finish(&Table::new()).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().count(), 5, "{text}");
        // Dropped unfinished: no file, no temporary left.
        let q = dir.join("u.csv");
        let mut w = TableWriter::create(&q, Format::Csv).unwrap();
        w.write(&sample()).unwrap();
        drop(w);
        assert!(!q.exists());
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
