//! JSON lines, written by hand into the chunk's buffer: eventsim's field names, in the order of
//! the Avro schemas (see `soundlake_core::event::Topic::fields`), absent fields left out as
//! eventsim does (guests have no user fields).
//!
//! The strings of a state (page, auth, method, status, level) and of a song (artist, title,
//! duration) are encoded once, at start, into [`Fragments`]; a user's fixed fields once per
//! user. Per event only the numbers are formatted.

use std::sync::Arc;

use soundlake_core::event::{Event, Topic};

use super::{Encoder, Record, TopicBuf};
use crate::model::Model;

#[inline]
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Appends `s` as a JSON string.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    if !bytes.iter().any(|&b| needs_escape(b)) {
        out.extend_from_slice(bytes);
    } else {
        for &b in bytes {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                b if b < 0x20 => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[(b >> 4) as usize]);
                    out.push(HEX[(b & 15) as usize]);
                }
                b => out.push(b),
            }
        }
    }
    out.push(b'"');
}

#[inline]
fn write_int(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn write_float(out: &mut Vec<u8>, x: f64) {
    if x.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(x).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

fn field_str(out: &mut Vec<u8>, name: &[u8], v: &str) {
    out.extend_from_slice(name);
    write_str(out, v);
}

#[inline]
fn field_int(out: &mut Vec<u8>, name: &[u8], v: i64) {
    out.extend_from_slice(name);
    write_int(out, v);
}

/// `,"page":…,"auth":…,"method":…,"status":…,"level":…` (page views)
fn page_view_state(o: &mut Vec<u8>, ev: &Event<&str>) {
    field_str(o, b",\"page\":", ev.page);
    field_str(o, b",\"auth\":", ev.auth);
    field_str(o, b",\"method\":", ev.method);
    field_int(o, b",\"status\":", i64::from(ev.status));
    field_str(o, b",\"level\":", ev.level);
}

/// `,"auth":…,"level":…` (listens, status changes)
fn auth_level_state(o: &mut Vec<u8>, ev: &Event<&str>) {
    field_str(o, b",\"auth\":", ev.auth);
    field_str(o, b",\"level\":", ev.level);
}

/// `,"artist":…,"song":…,"duration":…`
fn song_fields(o: &mut Vec<u8>, artist: &str, song: &str, duration: f64) {
    field_str(o, b",\"artist\":", artist);
    field_str(o, b",\"song\":", song);
    o.extend_from_slice(b",\"duration\":");
    write_float(o, duration);
}

/// Encoded-once JSON of every state and song of a model, shared by the encoders.
#[derive(Debug, Default)]
pub struct Fragments {
    page_view: Vec<Vec<u8>>,
    auth_level: Vec<Vec<u8>>,
    level: Vec<Vec<u8>>,
    songs: Vec<Vec<u8>>,
}

impl Fragments {
    pub fn new(model: &Model) -> Fragments {
        let mut f = Fragments::default();
        for st in &model.site.states {
            let k = &st.key;
            let mut pv = Vec::new();
            field_str(&mut pv, b",\"page\":", &k.page);
            field_str(&mut pv, b",\"auth\":", &k.auth);
            field_str(&mut pv, b",\"method\":", &k.method);
            field_int(&mut pv, b",\"status\":", i64::from(k.status));
            field_str(&mut pv, b",\"level\":", &k.level);
            f.page_view.push(pv);
            let mut al = Vec::new();
            field_str(&mut al, b",\"auth\":", &k.auth);
            field_str(&mut al, b",\"level\":", &k.level);
            f.auth_level.push(al);
            let mut lv = Vec::new();
            field_str(&mut lv, b",\"level\":", &k.level);
            f.level.push(lv);
        }
        f.songs = model
            .catalog
            .songs
            .iter()
            .map(|s| {
                let mut v = Vec::with_capacity(80);
                song_fields(&mut v, model.catalog.artist_of(s), &s.title, s.duration);
                v
            })
            .collect();
        f
    }
}

/// The JSON-lines encoder.
#[derive(Debug, Default)]
pub struct JsonEncoder {
    fragments: Option<Arc<Fragments>>,
    /// `,"city":…,"zip":…,"state":…,"userAgent":…,"lon":…,"lat":…`
    device: Vec<u8>,
    /// `,"userId":…,"lastName":…,"firstName":…,"gender":…,"registration":…`
    user: Vec<u8>,
}

impl JsonEncoder {
    /// An encoder that encodes every string of every event.
    pub fn new() -> JsonEncoder {
        JsonEncoder::default()
    }

    /// An encoder that copies states and songs from `fragments` (same bytes, faster).
    pub fn with_fragments(fragments: Arc<Fragments>) -> JsonEncoder {
        JsonEncoder {
            fragments: Some(fragments),
            ..JsonEncoder::default()
        }
    }

    fn prepare(&mut self, ev: &Event<&str>) {
        let d = &mut self.device;
        d.clear();
        field_str(d, b",\"city\":", ev.city);
        field_str(d, b",\"zip\":", ev.zip);
        field_str(d, b",\"state\":", ev.state);
        field_str(d, b",\"userAgent\":", ev.user_agent);
        d.extend_from_slice(b",\"lon\":");
        write_float(d, ev.lon);
        d.extend_from_slice(b",\"lat\":");
        write_float(d, ev.lat);
        let u = &mut self.user;
        u.clear();
        if let Some(user) = &ev.user {
            field_int(u, b",\"userId\":", user.user_id);
            field_str(u, b",\"lastName\":", user.last_name);
            field_str(u, b",\"firstName\":", user.first_name);
            field_str(u, b",\"gender\":", user.gender);
            field_int(u, b",\"registration\":", user.registration);
        }
    }

    fn state(&self, topic: Topic, rec: &Record<'_>, o: &mut Vec<u8>) {
        let ev = &rec.event;
        match (&self.fragments, topic) {
            (Some(f), Topic::PageView) => o.extend_from_slice(&f.page_view[rec.state as usize]),
            (Some(f), Topic::Auth) => o.extend_from_slice(&f.level[rec.state as usize]),
            (Some(f), _) => o.extend_from_slice(&f.auth_level[rec.state as usize]),
            (None, Topic::PageView) => page_view_state(o, ev),
            (None, Topic::Auth) => field_str(o, b",\"level\":", ev.level),
            (None, _) => auth_level_state(o, ev),
        }
    }

    fn song(&self, rec: &Record<'_>, o: &mut Vec<u8>) {
        match (&self.fragments, rec.song, &rec.event.song) {
            (Some(f), Some(id), Some(_)) => o.extend_from_slice(&f.songs[id as usize]),
            (_, _, Some(s)) => song_fields(o, s.artist, s.song, s.duration),
            _ => {}
        }
    }
}

impl Encoder for JsonEncoder {
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
        field_int(o, b"{\"ts\":", ev.ts);
        field_int(o, b",\"sessionId\":", ev.session_id);
        self.state(topic, rec, o);
        field_int(o, b",\"itemInSession\":", i64::from(ev.item_in_session));
        o.extend_from_slice(&self.device);
        if ev.user.is_some() {
            o.extend_from_slice(&self.user);
        }
        if matches!(topic, Topic::PageView | Topic::Listen) {
            self.song(rec, o);
        }
        if topic == Topic::Auth {
            o.extend_from_slice(if ev.success == Some(true) {
                b",\"success\":true"
            } else {
                b",\"success\":false"
            });
        }
        if let Some(tag) = ev.tag {
            field_str(o, b",\"tag\":", tag);
        }
        o.extend_from_slice(b"}\n");
        out.end_record(ev.key());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let mut v = Vec::new();
        write_str(&mut v, "a\"b\\c\n\u{1}é");
        assert_eq!(String::from_utf8(v).expect("utf8"), r#""a\"b\\c\n\u0001é""#);
    }
}
