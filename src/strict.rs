//! Reading configuration files with tables only where tables are meant.
//!
//! serde's derived `Deserialize` for a struct accepts a sequence as well as a map, binding the
//! elements to the fields in order. In TOML that made `routing = [3]` a valid scenario, read as
//! `[routing] max_attempts = 3`, and `selection = ["random"]` one read as `kind = "random"`:
//! an array where a section is meant was taken silently, by position. [`Strict`] wraps a
//! deserializer so that a struct accepts only a table, at every depth, and says "expected a
//! table" (not the Rust type's name) when given anything else. An enum (every one in a
//! configuration file is a plain choice, `kind = "random"`) is its variant's name only, and any
//! other value is refused naming the choices. Everything else passes through unchanged, so the
//! inner deserializer's errors (with their line and column) stay as they were.

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess,
    SeqAccess, Unexpected, Visitor,
};

/// A deserializer whose structs (TOML sections) accept tables only, and whose enums a
/// variant's name only.
pub struct Strict<D>(pub D);

/// Reads TOML `text` into `T`, refusing an array where `T` has a section.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, toml::de::Error> {
    T::deserialize(Strict(toml::Deserializer::parse(text)?))
}

/// Reads a TOML value into `T`, refusing an array where `T` has a section; errors name the
/// key path (`devices[1].slots`).
pub fn from_value<T: DeserializeOwned>(
    value: toml::Value,
) -> Result<T, serde_path_to_error::Error<toml::de::Error>> {
    serde_path_to_error::deserialize(Strict(value))
}

/// `T` as TOML text, as `toml::to_string` writes it, in time linear in its length:
/// `toml::to_string` (toml 1.2) moves the text after each section header it places, so a
/// scenario of 50,000 device groups took two minutes to write out (`edgesim check`, the run's
/// `scenario.toml`); the buffer's `Display` writes the same text in one pass.
pub fn to_toml<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, toml::ser::Error> {
    let mut buffer = toml::ser::Buffer::new();
    value.serialize(toml::Serializer::new(&mut buffer))?;
    Ok(buffer.to_string())
}

/// Forwards `deserialize_*` methods to the inner deserializer with the visitor wrapped, and
/// with the kind of number the method reads (`None`: not a number).
macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*) => $number:expr),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
                self.0.$method($($arg,)* Wrap { inner: visitor, table: false, kind: false, number: $number })
            }
        )*
    };
}

/// The number a `deserialize_*` method reads, in a file's words: serde's own visitors say
/// "expected u32", and for `-1` there "invalid value: integer `-1`, expected u32".
#[derive(Clone, Copy)]
enum Number {
    /// Any number (an integer is read as one).
    Float,
    /// A whole number in `min..=max`.
    Whole { min: i128, max: i128 },
}

impl Number {
    const fn whole(min: i128, max: i128) -> Option<Number> {
        Some(Number::Whole { min, max })
    }
}

