//! The object storage URLs `-w` and `summary` take: `az://CONTAINER/PATH/`
//! (Azure Blob Storage and ADLS Gen2) and `s3://BUCKET/PATH/`. Anything that
//! looks like a URL with another scheme is an error, so a typo never becomes
//! a local directory named `az:`.

/// The services a dataset can be written to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Azure Blob Storage / Data Lake Storage Gen2 (`az://`).
    Azure,
    /// Amazon S3 and S3-compatible stores (`s3://`).
    S3,
}

/// A parsed `SCHEME://BUCKET/PREFIX` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreUrl {
    /// The service.
    pub scheme: Scheme,
    /// The Azure container or the S3 bucket.
    pub bucket: String,
    /// The key prefix of the dataset, without leading or trailing `/`
    /// (empty for the container's root).
    pub prefix: String,
}

/// Why a `-w` or summary argument is not a usable object storage URL.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// A scheme this build does not write to.
    #[error("{0}: unknown URL scheme {1:?}; object storage outputs are az://CONTAINER/PATH/ (Azure Blob, ADLS Gen2) and s3://BUCKET/PATH/, anything else is a local path without a scheme")]
    Scheme(String, String),
    /// No container or bucket after the scheme.
    #[error("{0}: no container or bucket after the scheme (expected {1}://NAME/PATH/)")]
    NoBucket(String, String),
    /// A path that would not round-trip as object keys.
    #[error("{0}: empty, `.` or `..` path segment in an object storage URL")]
    Segment(String),
}

impl StoreUrl {
    /// Parses `s`: `Ok(None)` when it is no URL (a local path), an error
    /// when it is a URL this build cannot write to. A URL is anything that
    /// starts with a scheme (letters, digits, `+`, `-`, `.`) and `:/`.
    ///
    /// # Errors
    /// An unknown scheme, a missing bucket, or an empty/dot path segment.
    pub fn parse(s: &str) -> Result<Option<StoreUrl>, UrlError> {
        let Some((scheme, rest)) = s.split_once(":/") else {
            return Ok(None);
        };
        let is_scheme = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !is_scheme {
            return Ok(None);
        }
        let lower = scheme.to_ascii_lowercase();
        let kind = match lower.as_str() {
            "az" => Scheme::Azure,
            "s3" => Scheme::S3,
            _ => return Err(UrlError::Scheme(s.to_string(), scheme.to_string())),
        };
        let rest = rest
            .strip_prefix('/')
            .ok_or_else(|| UrlError::NoBucket(s.to_string(), lower.clone()))?;
        let (bucket, path) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(UrlError::NoBucket(s.to_string(), lower));
        }
        let path = path.trim_end_matches('/');
        if !path.is_empty()
            && path
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == "..")
        {
            return Err(UrlError::Segment(s.to_string()));
        }
        Ok(Some(StoreUrl {
            scheme: kind,
            bucket: bucket.to_string(),
            prefix: path.to_string(),
        }))
    }

    /// The key of `rel` (a `/`-separated path inside the dataset).
    pub fn key(&self, rel: &str) -> String {
        let rel = rel.trim_start_matches('/');
        match (self.prefix.is_empty(), rel.is_empty()) {
            (true, _) => rel.to_string(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}/{rel}", self.prefix),
        }
    }
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self.scheme {
            Scheme::Azure => "az",
            Scheme::S3 => "s3",
        };
        if self.prefix.is_empty() {
            write!(f, "{s}://{}/", self.bucket)
        } else {
            write!(f, "{s}://{}/{}/", self.bucket, self.prefix)
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn az_and_s3_urls_parse() {
        let u = StoreUrl::parse("az://lake/pathlens/site1/")
            .unwrap()
            .unwrap();
        assert_eq!(
            (u.scheme, u.bucket.as_str(), u.prefix.as_str()),
            (Scheme::Azure, "lake", "pathlens/site1")
        );
        assert_eq!(
            u.key("flows/date=2026-11-21/hour=8/p.parquet"),
            "pathlens/site1/flows/date=2026-11-21/hour=8/p.parquet"
        );
        assert_eq!(u.to_string(), "az://lake/pathlens/site1/");
        let s = StoreUrl::parse("S3://bucket").unwrap().unwrap();
        assert_eq!((s.scheme, s.prefix.as_str()), (Scheme::S3, ""));
        assert_eq!(s.key("flows/x"), "flows/x");
        assert_eq!(s.to_string(), "s3://bucket/");
    }

    #[test]
    fn local_paths_are_no_urls() {
        for p in [
            "out/",
            "/data/flows",
            "./az",
            "c:x",
            "az:lake",
            "-",
            "a b:/c",
        ] {
            assert_eq!(StoreUrl::parse(p), Ok(None), "{p}");
        }
    }

    #[test]
    fn other_schemes_and_malformed_urls_are_errors() {
        let e = StoreUrl::parse("gs://bucket/x/").unwrap_err();
        assert!(e.to_string().contains("unknown URL scheme \"gs\""), "{e}");
        assert!(matches!(
            StoreUrl::parse("https://acct.blob.core.windows.net/c/"),
            Err(UrlError::Scheme(..))
        ));
        // One slash is still a URL, never a directory named `az:`.
        assert!(matches!(
            StoreUrl::parse("az:/lake/x"),
            Err(UrlError::NoBucket(..))
        ));
        assert!(matches!(
            StoreUrl::parse("az:///x"),
            Err(UrlError::NoBucket(..))
        ));
        assert!(matches!(
            StoreUrl::parse("s3://b/a//c"),
            Err(UrlError::Segment(_))
        ));
        assert!(matches!(
            StoreUrl::parse("s3://b/../c"),
            Err(UrlError::Segment(_))
        ));
    }
}
