//! RFC 7016 §2.3.13-§2.3.16: Data Acknowledgement Bitmap and Ranges, Buffer
//! Probe, Flow Exception Report.

use super::*;

/// RFC 7016 §2.3.13 Data Acknowledgement Bitmap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BitmapAck {
    pub flow_id: u64,
    /// bufferBlocksAvailable, in 1024-byte blocks
    pub buffer_blocks_available: u64,
    pub cumulative_ack: u64,
    /// Bit i (LSB first) of byte k stands for cumulativeAck + 2 + 8k + i.
    #[serde(with = "crate::wire::hexser", default)]
    pub bitmap: Vec<u8>,
}

impl BitmapAck {
    /// The encoded payload's size.
    pub fn payload_len(&self) -> usize {
        vlu::encoded_len(self.flow_id)
            + vlu::encoded_len(self.buffer_blocks_available)
            + vlu::encoded_len(self.cumulative_ack)
            + self.bitmap.len()
    }

    pub fn parse(p: &[u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        Ok(BitmapAck {
            flow_id: r.vlu("Bitmap Ack flowID")?,
            buffer_blocks_available: r.vlu("Bitmap Ack bufferBlocksAvailable")?,
            cumulative_ack: r.vlu("Bitmap Ack cumulativeAck")?,
            bitmap: r.rest().to_vec(),
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        vlu::encode(self.flow_id, out);
        vlu::encode(self.buffer_blocks_available, out);
        vlu::encode(self.cumulative_ack, out);
        out.extend_from_slice(&self.bitmap);
    }

    /// The sequence numbers acknowledged beyond the cumulative ack, in ascending order.
    pub fn selective(&self) -> impl Iterator<Item = u64> + '_ {
        let base = self.cumulative_ack;
        self.bitmap.iter().enumerate().flat_map(move |(k, &byte)| {
            (0..8u64).filter_map(move |i| {
                if byte & (1 << i) == 0 {
                    return None;
                }
                base.checked_add(2)?.checked_add(8 * k as u64 + i)
            })
        })
    }

    /// Acknowledged ranges (inclusive) beyond the cumulative ack, merged.
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        self.ranges_into(&mut out);
        out
    }

    /// [`Self::ranges`], appended to `out` (no allocation once it has room).
    pub fn ranges_into(&self, out: &mut Vec<(u64, u64)>) {
        merge_ranges(self.selective().map(|s| (s, s)), out)
    }
}

/// One `#holes-1 ‖ #recv-1` pair of a Range Ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckRange {
    pub holes_minus_one: u64,
    pub received_minus_one: u64,
}

/// RFC 7016 §2.3.14 Data Acknowledgement Ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeAck {
    pub flow_id: u64,
    pub buffer_blocks_available: u64,
    pub cumulative_ack: u64,
    #[serde(default)]
    pub ranges: Vec<AckRange>,
    /// §2.3.14 NOTE: bytes of a truncated last range, which the receiver ignores
    /// while still processing the chunk up to the last complete range.
    #[serde(
        with = "crate::wire::hexser",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub truncated: Vec<u8>,
}

impl RangeAck {
    /// The encoded payload's size.
    pub fn payload_len(&self) -> usize {
        vlu::encoded_len(self.flow_id)
            + vlu::encoded_len(self.buffer_blocks_available)
            + vlu::encoded_len(self.cumulative_ack)
            + self
                .ranges
                .iter()
                .map(|a| {
                    vlu::encoded_len(a.holes_minus_one) + vlu::encoded_len(a.received_minus_one)
                })
                .sum::<usize>()
            + self.truncated.len()
    }

    pub fn parse(p: &[u8]) -> Result<Self> {
        let mut r = Reader::new(p);
        let flow_id = r.vlu("Range Ack flowID")?;
        let buffer_blocks_available = r.vlu("Range Ack bufferBlocksAvailable")?;
        let cumulative_ack = r.vlu("Range Ack cumulativeAck")?;
        let mut ranges = Vec::new();
        let mut truncated = Vec::new();
        while !r.is_empty() {
            let mark = r.clone();
            match (r.vlu("Range Ack #holes-1"), r.vlu("Range Ack #recv-1")) {
                (Ok(holes_minus_one), Ok(received_minus_one)) => ranges.push(AckRange {
                    holes_minus_one,
                    received_minus_one,
                }),
                _ => {
                    // RFC 7016 §2.3.14 NOTE: process as properly formed up to the
                    // last completely encoded range.
                    let mut m = mark;
                    truncated = m.rest().to_vec();
                    break;
                }
            }
        }
        Ok(RangeAck {
            flow_id,
            buffer_blocks_available,
            cumulative_ack,
            ranges,
            truncated,
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        vlu::encode(self.flow_id, out);
        vlu::encode(self.buffer_blocks_available, out);
        vlu::encode(self.cumulative_ack, out);
        for a in &self.ranges {
            vlu::encode(a.holes_minus_one, out);
            vlu::encode(a.received_minus_one, out);
        }
        out.extend_from_slice(&self.truncated);
    }

    /// Acknowledged ranges (inclusive) beyond the cumulative ack, as §2.3.14's
    /// pseudocode computes them. Stops at a range that would pass 2^64 - 1.
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::with_capacity(self.ranges.len());
        self.ranges_into(&mut out);
        out
    }

    /// [`Self::ranges`], appended to `out` (no allocation once it has room).
    pub fn ranges_into(&self, out: &mut Vec<(u64, u64)>) {
        let mut cursor = self.cumulative_ack;
        for a in &self.ranges {
            let Some(from) = cursor
                .checked_add(1)
                .and_then(|c| c.checked_add(a.holes_minus_one))
                .and_then(|c| c.checked_add(1))
            else {
                break;
            };
            let Some(to) = from.checked_add(a.received_minus_one) else {
                break;
            };
            out.push((from, to));
            cursor = to;
        }
    }

    /// Builds the Range Ack for `cumulative_ack` and ascending, disjoint, non-adjacent
    /// ranges that all lie above `cumulative_ack + 1`.
    pub fn from_ranges(
        flow_id: u64,
        buffer_blocks_available: u64,
        cumulative_ack: u64,
        received: &[(u64, u64)],
    ) -> Self {
        let mut cursor = cumulative_ack;
        let ranges = received
            .iter()
            .map(|&(from, to)| {
                let r = AckRange {
                    holes_minus_one: from - cursor - 2,
                    received_minus_one: to - from,
                };
                cursor = to;
                r
            })
            .collect();
        RangeAck {
            flow_id,
            buffer_blocks_available,
            cumulative_ack,
            ranges,
            truncated: Vec::new(),
        }
    }
}

/// Appends the ranges to `out`, merging adjacent ones (not with what `out` held).
fn merge_ranges(it: impl Iterator<Item = (u64, u64)>, out: &mut Vec<(u64, u64)>) {
    let start = out.len();
    for (from, to) in it {
        match out[start..].last_mut() {
            Some(last) if last.1.checked_add(1) == Some(from) => last.1 = to,
            _ => out.push((from, to)),
        }
    }
}

/// RFC 7016 §2.3.15 Buffer Probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BufferProbe {
    pub flow_id: u64,
}

/// RFC 7016 §2.3.16 Flow Exception Report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowExceptionReport {
    pub flow_id: u64,
    /// Application-defined; 0 when the RTMFP rejects a flow automatically.
    pub exception: u64,
}
