//! A hand-edited rule file's errors: the file and the line, read from the
//! TOML parser's byte offsets. The signature rules and the media targets
//! share it, so neither needs the other to report a bad line.

/// A rule file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// The file could not be read (by the caller: this crate reads no files).
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid, at a line.
    #[error("{file}:{line}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// The 1-based line a byte offset of `text` falls on, for error messages
/// about hand-edited files (an offset past the end is on the last line).
pub fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .map_or(1, |s| s.bytes().filter(|&b| b == b'\n').count() + 1)
}

/// An error of `file` at a byte offset of its `text`, for rule parsers.
pub(crate) fn invalid_at<'a>(
    text: &'a str,
    file: &'a str,
) -> impl Fn(usize, String) -> RuleError + 'a {
    move |offset, message| RuleError::Invalid {
        file: file.to_string(),
        line: line_of(text, offset),
        message,
    }
}

/// A rule file's TOML, its errors naming the file and line.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    file: &str,
) -> Result<T, RuleError> {
    toml::from_str(text).map_err(|e| {
        invalid_at(text, file)(e.span().map_or(0, |s| s.start), e.message().to_string())
    })
}
