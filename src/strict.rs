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

/// Forwards `deserialize_*` methods to the inner deserializer with the visitor wrapped.
macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
                self.0.$method($($arg,)* Wrap { inner: visitor, table: false, kind: false })
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    forward!(
        deserialize_any(),
        deserialize_bool(),
        deserialize_i8(),
        deserialize_i16(),
        deserialize_i32(),
        deserialize_i64(),
        deserialize_i128(),
        deserialize_u8(),
        deserialize_u16(),
        deserialize_u32(),
        deserialize_u64(),
        deserialize_u128(),
        deserialize_f32(),
        deserialize_f64(),
        deserialize_char(),
        deserialize_str(),
        deserialize_string(),
        deserialize_bytes(),
        deserialize_byte_buf(),
        deserialize_option(),
        deserialize_unit(),
        deserialize_unit_struct(name: &'static str),
        deserialize_newtype_struct(name: &'static str),
        deserialize_seq(),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_map(),
        deserialize_identifier(),
        deserialize_ignored_any(),
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

/// Forwards `visit_*` methods of plain values to the inner visitor; a struct refuses them
/// itself, so that the message says what a file holds ("expected a table").
macro_rules! visit {
    ($($method:ident($v:ident: $ty:ty) => $unexpected:expr),* $(,)?) => {
        $(
            fn $method<E: de::Error>(self, $v: $ty) -> Result<Self::Value, E> {
                if self.table {
                    return Err(E::invalid_type($unexpected, &self));
                }
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
        } else {
            self.inner.expecting(f)
        }
    }

    visit!(
        visit_bool(v: bool) => Unexpected::Bool(v),
        visit_i8(v: i8) => Unexpected::Signed(i64::from(v)),
        visit_i16(v: i16) => Unexpected::Signed(i64::from(v)),
        visit_i32(v: i32) => Unexpected::Signed(i64::from(v)),
        visit_i64(v: i64) => Unexpected::Signed(v),
        visit_i128(v: i128) => Unexpected::Other("integer"),
        visit_u8(v: u8) => Unexpected::Unsigned(u64::from(v)),
        visit_u16(v: u16) => Unexpected::Unsigned(u64::from(v)),
        visit_u32(v: u32) => Unexpected::Unsigned(u64::from(v)),
        visit_u64(v: u64) => Unexpected::Unsigned(v),
        visit_u128(v: u128) => Unexpected::Other("integer"),
        visit_f32(v: f32) => Unexpected::Float(f64::from(v)),
        visit_f64(v: f64) => Unexpected::Float(v),
        visit_char(v: char) => Unexpected::Char(v),
        visit_bytes(v: &[u8]) => Unexpected::Bytes(v),
        visit_borrowed_bytes(v: &'de [u8]) => Unexpected::Bytes(v),
        visit_byte_buf(v: Vec<u8>) => Unexpected::Bytes(&v),
    );

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if self.table {
            return Err(self.string(v));
        }
        self.inner.visit_str(v)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        if self.table {
            return Err(self.string(v));
        }
        self.inner.visit_borrowed_str(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        if self.table {
            return Err(self.string(&v));
        }
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
        if self.table {
            return Err(de::Error::invalid_type(Unexpected::Other("array"), &self));
        }
        self.inner.visit_seq(Strict(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
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
}
