//! `--set key.path=value`: edits a parsed TOML document before validation.

use crate::error::{Error, Result};

/// Warnings for key paths `changed` (by `--set` or a sweep's axes) that name a cloud's
/// `model` (`cloud.model`, `cloud.fallbacks.N.model`) where `doc`, the scenario as written,
/// gives keys whose default is the model's catalogue entry ([`crate::cloud::FROM_CATALOGUE`])
/// and nothing in `changed` sets them: those keep their values for every model, so changing
/// the model alone changes less than the catalogue says (only what the scenario leaves out).
/// Each warning comes with the model's key as messages write it (`cloud.fallbacks[0].model`).
pub fn pinned_by_model(doc: &toml::Value, changed: &[Vec<String>]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for path in changed {
        let Some((last, section)) = path.split_last() else {
            continue;
        };
        let is_cloud = section == ["cloud"]
            || (section.len() == 3
                && section[..2] == ["cloud", "fallbacks"]
                && section[2].parse::<usize>().is_ok());
        // A section replaced whole (`--set cloud={ ... }`) keeps none of the file's keys.
        let replaced = changed
            .iter()
            .any(|c| c.len() <= section.len() && section.starts_with(c));
        if last != "model" || !is_cloud || replaced {
            continue;
        }
        let Some(table) = section.iter().try_fold(doc, |v, seg| match v {
            toml::Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => v.get(seg.as_str()),
        }) else {
            continue;
        };
        let name = key_name(section);
        let pinned: Vec<String> = crate::cloud::FROM_CATALOGUE
            .iter()
            .filter(|k| table.get(**k).is_some())
            .filter(|k| {
                !changed.iter().any(|c| {
                    c.len() == path.len()
                        && c[..section.len()] == *section
                        && c[section.len()] == **k
                })
            })
            .map(|k| format!("`{name}.{k}`"))
            .collect();
        if let Some((last_one, rest)) = pinned.split_last() {
            let (list, verb) = if rest.is_empty() {
                (last_one.clone(), "it keeps its value")
            } else {
                (
                    format!("{} and {last_one}", rest.join(", ")),
                    "they keep their values",
                )
            };
            out.push((
                format!("{name}.model"),
                format!(
                    "the scenario gives {list}: {verb} whatever the model (a model's catalogue \
                     values fill only the keys left out; change them too, or leave them out of \
                     the scenario)"
                ),
            ));
        }
    }
    out
}

/// A key path as error messages write it: `cloud.fallbacks[0]`.
fn key_name(path: &[String]) -> String {
    let mut name = String::new();
    for s in path {
        if s.parse::<usize>().is_ok() {
            name.push_str(&format!("[{s}]"));
        } else {
            if !name.is_empty() {
                name.push('.');
            }
            name.push_str(s);
        }
    }
    name
}

/// A hint for an unknown key in a section whose tag (`kind`, `dist`) a `--set` changed: the
/// other keys of the section stay, so those of the old kind are unknown to the new one
/// (`--set workload.kind=closed` on a Poisson workload leaves `rate_rps`). Empty otherwise.
/// `keys` are the parsed key paths of the overrides, with the arguments as given.
pub fn tag_switch_hint(keys: &[(Vec<String>, &String)], msg: &str) -> String {
    let (Some(at), rest) = crate::check::tagged::leading_key(msg) else {
        return String::new();
    };
    if !rest.starts_with("unknown field") {
        return String::new();
    }
    for (key, arg) in keys.iter().rev() {
        let Some((tag, section)) = key.split_last() else {
            continue;
        };
        if !(tag == "kind" || tag == "dist") || section.is_empty() {
            continue;
        }
        let name = key_name(section);
        if at.starts_with(&format!("{name}.")) {
            // A tag is a string: quoted, as it must be inside the table (`--set` takes it bare).
            let value = arg.split_once('=').map_or("", |(_, v)| v.trim());
            let value = if value.starts_with(['"', '\'']) {
                value.to_string()
            } else {
                format!("\"{value}\"")
            };
            return format!(
                "\n(`--set {arg}` keeps the other keys of `{name}`, and this one is not a key of \
                 that {tag}: set the whole section instead, e.g. --set '{name}={{ {tag} = \
                 {value}, ... }}')"
            );
        }
    }
    String::new()
}

