//! `docs/recipe-reference.md` documents every key of the recipe format and
//! of `slipway.lock`: the keys are read from the serde structs themselves (a
//! deserializer that records the fields each struct asks for), so adding a
//! field without documenting it fails here.

use std::cell::RefCell;
use std::collections::BTreeSet;

use serde::Deserialize;
use serde::de::value::{BorrowedStrDeserializer, Error};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

// The very structs `Recipe::load` parses, compiled into this test.
#[allow(dead_code, unreachable_pub)]
#[path = "../src/raw.rs"]
mod raw;

/// A deserializer that feeds every struct all of its fields (each a tracer
/// one level deeper), each option `Some`, each list one element, and records
/// the dotted path of every struct field: `steps.srpm-patch.strip`.
/// Hand-written: serde-reflection cannot trace toml's `Spanned<T>`, which is
/// one serde struct name for every `T`.
#[derive(Clone, Copy)]
struct Tracer<'a> {
    path: &'a str,
    keys: &'a RefCell<BTreeSet<String>>,
}

/// toml's `Spanned<T>` is a struct with this name and private fields; it is
/// passed through (its `value` is the field's value).
const SPANNED: &str = "$__serde_spanned_private_Spanned";

impl<'de> de::Deserializer<'de> for Tracer<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_u64(0)
    }
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_bool(false)
    }
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str("")
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str("")
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(One(Some(self)))
    }
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(Fields {
            tracer: self,
            fields: &[],
            spanned: false,
        })
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let spanned = name == SPANNED;
        if !spanned {
            let mut keys = self.keys.borrow_mut();
            for field in fields {
                keys.insert(join(self.path, field));
            }
        }
        visitor.visit_map(Fields {
            tracer: self,
            fields,
            spanned,
        })
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf
        unit unit_struct newtype_struct tuple tuple_struct enum identifier
        ignored_any
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

/// A sequence of one traced element.
struct One<'a>(Option<Tracer<'a>>);

impl<'de> SeqAccess<'de> for One<'_> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0.take().map(|t| seed.deserialize(t)).transpose()
    }
}

/// The fields of a struct, each with a tracer for its value.
struct Fields<'a> {
    tracer: Tracer<'a>,
    fields: &'static [&'static str],
    spanned: bool,
}

impl<'de> MapAccess<'de> for Fields<'_> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(field) = self.fields.first() else {
            return Ok(None);
        };
        seed.deserialize(BorrowedStrDeserializer::new(field))
            .map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let (field, rest) = self.fields.split_first().expect("a key was given");
        self.fields = rest;
        if self.spanned {
            // start, end (numbers) and value (the field's own value).
            return seed.deserialize(self.tracer);
        }
        let path = join(self.tracer.path, field);
        // The path must outlive the tracer it is lent to: leak it (a test).
        let path: &'static str = Box::leak(path.into_boxed_str());
        seed.deserialize(Tracer {
            path,
            keys: self.tracer.keys,
        })
    }
}

/// Every dotted key `T` deserializes, prefixed with `prefix`.
fn keys_of<T: for<'de> Deserialize<'de>>(prefix: &str) -> BTreeSet<String> {
    let keys = RefCell::new(BTreeSet::new());
    T::deserialize(Tracer {
        path: prefix,
        keys: &keys,
    })
    .unwrap_or_else(|e| panic!("tracing {prefix}: {e}"));
    keys.into_inner()
}

fn reference() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/recipe-reference.md"
    );
    fs_err::read_to_string(path).expect("docs/recipe-reference.md")
}

fn undocumented(keys: &BTreeSet<String>, doc: &str) -> Vec<String> {
    keys.iter()
        .filter(|k| !doc.contains(&format!("`{k}`")))
        .cloned()
        .collect()
}

#[test]
fn the_tracer_sees_nested_keys() {
    let keys = keys_of::<raw::RawFile>("");
    for key in [
        "include",
        "base.ref",
        "steps.srpm-patch.strip",
        "steps.packages.install-local",
        "steps.from-image.path",
        "config.env",
        "sources.note",
    ] {
        assert!(keys.contains(key), "{key} not in {keys:?}");
    }
    let lock = keys_of::<slipway_recipe::Lock>("lock");
    assert!(lock.contains("lock.image.step.package.sha256"), "{lock:?}");
}

#[test]
fn every_recipe_key_is_in_the_reference() {
    let missing = undocumented(&keys_of::<raw::RawFile>(""), &reference());
    assert!(
        missing.is_empty(),
        "docs/recipe-reference.md does not document these recipe keys (write each as `key`): {missing:?}"
    );
}

#[test]
fn every_lock_key_is_in_the_reference() {
    let missing = undocumented(&keys_of::<slipway_recipe::Lock>("lock"), &reference());
    assert!(
        missing.is_empty(),
        "docs/recipe-reference.md does not document these slipway.lock keys (write each as `key`): {missing:?}"
    );
}
