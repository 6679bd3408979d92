//! Netscape cookies.txt files: what curl's `-c`/`-b` and wget's
//! `--save-cookies`/`--load-cookies` write and read.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::Jar;
use super::Rejected;
use super::jar::Raw;
use super::stored::unix_seconds;

/// The first line of the files we write, as curl and wget write it.
const HEADER: &str = "# Netscape HTTP Cookie File\n\
# Written by towline; read by curl (-b) and wget (--load-cookies).\n\
# domain, include subdomains, path, secure, expiry (Unix seconds, 0 for the session), name, value\n\n";

const HTTP_ONLY_PREFIX: &[u8] = b"#HttpOnly_";

/// Loads and saves cookies in the Netscape cookies.txt format. See the
/// [module docs](super).
///
/// One cookie a line, seven fields separated by tabs:
///
/// | field | example | meaning |
/// | --- | --- | --- |
/// | domain | `.example.com` | a leading dot for a domain cookie, as curl writes it; `#HttpOnly_` before it for an `HttpOnly` cookie |
/// | include subdomains | `TRUE` | `TRUE` for a domain cookie, `FALSE` for a host-only one |
/// | path | `/` | |
/// | secure | `FALSE` | `TRUE` for a `Secure` cookie |
/// | expiry | `1767225600` | Unix seconds; `0` for a session cookie |
/// | name | `id` | |
/// | value | `42` | may be empty, or missing (six fields) |
///
/// Other lines starting with `#`, and blank lines, are comments. `TRUE`/`FALSE` may
/// be in any case. `SameSite` is not part of the format, so it is lost on a save.
///
/// ```
/// use towline::cookie::{CookiesTxt, Jar};
///
/// let jar = Jar::new();
/// let file = "# Netscape HTTP Cookie File\n\
///             .example.com\tTRUE\t/\tFALSE\t0\tid\t42\n\
///             #HttpOnly_example.com\tFALSE\t/app\tTRUE\t0\tsession\tabc\n\
///             example.com\tFALSE\n";
/// let report = CookiesTxt::new().read(&jar, file.as_bytes())?;
/// assert_eq!(report.loaded(), 2);
/// assert_eq!(report.skipped()[0].line(), 4);
/// assert_eq!(
///     report.skipped()[0].to_string(),
///     "line 4: expected 7 tab-separated fields, found 2"
/// );
///
/// let mut out = Vec::new();
/// let written = CookiesTxt::new().session_cookies(false).write(&jar, &mut out)?;
/// assert_eq!(written, 0); // both are session cookies
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct CookiesTxt {
    session: bool,
}

impl CookiesTxt {
    /// Session cookies kept on load and written on save.
    pub fn new() -> CookiesTxt {
        CookiesTxt { session: true }
    }

    /// Whether session cookies (expiry `0` in the file, no `Max-Age` nor `Expires` in
    /// the jar) are loaded and saved. Loading without them is what curl's
    /// `--junk-session-cookies` does: a new session.
    ///
    /// Default is `true`, as curl does.
    pub fn session_cookies(mut self, keep: bool) -> Self {
        self.session = keep;
        self
    }

    /// Reads the file at `path` into `jar` (see [`read`](CookiesTxt::read)). Fails
    /// only when the file cannot be read.
    pub fn load(&self, jar: &Jar, path: impl AsRef<Path>) -> io::Result<LoadReport> {
        let contents = fs::read(path)?;
        Ok(self.parse_into(jar, &contents))
    }

    /// Reads cookies from `reader` into `jar`. A cookie already in the jar with the
    /// same domain, path and name is replaced. A malformed line, or a cookie that the
    /// jar would not accept from a server (a domain cookie for a public suffix, a
    /// `__Host-` cookie that is not secure, …) is skipped and listed in the report;
    /// expired cookies are skipped and counted. Fails only when reading fails.
    pub fn read(&self, jar: &Jar, mut reader: impl Read) -> io::Result<LoadReport> {
        let mut contents = Vec::new();
        reader.read_to_end(&mut contents)?;
        Ok(self.parse_into(jar, &contents))
    }

