//! The Confluent wire format of a Kafka record value: byte 0 is the magic byte `0`, bytes 1–4
//! the schema id (big endian), then the Avro binary body written with that schema.
//!
//! [`parse`] never panics: empty, short or foreign input gives a typed [`WireError`].

/// The first byte of every framed value.
pub const MAGIC: u8 = 0;
/// Magic byte + schema id.
pub const HEADER_LEN: usize = 5;

/// The 5-byte header for `schema_id`.
#[inline]
pub const fn header(schema_id: u32) -> [u8; HEADER_LEN] {
    let id = schema_id.to_be_bytes();
    [MAGIC, id[0], id[1], id[2], id[3]]
}

/// Appends the header for `schema_id` to `out` (the body follows).
#[inline]
pub fn write_header(out: &mut Vec<u8>, schema_id: u32) {
    out.extend_from_slice(&header(schema_id));
}

/// A framed value, split into its schema id and Avro body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framed<'a> {
    pub schema_id: u32,
    pub body: &'a [u8],
}

/// Why bytes are not a Confluent wire-format value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("empty value: a Confluent wire-format record has at least {HEADER_LEN} bytes (magic byte 0 and a 4-byte schema id)")]
    Empty,
    #[error("value of {len} byte(s) is shorter than the {HEADER_LEN}-byte Confluent header (magic byte 0 and a 4-byte schema id)")]
    TooShort { len: usize },
    #[error("first byte is {found:#04x}, not the Confluent magic byte 0x00: the value was not written by a schema-registry serializer")]
    BadMagic { found: u8 },
}

/// Splits a value into its schema id and body. The body may be empty (a record with no fields).
pub fn parse(value: &[u8]) -> Result<Framed<'_>, WireError> {
    match value {
        [] => Err(WireError::Empty),
        [magic, ..] if *magic != MAGIC => Err(WireError::BadMagic { found: *magic }),
        [_, a, b, c, d, body @ ..] => Ok(Framed {
            schema_id: u32::from_be_bytes([*a, *b, *c, *d]),
            body,
        }),
        _ => Err(WireError::TooShort { len: value.len() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut v = Vec::new();
        write_header(&mut v, 0x0102_0304);
        v.extend_from_slice(b"body");
        assert_eq!(&v[..5], &[0, 1, 2, 3, 4]);
        let f = parse(&v).expect("framed");
        assert_eq!(f.schema_id, 0x0102_0304);
        assert_eq!(f.body, b"body");
        assert_eq!(parse(&header(7)).expect("no body").body, b"");
    }

    #[test]
    fn errors() {
        assert_eq!(parse(&[]), Err(WireError::Empty));
        assert_eq!(parse(&[0, 1, 2]), Err(WireError::TooShort { len: 3 }));
        assert_eq!(parse(&[0]), Err(WireError::TooShort { len: 1 }));
        assert_eq!(
            parse(b"{\"a\":1}"),
            Err(WireError::BadMagic { found: b'{' })
        );
        assert_eq!(parse(&[1]), Err(WireError::BadMagic { found: 1 }));
        let msg = WireError::BadMagic { found: b'{' }.to_string();
        assert!(msg.contains("0x7b"), "{msg}");
    }

    /// Random bytes of random lengths (a fixed-seed xorshift, no dependency): `parse` never
    /// panics, and when it succeeds the value re-frames to the same bytes.
    #[test]
    fn never_panics_on_random_bytes() {
        let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut buf = Vec::new();
        let (mut ok, mut bad) = (0, 0);
        for _ in 0..200_000 {
            let len = (next() % 12) as usize;
            buf.clear();
            for _ in 0..len {
                // Half the time a magic byte first, so that both paths are exercised.
                let b = next() as u8;
                buf.push(if buf.is_empty() && b & 1 == 0 { 0 } else { b });
            }
            match parse(&buf) {
                Ok(f) => {
                    ok += 1;
                    let mut again = header(f.schema_id).to_vec();
                    again.extend_from_slice(f.body);
                    assert_eq!(again, buf);
                }
                Err(e) => {
                    bad += 1;
                    assert!(!e.to_string().is_empty());
                    match e {
                        WireError::Empty => assert!(buf.is_empty()),
                        WireError::TooShort { len } => assert!(len < HEADER_LEN && buf[0] == 0),
                        WireError::BadMagic { found } => assert_eq!(found, buf[0]),
                    }
                }
            }
        }
        assert!(ok > 10_000 && bad > 10_000, "{ok} ok, {bad} errors");
    }
}
