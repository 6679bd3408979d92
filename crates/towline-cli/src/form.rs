//! `-F`: curl's multipart form syntax, read into parts that become a
//! [`towline::multipart::Form`] for each request.
//!
//! `name=value`, `name=@file` (a file part, streamed from disk), `name=<file` (the
//! file's contents as a text part), each followed by `;type=MIME` and
//! `;filename=NAME` modifiers, as curl reads them: a value or a modifier's value may
//! be a double-quoted string (with `\"` and `\\` escapes) holding `;`. A file part's
//! content type, and a text part's when it has a file name, come from the file name's
//! extension with curl's table; `application/octet-stream` for other files.

use std::path::{Path, PathBuf};

use towline::multipart::{Form, Part};

use crate::exit::{Failure, code};

/// One `-F` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FormPart {
    /// The part's name, before the `=`.
    pub(crate) name: String,
    /// Its bytes.
    pub(crate) content: Content,
    /// `;type=`.
    pub(crate) content_type: Option<String>,
    /// `;filename=`.
    pub(crate) file_name: Option<String>,
}

/// Where a part's bytes come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Content {
    /// `name=value`.
    Text(String),
    /// `name=@file`: a file part, with the file's name.
    File(PathBuf),
    /// `name=<file`: the file's contents, as a text part.
    FileText(PathBuf),
    /// `name=@-` or `name=<-`: stdin, read when the command line is checked, and
    /// whether it is a file part (`@-`).
    Stdin(Vec<u8>, bool),
}

/// Reads one `-F` argument. Unknown modifiers are skipped with a warning on stderr
/// (unless `quiet`), as curl does.
pub(crate) fn parse(arg: &str, quiet: bool) -> Result<FormPart, Failure> {
    let bad = |why: &str| Failure::new(code::USAGE, format!("-F '{arg}': {why}"));
    let (name, rest) = arg
        .split_once('=')
        .ok_or_else(|| bad("expected name=content"))?;
    let (kind, rest) = match rest.as_bytes().first() {
        Some(b'@') => (Some(true), &rest[1..]),
        Some(b'<') => (Some(false), &rest[1..]),
        _ => (None, rest),
    };
    let (value, mut rest) = word(rest);
    let mut part = FormPart {
        name: name.to_owned(),
        content: Content::Text(String::new()),
        content_type: None,
        file_name: None,
    };
    while let Some(after) = rest.strip_prefix(';') {
        let after = after.trim_start();
        if let Some(v) = after.strip_prefix("type=") {
            let (v, r) = word(v);
            if v.trim().is_empty() {
                return Err(bad("an empty type="));
            }
            part.content_type = Some(v);
            rest = r;
        } else if let Some(v) = after.strip_prefix("filename=") {
            let (v, r) = word(v);
            part.file_name = Some(v);
            rest = r;
        } else {
            let (skipped, r) = word(after);
            if !quiet && !skipped.is_empty() {
                eprintln!("towline: Warning: skip unknown form field: {skipped}");
            }
            rest = r;
        }
    }
    part.content = match kind {
        None => Content::Text(value),
        Some(file) if value == "-" => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes).map_err(|e| {
                Failure::new(code::READ_ERROR, format!("could not read stdin: {e}"))
            })?;
            Content::Stdin(bytes, file)
        }
        Some(file) => {
            if value.is_empty() {
                return Err(bad("no file name after @ or <"));
            }
            // Checked now, opened again for each request.
            std::fs::File::open(&value).map_err(|e| {
                Failure::new(
                    code::READ_ERROR,
                    format!("-F: could not open the file {value}: {e}"),
                )
            })?;
            if file {
                Content::File(value.into())
            } else {
                Content::FileText(value.into())
            }
        }
    };
    Ok(part)
}

/// curl's `get_param_word`: a double-quoted string (with `\"` and `\\` escapes) or
/// the text up to the next `;`. Returns the word and what follows it.
fn word(text: &str) -> (String, &str) {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.clone().next() {
                    Some((_, next @ ('"' | '\\'))) => {
                        out.push(next);
                        chars.next();
                    }
                    _ => out.push('\\'),
                },
                '"' => {
                    let after = &quoted[i + 1..];
                    // Whatever follows the closing quote up to `;` is ignored, as curl does.
                    let rest = after.find(';').map_or("", |j| &after[j..]);
                    return (out, rest);
                }
                _ => out.push(c),
            }
        }
        // No closing quote: curl takes the text as it is.
    }
    match text.find(';') {
        Some(i) => (text[..i].to_owned(), &text[i..]),
        None => (text.to_owned(), ""),
    }
}

