//! A bounds-checked cursor over a byte slice: every read either succeeds or returns
//! a [`WireError`], never panics, and never allocates.

use super::error::{Result, WireError};
use super::vlu;

#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not read yet (RFC 7016 §2.1.1 `remainder()`).
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn u16(&mut self, what: &'static str) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let b = self.bytes(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(WireError::Truncated {
                what,
                need: n,
                have: self.remaining(),
            });
        }
        let b = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    /// Everything left (RFC 7016 §2.1.1 `type var[remainder()]`).
    pub fn rest(&mut self) -> &'a [u8] {
        let b = &self.buf[self.pos..];
        self.pos = self.buf.len();
        b
    }

    /// RFC 7016 §2.1.2 VLU.
    pub fn vlu(&mut self, what: &'static str) -> Result<u64> {
        let (v, n) = vlu::decode(&self.buf[self.pos..], what)?;
        self.pos += n;
        Ok(v)
    }

    /// A VLU length followed by that many bytes, the common `xLength ‖ x[xLength]` shape.
    pub fn vlu_prefixed(&mut self, what: &'static str) -> Result<&'a [u8]> {
        let len = self.vlu(what)?;
        if len > self.remaining() as u64 {
            return Err(WireError::LengthOverrun {
                what,
                len,
                have: self.remaining(),
            });
        }
        self.bytes(len as usize, what)
    }

    /// Fails unless every byte has been consumed.
    pub fn finish(&self, what: &'static str) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(WireError::TrailingBytes { what, count }),
        }
    }
}
