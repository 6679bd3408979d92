//! Where a body goes: stdout or a file, written chunk by chunk.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use http::Uri;

use crate::args::Output;
use crate::exit::{Failure, code};

/// Where one URL's output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Stdout,
    File(PathBuf),
}

impl Target {
    /// The target for `-o FILE`, `-O` (named after the URL's last path segment, in
    /// the current directory), or stdout.
    pub(crate) fn for_url(output: Option<&Output>, uri: &Uri) -> Result<Target, Failure> {
        match output {
            None => Ok(Target::Stdout),
            Some(Output::File(path)) if path.as_os_str() == "-" => Ok(Target::Stdout),
            Some(Output::File(path)) => Ok(Target::File(path.clone())),
            Some(Output::RemoteName) => {
                let name = uri.path().rsplit('/').next().unwrap_or("");
                if name.is_empty() || name == "." || name == ".." {
                    return Err(Failure::new(
                        code::WRITE_ERROR,
                        format!(
                            "-O: the URL {} has no file name to save to",
                            towline::redact::Redaction::new().uri(uri)
                        ),
                    ));
                }
                Ok(Target::File(PathBuf::from(name)))
            }
        }
    }

    pub(crate) fn is_file(&self) -> bool {
        matches!(self, Target::File(_))
    }
}

/// An open output: every write goes straight through, nothing is held back but
/// what the OS buffers.
pub(crate) struct Sink {
    out: Box<dyn Write>,
    name: String,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Sink {
    /// Opens the target; a file is created or truncated.
    pub(crate) fn open(target: &Target) -> Result<Sink, Failure> {
        match target {
            Target::Stdout => Ok(Sink {
                out: Box::new(io::stdout().lock()),
                name: "stdout".to_owned(),
            }),
            Target::File(path) => {
                let file = File::create(path).map_err(|e| write_failed(path, &e))?;
                Ok(Sink {
                    out: Box::new(file),
                    name: path.display().to_string(),
                })
            }
        }
    }

    /// Writes all of `bytes` and flushes them, so a slow stream shows as it comes.
    pub(crate) fn write(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        self.out
            .write_all(bytes)
            .and_then(|()| self.out.flush())
            .map_err(|e| self.failed(&e))
    }

    fn failed(&self, err: &io::Error) -> Failure {
        Failure::new(
            code::WRITE_ERROR,
            format!("could not write to {}: {err}", self.name),
        )
    }
}

fn write_failed(path: &Path, err: &io::Error) -> Failure {
    Failure::new(
        code::WRITE_ERROR,
        format!("could not create {}: {err}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_name_is_the_last_segment() {
        let uri: Uri = "http://a.test/dir/file.tar.gz?x=1".parse().expect("uri");
        assert_eq!(
            Target::for_url(Some(&Output::RemoteName), &uri).ok(),
            Some(Target::File("file.tar.gz".into()))
        );
        let uri: Uri = "http://a.test/dir/".parse().expect("uri");
        assert_eq!(
            Target::for_url(Some(&Output::RemoteName), &uri).map_err(|f| f.code),
            Err(code::WRITE_ERROR)
        );
    }
}