/// curl's content types by file name extension (lib/mime.c); `None` for others.
fn curl_type(file_name: &str) -> Option<&'static str> {
    let ext = Path::new(file_name)
        .extension()?
        .to_string_lossy()
        .to_ascii_lowercase();
    Some(match ext.as_str() {
        "gif" => "image/gif",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "txt" => "text/plain",
        "htm" | "html" => "text/html",
        "pdf" => "application/pdf",
        "xml" => "application/xml",
        _ => return None,
    })
}

/// A fresh form of these parts, each file opened anew.
pub(crate) async fn build(parts: &[FormPart]) -> Result<Form, Failure> {
    let mut form = Form::new();
    for spec in parts {
        let (part, is_file) = match &spec.content {
            Content::Text(text) => (Part::text(text.clone()), false),
            Content::Stdin(bytes, file) => (Part::bytes(bytes.clone()), *file),
            Content::FileText(path) => (Part::stream(open(path).await?), false),
            Content::File(path) => {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (Part::stream(open(path).await?).file_name(name), true)
            }
        };
        let part = match &spec.file_name {
            Some(name) => part.file_name(name.clone()),
            None => part,
        };
        let file_name = spec.file_name.clone().or_else(|| match &spec.content {
            Content::File(path) => path.file_name().map(|n| n.to_string_lossy().into_owned()),
            _ => None,
        });
        let guessed = file_name.as_deref().and_then(curl_type);
        let content_type = match (&spec.content_type, guessed, is_file) {
            (Some(given), _, _) => Some(given.as_str()),
            (None, Some(guessed), _) => Some(guessed),
            (None, None, true) => Some("application/octet-stream"),
            (None, None, false) => None,
        };
        let part = match content_type {
            Some(mime) => part.mime_str(mime).map_err(|_| {
                Failure::new(
                    code::USAGE,
                    format!("-F {}: '{mime}' is not a valid content type", spec.name),
                )
            })?,
            None => part,
        };
        form = form.part(spec.name.clone(), part);
    }
    Ok(form)
}

/// A file streamed from disk, its length known; curl's 26 when it cannot be opened.
async fn open(path: &Path) -> Result<towline::Body, Failure> {
    towline::Body::from_path(path).await.map_err(|e| {
        Failure::new(
            code::READ_ERROR,
            format!("-F: could not read the file {}: {e}", path.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(arg: &str) -> FormPart {
        match parse(arg, true) {
            Ok(p) => p,
            Err(f) => panic!("{arg}: {f}"),
        }
    }

    #[test]
    fn text_values_end_at_a_semicolon_unless_quoted() {
        let p = part("a=b;type=text/foo");
        assert_eq!(p.content, Content::Text("b".into()));
        assert_eq!(p.content_type.as_deref(), Some("text/foo"));
        let p = part(r#"e="q;v \"x\"";filename=n.gif"#);
        assert_eq!(p.content, Content::Text("q;v \"x\"".into()));
        assert_eq!(p.file_name.as_deref(), Some("n.gif"));
        let p = part("x=1;nope=2");
        assert_eq!(p.content, Content::Text("1".into()));
        assert_eq!(part("empty=").content, Content::Text(String::new()));
    }

    #[test]
    fn bad_arguments_are_usage_or_read_errors() {
        assert_eq!(parse("novalue", true).map_err(|f| f.code), Err(code::USAGE));
        assert_eq!(parse("a=@", true).map_err(|f| f.code), Err(code::USAGE));
        assert_eq!(
            parse("a=1;type=", true).map_err(|f| f.code),
            Err(code::USAGE)
        );
        assert_eq!(
            parse("a=@/nonexistent/towline", true).map_err(|f| f.code),
            Err(code::READ_ERROR)
        );
    }

    #[test]
    fn content_types_follow_curls_table() {
        assert_eq!(curl_type("x.PNG"), Some("image/png"));
        assert_eq!(curl_type("x.json"), None);
        assert_eq!(curl_type("noext"), None);
    }
}