/// Parses `key.path=value`: the value is TOML (`3.5`, `"random"`, `\[1, 2\]`, `true`); a bare
/// word that is not valid TOML is taken as a string, so `--set selection.kind=random` works
/// without shell quoting.
pub fn parse_set(arg: &str) -> Result<(Vec<String>, toml::Value)> {
    let err = |problem: &str| Error::Override {
        arg: arg.into(),
        problem: problem.into(),
    };
    let (key, raw) = arg
        .split_once('=')
        .ok_or_else(|| err("expected key.path=value"))?;
    let path = key_path(key).ok_or_else(|| {
        err(
            "the key path is empty, has an empty segment or a malformed index (an array \
             entry is `devices.0.count` or `devices[0].count`)",
        )
    })?;
    let raw = raw.trim();
    let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").ok_or_else(|| err("no value"))?,
        Err(e) if looks_numeric(raw) => {
            // `1e400` or a 20-digit integer: a number TOML cannot hold, not a word to be
            // taken as a string (which then read "invalid type: string, expected f64").
            return Err(err(&format!(
                "the value is not a number TOML can read ({}); numbers are 64-bit: integers \
                 of at most 19 digits, finite floats (text that looks like a number goes in \
                 quotes: 'key=\"1-2\"')",
                e.message()
            )));
        }
        Err(_) if !raw.is_empty() && !raw.contains(['"', '\'', '[', '{', '=']) => {
            toml::Value::String(raw.to_string())
        }
        Err(e) => {
            return Err(err(&format!("the value is not TOML: {}", e.message())));
        }
    };
    Ok((path, value))
}

/// Whether `raw` is written as a number (or a date): a digit, sign or point first, and only
/// digits, signs, points, exponents and `_` (`1e400`, `1_000_`, `2024-13-01`, `.5`).
fn looks_numeric(raw: &str) -> bool {
    raw.starts_with(|c: char| c.is_ascii_digit() || "+-.".contains(c))
        && raw.contains(|c: char| c.is_ascii_digit())
        && raw
            .chars()
            .all(|c| c.is_ascii_digit() || "+-._eE".contains(c))
}