impl de::Expected for Number {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match *self {
            Number::Float => f.write_str("a number"),
            // The bounds of a 64-bit integer are no one's limit: a key that has one is checked,
            // in its own words, after it is read.
            Number::Whole { min, max } if max >= i128::from(i64::MAX) => {
                if min >= 0 {
                    f.write_str("a whole number, 0 or more")
                } else {
                    f.write_str("a whole number")
                }
            }
            Number::Whole { min, max } => write!(f, "a whole number from {min} to {max}"),
        }
    }
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    forward!(
        deserialize_any() => None,
        deserialize_bool() => None,
        deserialize_i8() => Number::whole(i8::MIN as i128, i8::MAX as i128),
        deserialize_i16() => Number::whole(i16::MIN as i128, i16::MAX as i128),
        deserialize_i32() => Number::whole(i32::MIN as i128, i32::MAX as i128),
        deserialize_i64() => Number::whole(i64::MIN as i128, i64::MAX as i128),
        deserialize_i128() => Number::whole(i128::MIN, i128::MAX),
        deserialize_u8() => Number::whole(0, u8::MAX as i128),
        deserialize_u16() => Number::whole(0, u16::MAX as i128),
        deserialize_u32() => Number::whole(0, u32::MAX as i128),
        deserialize_u64() => Number::whole(0, u64::MAX as i128),
        deserialize_u128() => Number::whole(0, i128::MAX),
        deserialize_f32() => Some(Number::Float),
        deserialize_f64() => Some(Number::Float),
        deserialize_char() => None,
        deserialize_str() => None,
        deserialize_string() => None,
        deserialize_bytes() => None,
        deserialize_byte_buf() => None,
        deserialize_option() => None,
        deserialize_unit() => None,
        deserialize_unit_struct(name: &'static str) => None,
        deserialize_newtype_struct(name: &'static str) => None,
        deserialize_seq() => None,
        deserialize_tuple(len: usize) => None,
        deserialize_tuple_struct(name: &'static str, len: usize) => None,
        deserialize_map() => None,
        deserialize_identifier() => None,
        deserialize_ignored_any() => None,
    );

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_struct(
            name,
            fields,
            Wrap {
                inner: visitor,
                table: true,
                kind: fields.contains(&"kind"),
                number: None,
            },
        )
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_any(Variant {
            inner: visitor,
            variants,
        })
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// A visitor for an enum written as its variant's name: the only form a configuration enum
/// has (they are all plain choices, `kind = "random"`). toml also read `{ random = {} }` and
/// refused other values as "wanted string or table" (from a file) or "invalid type: unit
/// variant, expected string only" (after `--set`), without the choices; this refuses every
/// other value and names them.
struct Variant<V> {
    inner: V,
    variants: &'static [&'static str],
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Variant<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a string, one of {}", self.variants.join(", "))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.inner.visit_enum(v.into_deserializer())
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        self.inner.visit_enum(v.into_deserializer())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        self.inner.visit_enum(v.into_deserializer())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::invalid_type(Unexpected::Other("array"), &self))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::invalid_type(Unexpected::Other("table"), &self))
    }
}

/// A visitor that hands on strict deserializers, and refuses a sequence for a struct.
struct Wrap<V> {
    inner: V,
    /// Visiting a struct: only a map will do.
    table: bool,
    /// The struct is chosen by a `kind` key: a string given for it is most likely that kind
    /// (`selection = "random"`, the shorthand a plan's `search.policies` reads), and the
    /// message shows the table it is written as.
    kind: bool,
    /// Visiting a number of this kind: any other value, and a whole number out of its range,
    /// is refused in a file's words.
    number: Option<Number>,
}

impl<V> Wrap<V> {
    /// The error for a string given where a table goes.
    fn string<E: de::Error>(&self, v: &str) -> E {
        if !self.kind {
            return E::invalid_type(Unexpected::Str(v), &"a table");
        }
        let v = v.escape_debug();
        E::custom(format!(
            "invalid type: string \"{v}\", expected a table (written as a table: {{ kind = \"{v}\" }})"
        ))
    }
}

/// What a plain value is, as far as a number's check goes.
#[derive(Clone, Copy)]
enum Seen {
    Whole(i128),
    Float,
    Other,
}

impl<V> Wrap<V> {
    /// Whether a value that is `seen` may be handed to the inner visitor: an error (in the
    /// file's words, `expecting`) if a table or a number is wanted and it is not one, or is a
    /// whole number out of range.
    fn check<E: de::Error>(&self, seen: Seen, unexpected: Unexpected) -> Result<(), E> {
        if self.table {
            return Err(E::invalid_type(unexpected, &"a table"));
        }
        match (self.number, seen) {
            (None, _) | (Some(Number::Float), Seen::Whole(_) | Seen::Float) => Ok(()),
            (Some(n @ Number::Whole { min, max }), Seen::Whole(v)) => {
                if (min..=max).contains(&v) {
                    Ok(())
                } else {
                    Err(E::invalid_value(unexpected, &n))
                }
            }
            (Some(n), _) => Err(E::invalid_type(unexpected, &n)),
        }
    }
}

