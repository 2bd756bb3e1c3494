//! One inbox record: the accepted events of one request, framed for an append-only file.
//!
//! Frame: `len: u32 LE` (payload bytes) · `crc32: u32 LE` (of the payload) · payload.
//! Payload: `seq: u64` · `received_at: i64` · `site: u16 len + UTF-8` · `count: u32` ·
//! `count × (u32 len + event JSON)`. All integers little-endian.
//!
//! A crash can leave a torn frame only at the end of the newest file; [`decode`] tells a torn
//! or corrupt frame apart from a clean end so that recovery can cut the file there.

/// The largest payload accepted when reading back: a request is at most 64 KB of JSON, and
/// its stored form is about the same size; anything far larger is a corrupt length.
const MAX_PAYLOAD: usize = 4 << 20;
const HEADER: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    pub received_at: i64,
    pub site: String,
    /// Each event in its stored JSON form (the `events.body` column).
    pub bodies: Vec<String>,
}

impl Record {
    /// Appends the framed record to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let bodies = self.bodies.iter().map(String::as_str);
        encode(
            out,
            self.seq,
            self.received_at,
            &self.site,
            bodies.len(),
            bodies,
        );
    }
}

/// Appends one framed record to `out`, reading the bodies where they are (the inbox thread
/// encodes straight from the request's events, without building a [`Record`]).
pub fn encode<'a>(
    out: &mut Vec<u8>,
    seq: u64,
    received_at: i64,
    site: &str,
    count: usize,
    bodies: impl Iterator<Item = &'a str>,
) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&received_at.to_le_bytes());
    // Sites are configured hostnames (bounded far below 64 KB); truncation cannot happen for a
    // valid configuration, and a clamp keeps the frame self-consistent regardless.
    let site = &site.as_bytes()[..site.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(site.len() as u16).to_le_bytes());
    out.extend_from_slice(site);
    out.extend_from_slice(&(count as u32).to_le_bytes());
    for body in bodies {
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body.as_bytes());
    }
    let payload_len = out.len() - start - HEADER;
    let crc = crc32fast::hash(&out[start + HEADER..]);
    out[start..start + 4].copy_from_slice(&(payload_len as u32).to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A whole, intact record and the number of bytes it took.
    Record(Record, usize),
    /// No bytes left, or only zeros: the clean end of the data.
    End,
    /// A frame that is cut short or fails its checksum: a torn write (at the tail) or damage.
    Torn,
}

/// Reads the frame at the start of `buf`.
pub fn decode(buf: &[u8]) -> Decoded {
    // Nothing left, or the zero-filled space after the last record (a real frame never
    // starts with zeros: its payload is at least 22 bytes long).
    if buf.iter().take(HEADER).all(|&b| b == 0) {
        return Decoded::End;
    }
    let Some(header) = buf.get(..HEADER) else {
        return Decoded::Torn;
    };
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len > MAX_PAYLOAD {
        return Decoded::Torn;
    }
    let Some(payload) = buf.get(HEADER..HEADER + len) else {
        return Decoded::Torn;
    };
    if crc32fast::hash(payload) != crc {
        return Decoded::Torn;
    }
    match parse_payload(payload) {
        Some(record) => Decoded::Record(record, HEADER + len),
        None => Decoded::Torn,
    }
}

fn parse_payload(p: &[u8]) -> Option<Record> {
    let mut r = Reader { buf: p, at: 0 };
    let seq = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
    let received_at = i64::from_le_bytes(r.take(8)?.try_into().ok()?);
    let site_len = u16::from_le_bytes(r.take(2)?.try_into().ok()?) as usize;
    let site = std::str::from_utf8(r.take(site_len)?).ok()?.to_owned();
    let count = u32::from_le_bytes(r.take(4)?.try_into().ok()?) as usize;
    let mut bodies = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let len = u32::from_le_bytes(r.take(4)?.try_into().ok()?) as usize;
        bodies.push(std::str::from_utf8(r.take(len)?).ok()?.to_owned());
    }
    (r.at == p.len()).then_some(Record {
        seq,
        received_at,
        site,
        bodies,
    })
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.buf.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64) -> Record {
        Record {
            seq,
            received_at: 1_763_700_000_000 + seq as i64,
            site: "shop.example".into(),
            bodies: vec![
                format!(r#"{{"event_id":"E{seq}","type":"issue"}}"#),
                "{\"page\":\"https://shop.example/корзина\"}".into(),
            ],
        }
    }

    #[test]
    fn records_read_back_in_order_then_a_clean_end() {
        let mut buf = Vec::new();
        for seq in 1..=3 {
            record(seq).encode_into(&mut buf);
        }
        let mut at = 0;
        for seq in 1..=3 {
            match decode(&buf[at..]) {
                Decoded::Record(r, used) => {
                    assert_eq!(r, record(seq));
                    at += used;
                }
                other => panic!("record {seq}: {other:?}"),
            }
        }
        assert_eq!(decode(&buf[at..]), Decoded::End);
    }

    #[test]
    fn every_cut_inside_a_frame_is_torn_never_a_record() {
        let mut buf = Vec::new();
        record(7).encode_into(&mut buf);
        for cut in 1..buf.len() {
            assert_eq!(decode(&buf[..cut]), Decoded::Torn, "cut at {cut}");
        }
    }

    #[test]
    fn a_flipped_bit_anywhere_fails_the_frame() {
        let mut clean = Vec::new();
        record(9).encode_into(&mut clean);
        for i in 0..clean.len() {
            let mut buf = clean.clone();
            buf[i] ^= 0x10;
            assert!(
                !matches!(decode(&buf), Decoded::Record(ref r, _) if *r == record(9)),
                "byte {i} flipped still decoded as the original record"
            );
            assert!(!matches!(decode(&buf), Decoded::End));
        }
    }
}