/// The segments of a key path, `None` if it is malformed: dotted names, an array entry by its
/// index as a segment (`devices.0.count`) or in brackets, as edgesim's error messages name it
/// (`devices[0].count`, `cloud.limits[1].window_s`).
pub fn key_path(key: &str) -> Option<Vec<String>> {
    let mut path = Vec::new();
    for part in key.trim().split('.') {
        let (name, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        let name = name.trim();
        if name.is_empty() || name.contains(']') {
            return None;
        }
        path.push(name.to_string());
        while let Some(inner) = rest.strip_prefix('[') {
            let (index, after) = inner.split_once(']')?;
            let index = index.trim();
            if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            path.push(index.to_string());
            rest = after.trim_start();
        }
        if !rest.trim().is_empty() {
            return None;
        }
    }
    Some(path)
}

/// Sets `path` to `value` in `doc`, creating tables as needed. A numeric segment indexes an
/// array (`devices.0.count=2`).
pub fn apply(doc: &mut toml::Value, arg: &str, path: &[String], value: toml::Value) -> Result<()> {
    let err = |problem: String| Error::Override {
        arg: arg.into(),
        problem,
    };
    let (last, parents) = path
        .split_last()
        .ok_or_else(|| err("empty key path".into()))?;
    let mut cur = doc;
    for (depth, seg) in parents.iter().enumerate() {
        let here = path[..depth].join(".");
        cur = match cur {
            toml::Value::Table(t) => {
                // A missing key followed by an index: an entry of an array the file does not
                // have (a table named "0" would only fail later, as "expected a sequence").
                let next = path.get(depth + 1).filter(|n| n.parse::<usize>().is_ok());
                if let (false, Some(n)) = (t.contains_key(seg), next) {
                    let key = path[..=depth].join(".");
                    return Err(err(format!(
                        "`{key}` is not in the scenario, so it has no entry {n}; set the whole \
                         array (e.g. --set '{key}=[{{ ... }}]') or write it in the file"
                    )));
                }
                t.entry(seg.clone())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            }
            toml::Value::Array(a) => {
                let i: usize = seg
                    .parse()
                    .map_err(|_| err(format!("`{here}` is an array; `{seg}` is not an index")))?;
                let len = a.len();
                a.get_mut(i).ok_or_else(|| {
                    err(format!(
                        "`{here}` has {len} entries; index {i} is out of range"
                    ))
                })?
            }
            _ => return Err(err(format!("`{here}` is not a table"))),
        };
    }
    match cur {
        toml::Value::Table(t) => {
            t.insert(last.clone(), value);
        }
        toml::Value::Array(a) => {
            let i: usize = last
                .parse()
                .map_err(|_| err(format!("`{last}` is not an array index")))?;
            let len = a.len();
            *a.get_mut(i)
                .ok_or_else(|| err(format!("index {i} is out of range (length {len})")))? = value;
        }
        _ => return Err(err(format!("`{}` is not a table", parents.join(".")))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(doc: &mut toml::Value, arg: &str) -> Result<()> {
        let (path, v) = parse_set(arg)?;
        apply(doc, arg, &path, v)
    }

    #[test]
    fn a_model_changed_alone_names_the_keys_the_scenario_pins() {
        let doc = toml::Value::Table(
            toml::from_str(
                "[cloud]\nmodel = \"gpt-4\"\nttft_ms = 600\ntokens_per_s = 40\nrtt_ms = 150\n\
                 [[cloud.fallbacks]]\nmodel = \"gpt-4o\"\nusd_per_1k_input = 1\n\
                 [[cloud.fallbacks]]\nmodel = \"gpt-4.1-mini\"\n",
            )
            .unwrap(),
        );
        let paths = |keys: &[&str]| -> Vec<Vec<String>> {
            keys.iter().map(|k| key_path(k).unwrap()).collect()
        };
        let w = pinned_by_model(&doc, &paths(&["cloud.model"]));
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].0, "cloud.model");
        assert!(
            w[0].1.starts_with(
                "the scenario gives `cloud.ttft_ms` and `cloud.tokens_per_s`: they keep"
            ),
            "{}",
            w[0].1
        );
        // A key changed with the model is not pinned; `rtt_ms` is no catalogue value.
        let w = pinned_by_model(&doc, &paths(&["cloud.model", "cloud.ttft_ms"]));
        assert!(
            w[0].1
                .starts_with("the scenario gives `cloud.tokens_per_s`: it keeps"),
            "{}",
            w[0].1
        );
        assert!(
            pinned_by_model(
                &doc,
                &paths(&["cloud.model", "cloud.ttft_ms", "cloud.tokens_per_s"])
            )
            .is_empty()
        );
        // A fallback's model, by either spelling; one that pins nothing.
        for k in ["cloud.fallbacks.0.model", "cloud.fallbacks[0].model"] {
            let w = pinned_by_model(&doc, &paths(&[k]));
            assert_eq!(w[0].0, "cloud.fallbacks[0].model");
            assert!(
                w[0].1.contains("`cloud.fallbacks[0].usd_per_1k_input`"),
                "{}",
                w[0].1
            );
        }
        assert!(pinned_by_model(&doc, &paths(&["cloud.fallbacks.1.model"])).is_empty());
        // Other keys named `model`, a model out of range, and a scenario with no [cloud].
        assert!(
            pinned_by_model(
                &doc,
                &paths(&["devices.0.model", "cloud.fallbacks.5.model"])
            )
            .is_empty()
        );
        // The section replaced whole by another override.
        assert!(pinned_by_model(&doc, &paths(&["cloud", "cloud.model"])).is_empty());
        assert!(
            pinned_by_model(
                &doc,
                &paths(&["cloud.fallbacks", "cloud.fallbacks.0.model"])
            )
            .is_empty()
        );
        let bare = toml::Value::Table(toml::Table::new());
        assert!(pinned_by_model(&bare, &paths(&["cloud.model"])).is_empty());
    }

    #[test]
    fn an_index_into_an_array_the_file_lacks_is_refused() {
        let mut doc = toml::Value::Table(toml::from_str("[cloud]\nmodel = \"m\"\n").unwrap());
        let err = set(&mut doc, "cloud.limits.0.limit=5")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`cloud.limits` is not in the scenario, so it has no entry 0"),
            "{err}"
        );
        // A missing table is still created.
        set(&mut doc, "cloud.extra.x=1").unwrap();
        assert_eq!(doc["cloud"]["extra"]["x"].as_integer(), Some(1));
    }

    #[test]
    fn sets_nested_keys_arrays_and_bare_strings() {
        let mut doc = toml::Value::Table(
            toml::from_str("[w]\nrate = 1.0\n[[d]]\nn = 1\n[[d]]\nn = 2\n").unwrap(),
        );
        set(&mut doc, "w.rate=3.5").unwrap();
        set(&mut doc, "sel.kind=random").unwrap();
        set(&mut doc, "d.1.n=7").unwrap();
        set(&mut doc, "x=\"quoted\"").unwrap();
        assert_eq!(doc["w"]["rate"].as_float(), Some(3.5));
        assert_eq!(doc["sel"]["kind"].as_str(), Some("random"));
        assert_eq!(doc["d"][1]["n"].as_integer(), Some(7));
        assert_eq!(doc["x"].as_str(), Some("quoted"));
    }

    /// A number TOML cannot hold is refused as such; it was taken as a bare word, a string,
    /// and the message said "invalid type: string \"1e400\", expected f64". Words that start
    /// with a digit stay strings.
    #[test]
    fn numbers_toml_cannot_hold_are_not_taken_as_words() {
        for raw in [
            "1e400",
            "99999999999999999999",
            "1_000_",
            "1.5.2",
            ".5",
            "2024-13-01",
        ] {
            let e = parse_set(&format!("duration_s={raw}"))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with(&format!(
                    "duration_s={raw}: the value is not a number TOML can read ("
                )),
                "{e}"
            );
        }
        // Text that looks like a number is refused bare, taken in quotes.
        let e = parse_set("name=1-2").unwrap_err().to_string();
        assert!(e.contains("goes in quotes"), "{e}");
        let (_, v) = parse_set("name=\"1-2\"").unwrap();
        assert_eq!(v.as_str(), Some("1-2"));
        for (raw, value) in [("3600s", "3600s"), ("2024-run", "2024-run"), ("-", "-")] {
            let (_, v) = parse_set(&format!("k={raw}")).unwrap();
            assert_eq!(v.as_str(), Some(value));
        }
        let (_, v) = parse_set("k=-1.5e3").unwrap();
        assert_eq!(v.as_float(), Some(-1500.0));
    }

    /// Error messages name array entries in brackets (`cloud.limits[1].window_s`); `--set`
    /// takes that form as well as the dotted one. It was read as a key named `limits[1]`.
    #[test]
    fn array_entries_in_brackets_as_errors_name_them() {
        let seg = |k: &str| key_path(k).map(|p| p.join("/"));
        assert_eq!(seg("devices[0].count").as_deref(), Some("devices/0/count"));
        assert_eq!(seg("devices.0.count").as_deref(), Some("devices/0/count"));
        assert_eq!(
            seg(" cloud.limits[1] .window_s").as_deref(),
            Some("cloud/limits/1/window_s")
        );
        assert_eq!(seg("a[1][2].b").as_deref(), Some("a/1/2/b"));
        for bad in [
            "", "a..b", "[0].a", "a[].b", "a[x].b", "a[1.b", "a[1]x.b", "a[-1]", ".a", "a.", "a]",
            "a]0[",
        ] {
            assert_eq!(seg(bad), None, "{bad:?}");
        }
        let mut doc = toml::Value::Table(
            toml::from_str("[cloud]\n[[cloud.limits]]\nn = 1\n[[cloud.limits]]\nn = 2\n").unwrap(),
        );
        set(&mut doc, "cloud.limits[1].n=7").unwrap();
        assert_eq!(doc["cloud"]["limits"][1]["n"].as_integer(), Some(7));
        assert_eq!(doc["cloud"]["limits"][0]["n"].as_integer(), Some(1));
        let err = set(&mut doc, "cloud.limits[2].n=7")
            .unwrap_err()
            .to_string();
        assert!(err.contains("index 2 is out of range"), "{err}");
        let err = set(&mut doc, "cloud.limits[a].n=7")
            .unwrap_err()
            .to_string();
        assert!(err.contains("malformed index"), "{err}");
    }

    /// Random paths over the characters that matter: no panic, and what is read back has no
    /// empty segment, no bracket, no dot, and reads the same when written with dots.
    #[test]
    fn random_key_paths_are_read_or_refused() {
        use rand::{RngExt, SeedableRng};
        let mut r = rand_pcg::Pcg64Mcg::seed_from_u64(5);
        let chars = ['a', 'b', '.', '[', ']', '0', '7', ' ', 'x'];
        let mut read = 0;
        for _ in 0..20_000 {
            let n = r.random_range(0..12);
            let key: String = (0..n)
                .map(|_| chars[r.random_range(0..chars.len())])
                .collect();
            if let Some(path) = key_path(&key) {
                read += 1;
                assert!(!path.is_empty(), "{key:?}");
                for seg in &path {
                    assert!(!seg.is_empty() && seg.trim() == seg, "{key:?}: {path:?}");
                    assert!(!seg.contains(['.', '[', ']']), "{key:?}: {path:?}");
                }
                assert_eq!(key_path(&path.join(".")).as_ref(), Some(&path), "{key:?}");
            }
        }
        assert!(read > 1_000, "only {read} paths read");
    }

    #[test]
    fn bad_overrides_are_errors() {
        let mut doc = toml::Value::Table(toml::from_str("[[d]]\nn = 1\na = 1\n").unwrap());
        assert!(set(&mut doc, "novalue").is_err());
        assert!(
            set(&mut doc, "d.5.n=1")
                .unwrap_err()
                .to_string()
                .contains("out of range")
        );
        assert!(set(&mut doc, "d.x.n=1").is_err());
        assert!(
            set(&mut doc, "d.0.n.deeper=1")
                .unwrap_err()
                .to_string()
                .contains("not a table")
        );
        assert!(set(&mut doc, "w=[1,").is_err());
        // The document survives a failed override.
        assert_eq!(doc["d"][0]["n"].as_integer(), Some(1));
    }
}
