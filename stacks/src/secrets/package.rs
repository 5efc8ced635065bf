//! The rotation Lambda's deployment package: a zip archive of its source,
//! made at synth time. Entries are stored (not compressed) with a fixed
//! timestamp and mode, so the same source gives the same bytes on every
//! machine, the golden files hold it, and its hash changes only with the code.

/// CRC-32 (IEEE 802.3, reflected), as zip requires for each entry.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &b| {
        CRC_TABLE[usize::from((crc as u8) ^ b)] ^ (crc >> 8)
    })
}

/// 1980-01-01 00:00:00, the earliest MS-DOS date zip can record.
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = (1 << 5) | 1;
/// "Made by" Unix, zip 2.0, so the external attributes are a Unix mode.
const MADE_BY_UNIX: u16 = (3 << 8) | 20;
const VERSION_NEEDED: u16 = 20;
/// A regular file readable by all (Lambda runs the code as another user).
const FILE_MODE: u32 = 0o100_644;

/// A zip archive of `files` (name, content), in the given order.
pub fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in files {
        let offset = u32::try_from(out.len()).expect("a package under 4 GiB");
        let size = u32::try_from(data.len()).expect("a file under 4 GiB");
        let name_len = u16::try_from(name.len()).expect("a short file name");
        let crc = crc32(data);
        let common = |buf: &mut Vec<u8>| {
            put16(buf, VERSION_NEEDED);
            put16(buf, 0); // flags
            put16(buf, 0); // stored
            put16(buf, DOS_TIME);
            put16(buf, DOS_DATE);
            put32(buf, crc);
            put32(buf, size); // compressed size
            put32(buf, size);
            put16(buf, name_len);
            put16(buf, 0); // extra field length
        };
        put32(&mut out, 0x0403_4b50);
        common(&mut out);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);

        put32(&mut central, 0x0201_4b50);
        put16(&mut central, MADE_BY_UNIX);
        common(&mut central);
        put16(&mut central, 0); // comment length
        put16(&mut central, 0); // disk number
        put16(&mut central, 0); // internal attributes
        put32(&mut central, FILE_MODE << 16);
        put32(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let entries = u16::try_from(files.len()).expect("a few files");
    let central_offset = u32::try_from(out.len()).expect("a package under 4 GiB");
    let central_size = u32::try_from(central.len()).expect("a package under 4 GiB");
    out.extend_from_slice(&central);
    put32(&mut out, 0x0605_4b50);
    put16(&mut out, 0); // this disk
    put16(&mut out, 0); // disk of the central directory
    put16(&mut out, entries);
    put16(&mut out, entries);
    put32(&mut out, central_size);
    put32(&mut out, central_offset);
    put16(&mut out, 0); // comment length
    out
}

fn put16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn the_archive_is_a_valid_zip_with_the_files_as_given() {
        let archive = zip(&[("a.py", b"print('a')\n"), ("dir/b.txt", b"")]);
        // The end of central directory record: 2 entries, at the end.
        let end = archive.len() - 22;
        assert_eq!(&archive[end..end + 4], &[0x50, 0x4b, 0x05, 0x06]);
        assert_eq!(
            u16::from_le_bytes([archive[end + 10], archive[end + 11]]),
            2
        );
        // The first local header holds the name and the stored bytes.
        assert_eq!(&archive[..4], &[0x50, 0x4b, 0x03, 0x04]);
        assert_eq!(&archive[30..34], b"a.py");
        assert_eq!(&archive[34..45], b"print('a')\n");
        assert_eq!(
            archive,
            zip(&[("a.py", b"print('a')\n"), ("dir/b.txt", b"")])
        );
    }
}
