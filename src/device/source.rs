//! Where a device profile comes from: a file, or one of the profiles shipped in
//! `calibration/`, which are built into the binary and may be named instead of a path
//! (`profile = "jetson-orin-nano"`), so that a scenario or plan works without the repository.

use std::path::{Path, PathBuf};

use super::profile::{DeviceProfile, load_profile, parse_profile};
use crate::error::{Error, Result};

/// The device profiles shipped in `calibration/`, built into the binary, by name (the file's
/// name without `.toml`), in the order of their file names (as `edgesim platforms` lists a
/// folder of profiles).
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "jetson-agx-orin-64gb-30w",
        include_str!("../../calibration/jetson-agx-orin-64gb-30w.toml"),
    ),
    (
        "jetson-agx-orin-64gb-maxn",
        include_str!("../../calibration/jetson-agx-orin-64gb-maxn.toml"),
    ),
    (
        "jetson-agx-orin",
        include_str!("../../calibration/jetson-agx-orin.toml"),
    ),
    (
        "jetson-orin-nano-super-maxn",
        include_str!("../../calibration/jetson-orin-nano-super-maxn.toml"),
    ),
    (
        "jetson-orin-nano",
        include_str!("../../calibration/jetson-orin-nano.toml"),
    ),
];

/// The names of the shipped profiles, comma-separated (for messages).
pub fn shipped_names() -> String {
    SHIPPED
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The shipped profile a missing file's name is close to: the same name in another folder or
/// case (`../calibration/jetson-orin-nano.toml` from a scenario moved out of the repository),
/// or one or two letters off (`jetson-orin-nan`).
fn near_miss(path: &Path) -> Option<&'static str> {
    let stem = path.file_stem()?.to_str()?.to_ascii_lowercase();
    SHIPPED
        .iter()
        .map(|(n, _)| *n)
        .map(|n| (edit_distance(&stem, n), n))
        .filter(|&(d, _)| d <= 2)
        .min()
        .map(|(_, n)| n)
}

/// Levenshtein distance between two short names, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// A device profile's origin.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ProfileSource {
    /// A profile file.
    File(PathBuf),
    /// A shipped profile, by name (an entry of [`SHIPPED`]).
    Shipped(&'static str),
}

impl ProfileSource {
    /// The profile a file names as `given`, `path` being `given` resolved against that file's
    /// folder: the file at `path` when there is one, else the shipped profile named `given` if
    /// there is one, else the file at `path` (whose reading then fails, naming the shipped
    /// profiles). A file wins over a shipped profile of the same name; a folder does not (one
    /// may keep a board's outputs in a folder named after it).
    pub fn new(given: &str, path: PathBuf) -> ProfileSource {
        if !path.is_file()
            && let Some((name, _)) = SHIPPED.iter().find(|(n, _)| *n == given)
        {
            return ProfileSource::Shipped(name);
        }
        ProfileSource::File(path)
    }

    /// Reads and checks the profile.
    pub fn load(&self) -> Result<DeviceProfile> {
        match self {
            ProfileSource::File(path) => load_profile(path).map_err(|e| match e {
                Error::Io { os, .. } if os.kind() == std::io::ErrorKind::NotFound => Error::Input {
                    path: path.clone(),
                    problem: match near_miss(path) {
                        Some(n) => format!(
                            "cannot read device profile: no such file; did you mean the \
                             shipped profile \"{n}\"? (a profile shipped with edgesim is \
                             named without a folder or .toml; the shipped ones: {})",
                            shipped_names()
                        ),
                        None => format!(
                            "cannot read device profile: no such file; a profile shipped with \
                             edgesim may be named instead of a path: {}",
                            shipped_names()
                        ),
                    },
                },
                e => e,
            }),
            ProfileSource::Shipped(name) => {
                let text = SHIPPED
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or("", |(_, t)| t);
                parse_profile(text, &self.path())
            }
        }
    }

    /// The file's path, or where a shipped profile is kept in the repository
    /// (`calibration/NAME.toml`).
    pub fn path(&self) -> PathBuf {
        match self {
            ProfileSource::File(p) => p.clone(),
            ProfileSource::Shipped(name) => Path::new("calibration").join(format!("{name}.toml")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_near_a_shipped_name_is_pointed_to_it() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", "abc"), 0);
        for (given, want) in [
            (
                "../calibration/jetson-orin-nano.toml",
                Some("jetson-orin-nano"),
            ),
            ("Jetson-Orin-Nano", Some("jetson-orin-nano")),
            ("jetson-orin-nan", Some("jetson-orin-nano")),
            (
                "profiles/jetson-agx-orin-64gb-maxn.toml",
                Some("jetson-agx-orin-64gb-maxn"),
            ),
            ("my-board.toml", None),
        ] {
            assert_eq!(near_miss(Path::new(given)), want, "{given}");
        }
        let e = ProfileSource::File(PathBuf::from("/nowhere/jetson-orin-nano.toml"))
            .load()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("did you mean the shipped profile \"jetson-orin-nano\""),
            "{e}"
        );
        let e = ProfileSource::File(PathBuf::from("/nowhere/mine.toml"))
            .load()
            .unwrap_err()
            .to_string();
        assert!(!e.contains("did you mean"), "{e}");
    }

    #[test]
    fn shipped_profiles_are_named_in_order_and_all_load() {
        let names: Vec<_> = SHIPPED.iter().map(|(n, _)| format!("{n}.toml")).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        for (name, _) in SHIPPED {
            let p = ProfileSource::Shipped(name).load().unwrap();
            assert!(!p.models.is_empty(), "{name}");
        }
    }

    #[test]
    fn a_file_wins_and_a_missing_one_names_the_shipped_profiles() {
        let dir = std::env::temp_dir().join(format!("edgesim-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let at = dir.join("jetson-orin-nano");
        assert_eq!(
            ProfileSource::new("jetson-orin-nano", at.clone()),
            ProfileSource::Shipped("jetson-orin-nano")
        );
        // The name with `.toml`, or with a folder, is a path.
        for given in ["jetson-orin-nano.toml", "x/jetson-orin-nano"] {
            let path = dir.join(given);
            assert_eq!(
                ProfileSource::new(given, path.clone()),
                ProfileSource::File(path.clone())
            );
            let e = ProfileSource::File(path).load().unwrap_err().to_string();
            assert!(
                e.contains("no such file") && e.contains("jetson-orin-nano-super-maxn"),
                "{e}"
            );
        }
        std::fs::create_dir(&at).unwrap();
        assert_eq!(
            ProfileSource::new("jetson-orin-nano", at.clone()),
            ProfileSource::Shipped("jetson-orin-nano")
        );
        std::fs::remove_dir(&at).unwrap();
        std::fs::write(&at, "not a profile").unwrap();
        assert_eq!(
            ProfileSource::new("jetson-orin-nano", at.clone()),
            ProfileSource::File(at.clone())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