    /// Writes the cookies of `jar` to the file at `path`, atomically: into a new file
    /// in the same directory, readable by its owner only on Unix, which then replaces
    /// `path`; a failure leaves the old file as it was. Returns how many cookies were
    /// written.
    pub fn save(&self, jar: &Jar, path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        let mut contents = Vec::new();
        let written = self.write(jar, &mut contents)?;
        let name = path.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cookie file path {} names no file", path.display()),
            )
        })?;
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        static SAVES: AtomicU64 = AtomicU64::new(0);
        let temp = dir.join(format!(
            ".{}.{}-{}.tmp",
            name.to_string_lossy(),
            std::process::id(),
            SAVES.fetch_add(1, Ordering::Relaxed)
        ));
        let result = write_new_file(&temp, &contents).and_then(|()| fs::rename(&temp, path));
        if let Err(err) = result {
            let _ = fs::remove_file(&temp);
            return Err(err);
        }
        // Make the rename itself durable where that is possible; the file is complete
        // either way.
        #[cfg(unix)]
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(written)
    }

    /// Writes the cookies of `jar` that have not expired to `writer`, sorted by
    /// domain, path and name, after a header of comments. A cookie whose name, value,
    /// domain or path holds a tab cannot be written in this format and is left out.
    /// Returns how many cookies were written.
    pub fn write(&self, jar: &Jar, mut writer: impl Write) -> io::Result<usize> {
        let mut out = String::from(HEADER);
        let mut written = 0;
        for cookie in jar.snapshot() {
            let expiry = match cookie.expires_unix() {
                Some(t) => t,
                None if self.session => 0,
                None => continue,
            };
            let fields = [
                cookie.name(),
                cookie.value(),
                cookie.domain(),
                cookie.path(),
            ];
            if fields.iter().any(|f| f.contains(['\t', '\n', '\r'])) {
                continue;
            }
            if cookie.http_only() {
                out.push_str("#HttpOnly_");
            }
            let (dot, subdomains) = if cookie.host_only() {
                ("", "FALSE")
            } else {
                (".", "TRUE")
            };
            let secure = if cookie.secure() { "TRUE" } else { "FALSE" };
            out.push_str(&format!(
                "{dot}{}\t{subdomains}\t{}\t{secure}\t{expiry}\t{}\t{}\n",
                cookie.domain(),
                cookie.path(),
                cookie.name(),
                cookie.value()
            ));
            written += 1;
        }
        writer.write_all(out.as_bytes())?;
        writer.flush()?;
        Ok(written)
    }

    fn parse_into(&self, jar: &Jar, contents: &[u8]) -> LoadReport {
        let now = jar.now();
        let now_secs = unix_seconds(now);
        let mut report = LoadReport::default();
        let mut cookies = Vec::new();
        for (i, line) in contents.split(|&b| b == b'\n').enumerate() {
            let number = i + 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            match parse_line(line) {
                Line::Skip => {}
                Line::Error(error) => report.skipped.push(SkippedLine {
                    line: number,
                    error,
                }),
                Line::Cookie(raw) => match raw.expires {
                    Some(t) if t <= now_secs => report.expired += 1,
                    None if !self.session => report.sessions_dropped += 1,
                    _ => cookies.push((number, raw)),
                },
            }
        }
        report.loaded = jar.insert_raw_all(cookies, now, |line, rejected| {
            report.skipped.push(SkippedLine {
                line,
                error: LineError::Cookie(rejected),
            });
        });
        report.skipped.sort_by_key(|s| s.line);
        report
    }
}

impl Default for CookiesTxt {
    fn default() -> CookiesTxt {
        CookiesTxt::new()
    }
}

fn write_new_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Cookies are credentials.
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

enum Line<'a> {
    Skip,
    Error(LineError),
    Cookie(Raw<'a>),
}