/// Forwards `visit_*` methods of plain values to the inner visitor; a struct refuses them
/// itself, so that the message says what a file holds ("expected a table"), and so does a
/// number ("expected a whole number from 0 to 255").
macro_rules! visit {
    ($($method:ident($v:ident: $ty:ty) => $unexpected:expr, $seen:expr),* $(,)?) => {
        $(
            fn $method<E: de::Error>(self, $v: $ty) -> Result<Self::Value, E> {
                self.check($seen, $unexpected)?;
                self.inner.$method($v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.table {
            // Not the derive's "struct DeviceFile": the file's word for it.
            f.write_str("a table")
        } else if let Some(n) = self.number {
            de::Expected::fmt(&n, f)
        } else {
            self.inner.expecting(f)
        }
    }

    visit!(
        visit_bool(v: bool) => Unexpected::Bool(v), Seen::Other,
        visit_i8(v: i8) => Unexpected::Signed(i64::from(v)), Seen::Whole(i128::from(v)),
        visit_i16(v: i16) => Unexpected::Signed(i64::from(v)), Seen::Whole(i128::from(v)),
        visit_i32(v: i32) => Unexpected::Signed(i64::from(v)), Seen::Whole(i128::from(v)),
        visit_i64(v: i64) => Unexpected::Signed(v), Seen::Whole(i128::from(v)),
        visit_i128(v: i128) => Unexpected::Other("integer"), Seen::Whole(v),
        visit_u8(v: u8) => Unexpected::Unsigned(u64::from(v)), Seen::Whole(i128::from(v)),
        visit_u16(v: u16) => Unexpected::Unsigned(u64::from(v)), Seen::Whole(i128::from(v)),
        visit_u32(v: u32) => Unexpected::Unsigned(u64::from(v)), Seen::Whole(i128::from(v)),
        visit_u64(v: u64) => Unexpected::Unsigned(v), Seen::Whole(i128::from(v)),
        visit_u128(v: u128) => Unexpected::Other("integer"), Seen::Whole(i128::try_from(v).unwrap_or(i128::MAX)),
        visit_f32(v: f32) => Unexpected::Float(f64::from(v)), Seen::Float,
        visit_f64(v: f64) => Unexpected::Float(v), Seen::Float,
        visit_char(v: char) => Unexpected::Char(v), Seen::Other,
        visit_bytes(v: &[u8]) => Unexpected::Bytes(v), Seen::Other,
        visit_borrowed_bytes(v: &'de [u8]) => Unexpected::Bytes(v), Seen::Other,
        visit_byte_buf(v: Vec<u8>) => Unexpected::Bytes(&v), Seen::Other,
    );

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if self.table {
            return Err(self.string(v));
        }
        self.check(Seen::Other, Unexpected::Str(v))?;
        self.inner.visit_str(v)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        if self.table {
            return Err(self.string(v));
        }
        self.check(Seen::Other, Unexpected::Str(v))?;
        self.inner.visit_borrowed_str(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        if self.table {
            return Err(self.string(&v));
        }
        self.check(Seen::Other, Unexpected::Str(&v))?;
        self.inner.visit_string(v)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_some(Strict(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_newtype_struct(Strict(d))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.check(Seen::Other, Unexpected::Other("array"))?;
        self.inner.visit_seq(Strict(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        if let Some(n) = self.number {
            return Err(de::Error::invalid_type(Unexpected::Other("table"), &n));
        }
        self.inner.visit_map(Strict(map))
    }

    // Enums are read by `deserialize_enum` (a variant's name only); an inner deserializer that
    // visits one from elsewhere hands it on as it is.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_enum(data)
    }
}

/// A seed whose value is read strictly.
struct Seed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(Strict(d))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Strict<A> {
    type Error = A::Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        self.0.next_element_seed(Seed(seed))
    }
    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Strict<A> {
    type Error = A::Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        self.0.next_key_seed(Seed(seed))
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.next_value_seed(Seed(seed))
    }
    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// The same text as `toml::to_string`: every shipped scenario resolved (arrays of
    /// tables, nested and inline tables, top-level keys), every shipped profile, and a
    /// document whose first keys come after nothing but tables.
    #[test]
    fn to_toml_writes_what_toml_to_string_writes() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let files = |dir: &str| {
            let mut v: Vec<_> = std::fs::read_dir(root.join(dir))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            v.sort();
            v
        };
        let mut checked = 0;
        for path in files("scenarios") {
            let opts = crate::scenario::LoadOptions::default();
            let file = crate::scenario::Scenario::load(&path, &opts)
                .unwrap()
                .to_file();
            assert_eq!(
                to_toml(&file).unwrap(),
                toml::to_string(&file).unwrap(),
                "{}",
                path.display()
            );
            checked += 1;
        }
        for path in files("calibration") {
            let t: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(to_toml(&t).unwrap(), toml::to_string(&t).unwrap());
            checked += 1;
        }
        let t: toml::Table = toml::from_str(
            "[[a]]\nx = 1\n[[a]]\ny = [{ z = 2 }]\n[b.c]\nd = \"e\"\n[b]\nf = 1.5\n",
        )
        .unwrap();
        assert_eq!(to_toml(&t).unwrap(), toml::to_string(&t).unwrap());
        assert!(checked >= 12, "{checked}");
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        a: u32,
        #[serde(default)]
        b: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        inner: Inner,
        #[serde(default)]
        list: Vec<Inner>,
        #[serde(default)]
        numbers: Vec<f64>,
        #[serde(default)]
        opt: Option<Inner>,
    }

    #[test]
    fn tables_and_arrays_read_as_before() {
        let text = "numbers = [1, 2.5]\n[inner]\na = 1\nb = \"x\"\n[[list]]\na = 2\n[opt]\na = 3\n";
        let want: Outer = toml::from_str(text).unwrap();
        assert_eq!(from_str::<Outer>(text).unwrap(), want);
        let value = toml::Value::Table(toml::from_str(text).unwrap());
        assert_eq!(from_value::<Outer>(value).unwrap(), want);
    }

    #[test]
    fn an_array_for_a_table_is_refused_at_every_depth() {
        // serde's derive alone reads each of these by position.
        for (text, key) in [
            ("inner = [1]\n", "inner"),
            ("list = [[2]]\n[inner]\na = 1\n", "list"),
            ("opt = [3]\n[inner]\na = 1\n", "opt"),
        ] {
            assert!(toml::from_str::<Outer>(text).is_ok(), "{text}");
            let e = from_str::<Outer>(text).unwrap_err().to_string();
            assert!(e.contains("invalid type: array, expected a table"), "{e}");
            let value = toml::Value::Table(toml::from_str(text).unwrap());
            let e = from_value::<Outer>(value).unwrap_err();
            assert!(e.path().to_string().starts_with(key), "{}", e.path());
            assert!(e.to_string().contains("expected a table"), "{e}");
        }
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum Choice {
        First,
        SecondOne,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Choosing {
        choice: Choice,
    }

    #[test]
    fn an_enum_is_its_variants_name_and_nothing_else() {
        let got: Choosing = from_str("choice = \"second_one\"\n").unwrap();
        assert_eq!(got.choice, Choice::SecondOne);
        let value = toml::Value::Table(toml::from_str("choice = \"first\"\n").unwrap());
        assert_eq!(from_value::<Choosing>(value).unwrap().choice, Choice::First);
        let e = from_str::<Choosing>("choice = \"third\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown variant `third`"), "{e}");
        // toml alone reads the table form, and names no choice for other values.
        assert!(toml::from_str::<Choosing>("choice = { first = {} }\n").is_ok());
        for (text, found) in [
            ("choice = 0\n", "integer `0`"),
            ("choice = true\n", "boolean `true`"),
            ("choice = [\"first\"]\n", "array"),
            ("choice = { first = {} }\n", "table"),
        ] {
            let want =
                format!("invalid type: {found}, expected a string, one of first, second_one");
            let e = from_str::<Choosing>(text).unwrap_err().to_string();
            assert!(e.contains(&want) && e.contains("line 1"), "{text}: {e}");
            let value = toml::Value::Table(toml::from_str(text).unwrap());
            let e = from_value::<Choosing>(value).unwrap_err().to_string();
            assert!(e.contains(&want), "{text}: {e}");
        }
    }

    #[test]
    fn a_scalar_for_a_table_says_table_not_the_type() {
        let e = from_str::<Outer>("inner = 1\n").unwrap_err().to_string();
        assert!(
            e.contains("invalid type: integer `1`, expected a table"),
            "{e}"
        );
        // With the line of the file, as toml's own errors.
        assert!(e.contains("line 1"), "{e}");
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Numbers {
        #[serde(default)]
        byte: Option<u8>,
        #[serde(default)]
        count: Option<u32>,
        #[serde(default)]
        seed: Option<u64>,
        #[serde(default)]
        signed: Option<i64>,
        #[serde(default)]
        small: Option<i8>,
        #[serde(default)]
        size: Option<usize>,
        #[serde(default)]
        rate: Option<f64>,
    }

    /// A number's errors say what a file may hold, not the Rust type: "expected u32" was
    /// what serde's visitors said until 2026-12-06.
    #[test]
    fn a_number_is_refused_in_a_files_words() {
        for (text, want) in [
            (
                "count = 2.5",
                "invalid type: floating point `2.5`, expected a whole number from 0 to 4294967295",
            ),
            (
                "count = -1",
                "invalid value: integer `-1`, expected a whole number from 0 to 4294967295",
            ),
            (
                "count = 4294967296",
                "invalid value: integer `4294967296`, expected a whole number from 0 to 4294967295",
            ),
            (
                "count = \"2\"",
                "invalid type: string \"2\", expected a whole number from 0 to 4294967295",
            ),
            (
                "count = [2]",
                "invalid type: array, expected a whole number from 0 to 4294967295",
            ),
            (
                "count = { a = 2 }",
                "invalid type: table, expected a whole number from 0 to 4294967295",
            ),
            (
                "count = true",
                "invalid type: boolean `true`, expected a whole number from 0 to 4294967295",
            ),
            (
                "byte = 256",
                "invalid value: integer `256`, expected a whole number from 0 to 255",
            ),
            (
                "small = -129",
                "invalid value: integer `-129`, expected a whole number from -128 to 127",
            ),
            (
                "seed = 1.5",
                "invalid type: floating point `1.5`, expected a whole number, 0 or more",
            ),
            (
                "seed = -1",
                "invalid value: integer `-1`, expected a whole number, 0 or more",
            ),
            (
                "size = -1",
                "invalid value: integer `-1`, expected a whole number, 0 or more",
            ),
            (
                "signed = 1.5",
                "invalid type: floating point `1.5`, expected a whole number",
            ),
            (
                "rate = \"fast\"",
                "invalid type: string \"fast\", expected a number",
            ),
            ("rate = [1]", "invalid type: array, expected a number"),
        ] {
            let e = from_str::<Numbers>(text).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("line 1"), "{text}: {e}");
            let value = toml::Value::Table(toml::from_str(text).unwrap());
            let e = from_value::<Numbers>(value).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
        // What fits is read as before: bounds (TOML's integers are 64-bit signed), and an
        // integer where any number goes.
        let text = "byte = 255\ncount = 4294967295\nseed = 9223372036854775807\nsigned = -9223372036854775808\nsmall = -128\nsize = 0\nrate = 3\n";
        let want = Numbers {
            byte: Some(255),
            count: Some(u32::MAX),
            seed: Some(i64::MAX as u64),
            signed: Some(i64::MIN),
            small: Some(-128),
            size: Some(0),
            rate: Some(3.0),
        };
        assert_eq!(toml::from_str::<Numbers>(text).unwrap(), want);
        assert_eq!(from_str::<Numbers>(text).unwrap(), want);
        let value = toml::Value::Table(toml::from_str(text).unwrap());
        assert_eq!(from_value::<Numbers>(value).unwrap(), want);
    }
}
