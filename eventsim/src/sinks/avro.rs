//! Avro binary in the Confluent wire format, written by hand straight into the chunk's buffers:
//! the 5-byte header (magic 0, schema id), then each field of the topic's schema in its order
//! (`schema-registry/<topic>.avsc`, `soundlake_core::event::Topic::fields`): `long`/`int` as
//! zigzag varints, `string` as a length then UTF-8 bytes, `double` as 8 little-endian bytes,
//! `boolean` as one byte, `["null", T]` as the branch index (0 null, 1 value) then the value.
//!
//! As in the JSON encoder, a user's fixed fields (device, user details) are encoded once per
//! user. The tests decode every topic with apache-avro against the schema files.

use soundlake_core::event::{Event, Topic};
use soundlake_core::wire;

use super::{Encoder, Record, TopicBuf};

/// Avro `long` (and `int`): zigzag, then base-128 varint.
#[inline]
pub fn write_long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    let mut buf = [0u8; 10];
    let mut n = 0;
    while z >= 0x80 {
        buf[n] = (z as u8) | 0x80;
        z >>= 7;
        n += 1;
    }
    buf[n] = z as u8;
    out.extend_from_slice(&buf[..=n]);
}

/// Avro `string`.
#[inline]
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    write_long(out, s.len() as i64);
    out.extend_from_slice(s.as_bytes());
}

/// Avro `double`.
#[inline]
pub fn write_double(out: &mut Vec<u8>, x: f64) {
    out.extend_from_slice(&x.to_le_bytes());
}

/// Branch 0 of `["null", T]`.
const NULL: u8 = 0;
/// Branch 1 of `["null", T]` (the varint of 1), followed by the value.
const SOME: u8 = 2;

/// The Avro encoder, one per generation thread.
#[derive(Debug, Clone)]
pub struct AvroEncoder {
    /// Schema id per topic (by `Topic::index`).
    schema_ids: [u32; 4],
    /// `city, zip, state, userAgent, lon, lat`
    device: Vec<u8>,
    /// `userId, lastName, firstName, gender, registration`, each as branch 1 of its union.
    user: Vec<u8>,
}

impl AvroEncoder {
    pub fn new(schema_ids: [u32; 4]) -> AvroEncoder {
        AvroEncoder {
            schema_ids,
            device: Vec::with_capacity(256),
            user: Vec::with_capacity(64),
        }
    }

    fn prepare(&mut self, ev: &Event<&str>) {
        let d = &mut self.device;
        d.clear();
        write_str(d, ev.city);
        write_str(d, ev.zip);
        write_str(d, ev.state);
        write_str(d, ev.user_agent);
        write_double(d, ev.lon);
        write_double(d, ev.lat);
        let u = &mut self.user;
        u.clear();
        if let Some(user) = &ev.user {
            u.push(SOME);
            write_long(u, user.user_id);
            u.push(SOME);
            write_str(u, user.last_name);
            u.push(SOME);
            write_str(u, user.first_name);
            u.push(SOME);
            write_str(u, user.gender);
            u.push(SOME);
            write_long(u, user.registration);
        }
    }
}

impl Encoder for AvroEncoder {
    fn begin_user(&mut self, first: &Event<&str>) {
        self.prepare(first);
    }

    fn encode(&mut self, topic: Topic, rec: &Record<'_>, out: &mut TopicBuf) {
        let ev = &rec.event;
        if ev.user.is_some() && self.user.is_empty() {
            // The user's first event was a guest's; the user fields come with this one.
            self.prepare(ev);
        }
        let o = &mut out.data;
        wire::write_header(o, self.schema_ids[topic.index()]);
        write_long(o, ev.ts);
        write_long(o, ev.session_id);
        match topic {
            Topic::PageView => {
                write_str(o, ev.page);
                write_str(o, ev.auth);
                write_str(o, ev.method);
                write_long(o, i64::from(ev.status));
                write_str(o, ev.level);
            }
            Topic::Auth => write_str(o, ev.level),
            Topic::Listen | Topic::StatusChange => {
                write_str(o, ev.auth);
                write_str(o, ev.level);
            }
        }
        write_long(o, i64::from(ev.item_in_session));
        o.extend_from_slice(&self.device);
        if ev.user.is_some() {
            o.extend_from_slice(&self.user);
        } else {
            o.extend_from_slice(&[NULL; 5]);
        }
        match (topic, &ev.song) {
            (Topic::Listen, Some(s)) => {
                write_str(o, s.artist);
                write_str(o, s.song);
                write_double(o, s.duration);
            }
            // Listens are made on NextSong only, which always has a song; never reached.
            (Topic::Listen, None) => {
                write_str(o, "");
                write_str(o, "");
                write_double(o, 0.0);
            }
            (Topic::PageView, Some(s)) => {
                o.push(SOME);
                write_str(o, s.artist);
                o.push(SOME);
                write_str(o, s.song);
                o.push(SOME);
                write_double(o, s.duration);
            }
            (Topic::PageView, None) => o.extend_from_slice(&[NULL; 3]),
            _ => {}
        }
        if topic == Topic::Auth {
            o.push(u8::from(ev.success == Some(true)));
        }
        match ev.tag {
            Some(tag) => {
                o.push(SOME);
                write_str(o, tag);
            }
            None => o.push(NULL),
        }
        out.end_record(ev.key());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_avros() {
        let cases: [(i64, &[u8]); 7] = [
            (0, &[0]),
            (-1, &[1]),
            (1, &[2]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
            (
                i64::MAX,
                &[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
            (
                i64::MIN,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ];
        for (v, want) in cases {
            let mut out = Vec::new();
            write_long(&mut out, v);
            assert_eq!(out, want, "{v}");
        }
        let mut out = Vec::new();
        write_str(&mut out, "é");
        assert_eq!(out, [4, 0xc3, 0xa9]);
    }
}
