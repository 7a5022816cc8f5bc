//! Segment files: naming, listing, creation, the format check at open and
//! torn-tail recovery. The bytes inside are `record`'s business.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::record::{self, SegmentHeader, HEADER_LEN, SEGMENT_HEADER_LEN};
use crate::private_files;

/// Offset of the first record in a segment.
pub const FIRST_RECORD: u64 = SEGMENT_HEADER_LEN as u64;
const SUFFIX: &str = ".seg";

/// Why a segment cannot be checked or recovered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file operation failed.
    #[error("segment i/o failed")]
    Io(#[from] io::Error),
    /// The header is complete and names another format version: the
    /// segment is left as it is.
    #[error("segment has format version {0}")]
    Version(u8),
    /// The header is complete and is not a spool segment's.
    #[error("not a spool segment")]
    Foreign,
}

/// The path of segment `id` in `dir`.
pub fn path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}{SUFFIX}"))
}

/// The ids of the segments in `dir`, ascending.
pub fn list(dir: &Path) -> io::Result<Vec<u64>> {
    let mut ids = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(id) = name
            .strip_suffix(SUFFIX)
            .and_then(|stem| stem.parse::<u64>().ok())
        {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Creates segment `id`, writes its magic, and makes the file and its
/// directory entry durable. On failure (a full disk, say) the partial file
/// is removed, so a later attempt can create it again.
pub fn create(dir: &Path, id: u64) -> io::Result<File> {
    use std::io::Write;
    let path = path(dir, id);
    let mut file = private_files::open_options(OpenOptions::new().create_new(true).append(true))
        .open(&path)?;
    let made = file
        .write_all(&record::segment_header())
        .and_then(|()| file.sync_all())
        .and_then(|()| sync_dir(dir));
    if let Err(error) = made {
        let _ = fs::remove_file(&path);
        return Err(error);
    }
    Ok(file)
}

/// Makes directory entries (created, renamed or removed files) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Checks that segment `id` is one this agent may read and cut: its header
/// is this format's, or it is torn (see [`records_start`]).
pub fn check(dir: &Path, id: u64) -> Result<(), Error> {
    let file = File::open(path(dir, id))?;
    let length = file.metadata()?.len();
    records_start(&file, length).map(drop)
}

/// Scans segment `id` and truncates it after its last valid record: a crash
/// in the middle of an append leaves a torn frame that was never
/// acknowledged. Returns the bytes cut off. A segment of another format
/// version, or not a segment at all, is an error and left untouched.
pub fn truncate_torn_tail(dir: &Path, id: u64) -> Result<u64, Error> {
    let path = path(dir, id);
    let file = OpenOptions::new().read(true).write(true).open(&path)?;
    let length = file.metadata()?.len();
    let valid = valid_prefix(&file, length)?;
    if valid < length {
        file.set_len(valid)?;
        file.sync_all()?;
    }
    Ok(length - valid)
}

/// Where the records of a `length`-byte segment start, from its header:
/// `None` when the segment is torn (shorter than a header, or a header of
/// zeros and nothing after it: created, never written, so it holds
/// nothing). A complete header of another version or kind is an error.
fn records_start(file: &File, length: u64) -> Result<Option<u64>, Error> {
    let mut header = [0u8; SEGMENT_HEADER_LEN];
    let read = usize::try_from(length.min(FIRST_RECORD)).unwrap_or(SEGMENT_HEADER_LEN);
    file.read_exact_at(&mut header[..read], 0)?;
    match record::decode_segment_header(&header[..read]) {
        SegmentHeader::Current => Ok(Some(FIRST_RECORD)),
        SegmentHeader::Short => Ok(None),
        SegmentHeader::Blank if length == FIRST_RECORD => Ok(None),
        SegmentHeader::Blank | SegmentHeader::Foreign => Err(Error::Foreign),
        SegmentHeader::Version(found) => Err(Error::Version(found)),
    }
}

/// The length of the longest prefix made of the header and whole, valid
/// records (0 when the header itself is torn).
fn valid_prefix(file: &File, length: u64) -> Result<u64, Error> {
    let Some(mut offset) = records_start(file, length)? else {
        return Ok(0);
    };
    let mut reader = BufReader::with_capacity(1 << 20, file);
    reader.seek(SeekFrom::Start(offset))?;
    let mut payload = Vec::new();
    loop {
        let mut header = [0u8; HEADER_LEN];
        if offset + HEADER_LEN as u64 > length || reader.read_exact(&mut header).is_err() {
            return Ok(offset);
        }
        let Ok((len, crc)) = record::decode_header(header) else {
            return Ok(offset);
        };
        if offset + (HEADER_LEN + len) as u64 > length {
            return Ok(offset);
        }
        payload.resize(len, 0);
        if reader.read_exact(&mut payload).is_err() || crc32fast::hash(&payload) != crc {
            return Ok(offset);
        }
        offset += (HEADER_LEN + len) as u64;
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use time::OffsetDateTime;

    use super::*;
    use crate::event::Input;

    #[test]
    fn torn_tail_is_cut_back_to_the_last_whole_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = create(dir.path(), 7).unwrap();
        let mut frames = Vec::new();
        for n in 0..3 {
            record::encode(
                &mut frames,
                Input::Webhook,
                OffsetDateTime::UNIX_EPOCH,
                format!("{{\"n\":{n}}}").as_bytes(),
            );
        }
        file.write_all(&frames).unwrap();
        let whole = FIRST_RECORD + frames.len() as u64;
        assert_eq!(truncate_torn_tail(dir.path(), 7).unwrap(), 0);

        // Half of a fourth frame, then a frame whose checksum is wrong.
        let mut fourth = Vec::new();
        record::encode(&mut fourth, Input::Api, OffsetDateTime::UNIX_EPOCH, b"{}");
        file.write_all(&fourth[..fourth.len() / 2]).unwrap();
        assert_eq!(
            truncate_torn_tail(dir.path(), 7).unwrap(),
            (fourth.len() / 2) as u64
        );
        assert_eq!(fs::metadata(path(dir.path(), 7)).unwrap().len(), whole);
        let mut corrupt = fourth.clone();
        let last = corrupt.len() - 1;
        corrupt[last] ^= 0xff;
        file.write_all(&corrupt).unwrap();
        assert_eq!(
            truncate_torn_tail(dir.path(), 7).unwrap(),
            corrupt.len() as u64
        );
        assert_eq!(fs::metadata(path(dir.path(), 7)).unwrap().len(), whole);
        assert_eq!(list(dir.path()).unwrap(), vec![7]);
    }
}
