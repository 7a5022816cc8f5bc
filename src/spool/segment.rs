//! Segment files: naming, listing, creation and torn-tail recovery.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::record::{self, HEADER_LEN};
use crate::private_files;

/// Every segment starts with these bytes; the last one is the format version.
pub const MAGIC: [u8; 8] = *b"A0SPOOL\x01";
/// Offset of the first record in a segment.
pub const FIRST_RECORD: u64 = MAGIC.len() as u64;
const SUFFIX: &str = ".seg";

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
        .write_all(&MAGIC)
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

/// Scans segment `id` and truncates it after its last valid record: a crash
/// in the middle of an append leaves a torn frame that was never
/// acknowledged. Returns the bytes cut off.
pub fn truncate_torn_tail(dir: &Path, id: u64) -> io::Result<u64> {
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

/// The length of the longest prefix made of the magic and whole, valid records.
fn valid_prefix(file: &File, length: u64) -> io::Result<u64> {
    let mut reader = BufReader::with_capacity(1 << 20, file);
    reader.seek(SeekFrom::Start(0))?;
    let mut magic = [0u8; MAGIC.len()];
    if length < FIRST_RECORD || reader.read_exact(&mut magic).is_err() || magic != MAGIC {
        return Ok(0);
    }
    let mut offset = FIRST_RECORD;
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