fn parse_line(line: &[u8]) -> Line<'_> {
    let (line, http_only) = match line.strip_prefix(HTTP_ONLY_PREFIX) {
        Some(rest) => (rest, true),
        None => (line, false),
    };
    if !http_only && (line.starts_with(b"#") || line.iter().all(u8::is_ascii_whitespace)) {
        return Line::Skip;
    }
    let Ok(line) = std::str::from_utf8(line) else {
        return Line::Error(LineError::NotUtf8);
    };
    let fields: Vec<&str> = line.split('\t').collect();
    let (domain, subdomains, path, secure, expiry, name, value) = match fields[..] {
        [d, s, p, sec, e, n, v] => (d, s, p, sec, e, n, v),
        // curl reads a line without a value as a cookie with an empty one.
        [d, s, p, sec, e, n] => (d, s, p, sec, e, n, ""),
        _ => {
            return Line::Error(LineError::Fields {
                found: fields.len(),
            });
        }
    };
    let domain = domain.strip_prefix('.').unwrap_or(domain);
    if domain.is_empty() {
        return Line::Error(LineError::Domain);
    }
    let Some(subdomains) = flag(subdomains) else {
        return Line::Error(LineError::Flag {
            field: "include subdomains",
        });
    };
    if !path.starts_with('/') {
        return Line::Error(LineError::Path);
    }
    let Some(secure) = flag(secure) else {
        return Line::Error(LineError::Flag { field: "secure" });
    };
    let Ok(expiry) = expiry.trim().parse::<i64>() else {
        return Line::Error(LineError::Expiry);
    };
    Line::Cookie(Raw {
        name,
        value,
        domain,
        host_only: !subdomains,
        path,
        secure,
        http_only,
        expires: (expiry != 0).then_some(expiry),
    })
}

fn flag(field: &str) -> Option<bool> {
    if field.eq_ignore_ascii_case("TRUE") {
        Some(true)
    } else if field.eq_ignore_ascii_case("FALSE") {
        Some(false)
    } else {
        None
    }
}

/// What loading a cookies.txt file did. See [`CookiesTxt`].
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    loaded: usize,
    expired: usize,
    sessions_dropped: usize,
    skipped: Vec<SkippedLine>,
}

impl LoadReport {
    /// How many cookies went into the jar.
    pub fn loaded(&self) -> usize {
        self.loaded
    }

    /// How many cookies were left out because they had expired.
    pub fn expired(&self) -> usize {
        self.expired
    }

    /// How many session cookies were left out, with
    /// [`session_cookies(false)`](CookiesTxt::session_cookies).
    pub fn sessions_dropped(&self) -> usize {
        self.sessions_dropped
    }

    /// The lines that were skipped, and why, in file order.
    pub fn skipped(&self) -> &[SkippedLine] {
        &self.skipped
    }
}

/// A line of a cookies.txt file that held no usable cookie. See [`CookiesTxt`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedLine {
    line: usize,
    error: LineError,
}

impl SkippedLine {
    /// The line number, from 1.
    pub fn line(&self) -> usize {
        self.line
    }

    /// What was wrong with it.
    pub fn error(&self) -> &LineError {
        &self.error
    }
}

impl fmt::Display for SkippedLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.error)
    }
}

// The text includes the error's, so neither has a `source()`.
impl std::error::Error for SkippedLine {}

/// What was wrong with a line of a cookies.txt file. See [`CookiesTxt`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LineError {
    /// Not 7 fields (or 6, for an empty value) separated by tabs.
    Fields {
        /// How many there were.
        found: usize,
    },
    /// The domain is empty.
    Domain,
    /// A field that must be `TRUE` or `FALSE` is neither.
    Flag {
        /// `"include subdomains"` or `"secure"`.
        field: &'static str,
    },
    /// The path does not start with `/`.
    Path,
    /// The expiry is not a whole number of seconds.
    Expiry,
    /// The line is not UTF-8.
    NotUtf8,
    /// The cookie is not one the jar accepts.
    Cookie(Rejected),
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::Fields { found } => {
                write!(f, "expected 7 tab-separated fields, found {found}")
            }
            LineError::Domain => f.write_str("empty domain"),
            LineError::Flag { field } => write!(f, "the {field} field is neither TRUE nor FALSE"),
            LineError::Path => f.write_str("the path does not start with /"),
            LineError::Expiry => f.write_str("the expiry is not a number of seconds"),
            LineError::NotUtf8 => f.write_str("the line is not UTF-8"),
            LineError::Cookie(rejected) => rejected.fmt(f),
        }
    }
}

impl std::error::Error for LineError {}
