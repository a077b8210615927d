//! The few CBOR (RFC 8949) items an authenticator writes: unsigned and
//! negative integers, byte and text strings, and maps, in definite-length
//! encoding. Map entries are written in the order given; callers give them in
//! CTAP2 canonical order (shorter keys first, then bytewise).

/// One CBOR data item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cbor {
    /// An integer, positive or negative.
    Int(i64),
    Bytes(Vec<u8>),
    Text(String),
    Map(Vec<(Cbor, Cbor)>),
}

impl Cbor {
    pub fn text(s: &str) -> Cbor {
        Cbor::Text(s.to_owned())
    }

    /// The item's encoding.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Cbor::Int(n) if *n >= 0 => head(out, 0, n.unsigned_abs()),
            // -1 - n for a negative n, which is |n| - 1.
            Cbor::Int(n) => head(out, 1, n.unsigned_abs() - 1),
            Cbor::Bytes(b) => {
                head(out, 2, b.len() as u64);
                out.extend_from_slice(b);
            }
            Cbor::Text(s) => {
                head(out, 3, s.len() as u64);
                out.extend_from_slice(s.as_bytes());
            }
            Cbor::Map(entries) => {
                head(out, 5, entries.len() as u64);
                for (k, v) in entries {
                    k.write(out);
                    v.write(out);
                }
            }
        }
    }
}

/// The initial byte (major type and argument) plus any argument bytes.
fn head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let m = major << 5;
    if arg < 24 {
        out.push(m | arg as u8);
    } else if let Ok(a) = u8::try_from(arg) {
        out.push(m | 24);
        out.push(a);
    } else if let Ok(a) = u16::try_from(arg) {
        out.push(m | 25);
        out.extend_from_slice(&a.to_be_bytes());
    } else if let Ok(a) = u32::try_from(arg) {
        out.push(m | 26);
        out.extend_from_slice(&a.to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&arg.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::Cbor;

    // Vectors from RFC 8949 appendix A.
    #[test]
    fn integers() {
        assert_eq!(Cbor::Int(0).to_vec(), [0x00]);
        assert_eq!(Cbor::Int(23).to_vec(), [0x17]);
        assert_eq!(Cbor::Int(24).to_vec(), [0x18, 0x18]);
        assert_eq!(Cbor::Int(1000).to_vec(), [0x19, 0x03, 0xe8]);
        assert_eq!(
            Cbor::Int(1_000_000).to_vec(),
            [0x1a, 0x00, 0x0f, 0x42, 0x40]
        );
        assert_eq!(Cbor::Int(-1).to_vec(), [0x20]);
        assert_eq!(Cbor::Int(-7).to_vec(), [0x26]);
        assert_eq!(Cbor::Int(-100).to_vec(), [0x38, 0x63]);
        assert_eq!(Cbor::Int(-1000).to_vec(), [0x39, 0x03, 0xe7]);
        assert_eq!(
            Cbor::Int(i64::MIN).to_vec(),
            [0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn strings_and_maps() {
        assert_eq!(Cbor::Bytes(vec![1, 2, 3, 4]).to_vec(), [0x44, 1, 2, 3, 4]);
        assert_eq!(Cbor::text("IETF").to_vec(), [0x64, b'I', b'E', b'T', b'F']);
        assert_eq!(
            Cbor::Map(vec![
                (Cbor::Int(1), Cbor::Int(2)),
                (Cbor::Int(3), Cbor::Int(4))
            ])
            .to_vec(),
            [0xa2, 0x01, 0x02, 0x03, 0x04]
        );
        assert_eq!(Cbor::Map(vec![]).to_vec(), [0xa0]);
        let long = vec![0u8; 300];
        let enc = Cbor::Bytes(long).to_vec();
        assert_eq!(enc.get(..3), Some(&[0x59, 0x01, 0x2c][..]));
        assert_eq!(enc.len(), 303);
    }
}
