//! QEMU mps2-an386: replays a CSV recording from the host through semihosting file I/O.
//!
//! The path is the first program argument (QEMU `-semihosting-config ...,arg=ELF,arg=PATH`).
//! Columns are chosen by the model's channel names, the separator (`,` `;` tab `|`) is
//! detected from the header, other columns (timestamps, labels) are ignored: the same CSV
//! the trainer reads. A cell that is not a number counts as a non-finite sample.
//! Exit status: 0 at the end of the stream, 1 model refused, 2 source error, 101 panic.

use super::Stop;
use crate::model::C;
use core::ffi::CStr;
use defmt_semihosting as _;
use semihosting::fs::File;
use semihosting::io::Read;

/// Longest CSV line accepted.
const LINE: usize = 1024;

/// Why the replay failed.
#[derive(defmt::Format)]
pub enum SourceError {
    /// No path given as the first program argument.
    NoPath,
    /// The path could not be opened on the host.
    Open,
    /// Reading the file failed.
    Read,
    /// The file is empty or has no header line.
    NoHeader,
    /// A line is longer than the buffer.
    LineTooLong {
        /// 1-based line number.
        line: u32,
    },
    /// A model channel has no column in the header.
    MissingColumn {
        /// Index of the channel in the model.
        channel: usize,
    },
}

/// Rows of the CSV, one sample per row.
pub struct Source {
    file: File,
    buf: [u8; LINE],
    start: usize,
    end: usize,
    eof: bool,
    line: u32,
    sep: u8,
    columns: [usize; C],
}

impl Source {
    /// Opens the CSV named by the first program argument and maps the channels, named in
    /// order by `names`, to its columns.
    pub fn open<'n>(names: impl Iterator<Item = &'n str>) -> Result<Self, SourceError> {
        let mut path = [0u8; 256];
        {
            let args = semihosting::experimental::env::args::<512>().map_err(|_| SourceError::NoPath)?;
            let arg = (&args).nth(1).and_then(|a| a.ok()).ok_or(SourceError::NoPath)?;
            let n = arg.len();
            if n + 1 > path.len() {
                return Err(SourceError::NoPath);
            }
            path[..n].copy_from_slice(arg.as_bytes());
        }
        let len = path.iter().position(|&b| b == 0).unwrap_or(0);
        let cpath = CStr::from_bytes_with_nul(&path[..=len]).map_err(|_| SourceError::NoPath)?;
        let file = File::open(cpath).map_err(|_| SourceError::Open)?;
        let mut s =
            Self { file, buf: [0; LINE], start: 0, end: 0, eof: false, line: 0, sep: b',', columns: [0; C] };
        let (a, b) = s.next_line()?.ok_or(SourceError::NoHeader)?;
        let header = &s.buf[a..b];
        s.sep = *[b',', b';', b'\t', b'|']
            .iter()
            .max_by_key(|&&c| header.iter().filter(|&&h| h == c).count())
            .unwrap_or(&b',');
        let mut columns = [usize::MAX; C];
        for (channel, name) in names.enumerate().take(C) {
            columns[channel] = fields(header, s.sep)
                .position(|f| trim(f) == name.as_bytes())
                .ok_or(SourceError::MissingColumn { channel })?;
        }
        if let Some(channel) = columns.iter().position(|&c| c == usize::MAX) {
            return Err(SourceError::MissingColumn { channel });
        }
        s.columns = columns;
        Ok(s)
    }

    /// The next sample; `None` at the end of the file. Blank lines are skipped.
    pub fn next(&mut self) -> Result<Option<[f32; C]>, SourceError> {
        loop {
            let Some((a, b)) = self.next_line()? else { return Ok(None) };
            let line = self.buf.get(a..b).unwrap_or(&[]);
            if trim(line).is_empty() {
                continue;
            }
            let mut sample = [f32::NAN; C];
            for (i, field) in fields(line, self.sep).enumerate() {
                for (channel, &col) in self.columns.iter().enumerate() {
                    if let (true, Some(v)) = (col == i, sample.get_mut(channel)) {
                        *v = parse(trim(field));
                    }
                }
            }
            return Ok(Some(sample));
        }
    }

    /// Samples lost so far: none, a replay waits for its reader.
    pub fn dropped(&self) -> u32 {
        0
    }

    /// Buffers overwritten before they were read: none, a replay has no DMA.
    pub fn overruns(&self) -> u32 {
        0
    }

    /// The byte range of the next line in `buf` (without its line ending).
    fn next_line(&mut self) -> Result<Option<(usize, usize)>, SourceError> {
        loop {
            let pending = self.buf.get(self.start..self.end).unwrap_or(&[]);
            if let Some(nl) = pending.iter().position(|&b| b == b'\n') {
                let (a, b) = (self.start, self.start + nl);
                self.start = b + 1;
                self.line += 1;
                return Ok(Some((a, b)));
            }
            if self.eof {
                if self.start < self.end {
                    let (a, b) = (self.start, self.end);
                    self.start = self.end;
                    self.line += 1;
                    return Ok(Some((a, b)));
                }
                return Ok(None);
            }
            // Move the partial line to the front and read more.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.end == self.buf.len() {
                return Err(SourceError::LineTooLong { line: self.line + 1 });
            }
            let free = self.buf.get_mut(self.end..).unwrap_or(&mut []);
            let n = self.file.read(free).map_err(|_| SourceError::Read)?;
            if n == 0 {
                self.eof = true;
            }
            self.end += n;
        }
    }
}

fn fields(line: &[u8], sep: u8) -> impl Iterator<Item = &[u8]> {
    line.split(move |&b| b == sep)
}

/// Strips blanks, a carriage return and surrounding double quotes.
fn trim(mut f: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r', rest @ ..] = f {
        f = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r'] = f {
        f = rest;
    }
    if let [b'"', inner @ .., b'"'] = f {
        f = inner;
    }
    f
}

/// A cell as f32 (correctly rounded, as the host parses it); NaN when it is not a number.
fn parse(cell: &[u8]) -> f32 {
    core::str::from_utf8(cell).ok().and_then(|s| s.parse::<f32>().ok()).unwrap_or(f32::NAN)
}

/// Ends the program with a semihosting exit status.
pub fn exit(stop: &Stop) -> ! {
    let code = match stop {
        Stop::EndOfStream => 0,
        Stop::Model(_) => 1,
        Stop::Source(_) => 2,
    };
    semihosting::process::exit(code)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    match info.location() {
        Some(l) => defmt::error!("panic at {=str}:{=u32}", l.file(), l.line()),
        None => defmt::error!("panic"),
    }
    semihosting::process::exit(101)
}
