//! `normalize_name(text) -> string`: the key that deduplicates artist and song names.
//!
//! The steps, in order: Unicode NFKD (compatibility decomposition: "ﬁ" → "fi", "Ｂ" → "B",
//! "é" → "e" + U+0301), combining marks removed (so accents go), lower case, every run of
//! characters that are not alphanumeric turned into one space, leading and trailing spaces
//! trimmed, and a leading article "the " removed. Null in, null out; "" gives "".
//!
//! Names repeat (every listen of a song carries its artist), so within a batch each distinct
//! name is normalized once; ASCII names (the most common) skip the Unicode machinery.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, GenericStringArray, OffsetSizeTrait};
use arrow_schema::ArrowError;
use arrow_schema::DataType;
use foldhash::fast::FixedState;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// The article removed from the front of a normalized name.
const LEADING_ARTICLE: &str = "the ";

/// Normalizes one name into `out` (cleared first): see the module documentation.
pub fn normalize_into(text: &str, out: &mut String) {
    out.clear();
    if text.is_ascii() {
        normalize_ascii_into(text, out);
    } else {
        normalize_unicode_into(text, out);
    }
    if out.starts_with(LEADING_ARTICLE) {
        out.drain(..LEADING_ARTICLE.len());
    }
}

/// The steps for ASCII text, where NFKD changes nothing and there are no combining marks.
fn normalize_ascii_into(text: &str, out: &mut String) {
    let mut gap = false;
    for c in text.bytes() {
        if c.is_ascii_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.push(char::from(c.to_ascii_lowercase()));
        } else {
            gap = true;
        }
    }
}

fn normalize_unicode_into(text: &str, out: &mut String) {
    let mut gap = false;
    for c in text.nfkd() {
        if is_combining_mark(c) {
            continue;
        }
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            if c.is_ascii() {
                out.push(c.to_ascii_lowercase());
            } else {
                out.extend(c.to_lowercase());
            }
        } else {
            gap = true;
        }
    }
}

/// Normalizes one name into a new string (for tests and one-off use).
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    normalize_into(text, &mut out);
    out
}

/// `normalize_name` over a string array (`Utf8` or `LargeUtf8`); the result is `Utf8`.
pub fn normalize_name(texts: &dyn Array) -> Result<ArrayRef, ArrowError> {
    match texts.data_type() {
        DataType::Utf8 => Ok(normalize_strings(texts.as_string::<i32>())),
        DataType::LargeUtf8 => Ok(normalize_strings(texts.as_string::<i64>())),
        DataType::Null => Ok(Arc::new(arrow_array::new_null_array(
            &DataType::Utf8,
            texts.len(),
        ))),
        other => Err(ArrowError::InvalidArgumentError(format!(
            "normalize_name takes strings, got an array of {other}"
        ))),
    }
}

fn normalize_strings<O: OffsetSizeTrait>(texts: &GenericStringArray<O>) -> ArrayRef {
    // The output is rarely longer than the input: reserve as much.
    let value_bytes = texts.value_data().len();
    let mut builder = StringBuilder::with_capacity(texts.len(), value_bytes);
    let mut scratch = String::new();
    // The batch's names normalized so far.
    let mut seen: HashMap<&str, Box<str>, FixedState> = HashMap::default();
    for text in texts.iter() {
        match text {
            Some(text) => {
                let normalized = seen.entry(text).or_insert_with(|| {
                    normalize_into(text, &mut scratch);
                    scratch.as_str().into()
                });
                builder.append_value(normalized);
            }
            None => builder.append_null(),
        }
    }
    Arc::new(builder.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{LargeStringArray, StringArray};

    #[test]
    fn examples() {
        let cases = [
            ("The Beatles", "beatles"),
            ("  the   Rolling--Stones!! ", "rolling stones"),
            ("Beyoncé", "beyonce"),
            ("Sigur Rós", "sigur ros"),
            ("Motörhead", "motorhead"),
            ("ＡＢＢＡ", "abba"),
            ("ﬁre", "fire"),
            ("AC/DC", "ac dc"),
            ("Théâtre", "theatre"),
            ("The", "the"),
            ("Theory of a Deadman", "theory of a deadman"),
            ("Ølafur Arnalds", "ølafur arnalds"),
            ("Мумий Тролль", "мумии тролль"), // й is и + breve,
            ("坂本 龍一", "坂本 龍一"),
            ("", ""),
            ("!!!", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn arrays_keep_nulls() {
        let input = StringArray::from(vec![Some("The Who"), None, Some("")]);
        let out = normalize_name(&input).unwrap();
        let out = out.as_string::<i32>();
        assert_eq!(
            out.iter().collect::<Vec<_>>(),
            [Some("who"), None, Some("")]
        );
    }

    #[test]
    fn large_strings_and_slices() {
        let input = LargeStringArray::from(vec!["A", "The B", "C"]).slice(1, 2);
        let out = normalize_name(&input).unwrap();
        let out = out.as_string::<i32>();
        assert_eq!(out.iter().collect::<Vec<_>>(), [Some("b"), Some("c")]);
    }

    #[test]
    fn ascii_takes_the_same_steps_as_unicode() {
        let every_ascii: String = (0u8..128).map(char::from).collect();
        let texts = [
            every_ascii.as_str(),
            "The The",
            "  --The--Rolling Stones 2  ",
            "the",
            "theatre of tragedy",
            "",
        ];
        for text in texts {
            let (mut ascii, mut unicode) = (String::new(), String::new());
            normalize_ascii_into(text, &mut ascii);
            normalize_unicode_into(text, &mut unicode);
            assert_eq!(ascii, unicode, "{text:?}");
        }
    }

    #[test]
    fn repeated_names_in_a_batch() {
        let input = StringArray::from(vec![Some("Björk"), Some("The Who"), None, Some("Björk")]);
        let out = normalize_name(&input).unwrap();
        let out = out.as_string::<i32>();
        assert_eq!(
            out.iter().collect::<Vec<_>>(),
            [Some("bjork"), Some("who"), None, Some("bjork")]
        );
    }

    #[test]
    fn rejects_numbers() {
        let input = arrow_array::Int64Array::from(vec![1]);
        assert!(normalize_name(&input).is_err());
    }
}
