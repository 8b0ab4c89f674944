//! The scenario protocol: every message received is sent back upper-cased, until the
//! client closes.

use std::io::{Read, Write};

/// Serves one connection with the upper-case echo protocol until EOF or an I/O error.
pub fn serve<S: Read + Write>(mut conn: S) -> std::io::Result<()> {
    let mut buf = [0u8; 4096];
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        buf[..n].make_ascii_uppercase();
        conn.write_all(&buf[..n])?;
    }
}
