//! A place in the spool, the coordinate the writer publishes, the reader
//! reads up to and the acker's watermark holds. Its own file so that every
//! spool file can name it without reaching into `spool/mod.rs`.

/// A place in the spool: a segment and a byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Segment id.
    pub segment: u64,
    /// Byte offset in the segment.
    pub offset: u64,
}
