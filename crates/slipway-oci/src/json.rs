//! The one canonical JSON form of every blob slipway writes.

use serde::Serialize;
use serde_json::Value;

use crate::{Error, Result};

/// Serialise `value` canonically: object keys sorted by their bytes, no
/// insignificant whitespace, serde_json's escaping and number format.
///
/// oci-spec keeps annotations and labels in `HashMap`s, whose iteration order
/// changes from run to run; going through this function makes every blob's
/// bytes (and so its digest) a function of its content only.
///
/// ```
/// let a = serde_json::json!({"b": 1, "a": {"d": [1, 2], "c": null}});
/// assert_eq!(slipway_oci::canonical_json(&a).unwrap(), br#"{"a":{"c":null,"d":[1,2]},"b":1}"#);
/// ```
pub fn canonical_json(value: &impl Serialize) -> Result<Vec<u8>> {
    let value = serde_json::to_value(value).map_err(Error::json("a value to serialise"))?;
    let mut out = Vec::with_capacity(256);
    write_value(&value, &mut out);
    Ok(out)
}

fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            // Sort here rather than rely on serde_json's map type: another crate in
            // the build may turn on `preserve_order`.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key).expect("writing to a Vec cannot fail");
                out.push(b':');
                write_value(value, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(&mut *out, scalar).expect("writing to a Vec cannot fail"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn hashmaps_serialise_the_same_way_every_time() {
        let texts: std::collections::BTreeSet<Vec<u8>> = (0..20)
            .map(|_| {
                let map: HashMap<String, String> = (0..30)
                    .map(|i| (format!("key{i}"), format!("value{i}")))
                    .collect();
                canonical_json(&map).unwrap()
            })
            .collect();
        assert_eq!(texts.len(), 1);
    }

    #[test]
    fn escapes_and_numbers() {
        let v = serde_json::json!({"é": "a\"b\n", "n": -1.5, "z": [true, false]});
        assert_eq!(
            String::from_utf8(canonical_json(&v).unwrap()).unwrap(),
            r#"{"n":-1.5,"z":[true,false],"é":"a\"b\n"}"#
        );
    }
}
