//! The S3 REST calls the storage needs, over the SDK's HTTP client. The
//! host signs every request (SigV4) with the secret access key; this
//! module only states the payload hash it signs.

use crate::settings::{encode, Resolved};
use dataguardian_plugin_sdk::http::{Request, Response};
use dataguardian_plugin_sdk::{PluginError, PluginResult};
use serde::Deserialize;

/// Largest XML document read into memory (a list page is ~1000 keys).
const XML_LIMIT: usize = 8 << 20;
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A request the host signs. The host hashes a body natively for the
/// signature (`x-amz-content-sha256`), so only the empty payload's hash
/// is stated here.
pub fn request(r: &Resolved, method: &str, url: &str, body: &[u8]) -> PluginResult<Request> {
    let req = Request::new(method, url)?.auth(&r.auth());
    Ok(if body.is_empty() {
        req.header("x-amz-content-sha256", EMPTY_SHA256)
    } else {
        req
    })
}

/// Sends and maps an unsuccessful status to the plugin error it means.
pub fn send(req: Request, body: &[u8], what: &str) -> PluginResult<Response> {
    let mut response = req.send(body)?;
    if response.is_success() {
        return Ok(response);
    }
    Err(status_error(&mut response, what))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ErrorBody {
    code: String,
    message: String,
}

/// The error an S3 status and error document mean.
pub fn status_error(response: &mut Response, what: &str) -> PluginError {
    let status = response.status;
    let text = response.text(64 * 1024).unwrap_or_default();
    let body: ErrorBody = quick_xml::de::from_str(&text).unwrap_or_default();
    let code = if body.code.is_empty() {
        format!("HTTP {status}")
    } else {
        body.code.clone()
    };
    let detail = if body.message.is_empty() {
        format!("{what}: {code}")
    } else {
        format!("{what}: {code}: {}", body.message)
    };
    match (status, code.as_str()) {
        (_, "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "InvalidToken" | "ExpiredToken")
        | (401, _) => PluginError::AuthFailed(detail),
        (_, "NoSuchBucket") => PluginError::NotFound(detail),
        (403, _) => PluginError::PermissionDenied(detail),
        (404, _) => PluginError::NotFound(detail),
        (_, "SlowDown" | "RequestTimeout" | "InternalError" | "ServiceUnavailable") => {
            PluginError::Transient(detail)
        }
        (429 | 500..=599, _) => PluginError::Transient(detail),
        _ => PluginError::Failed(detail),
    }
}

/// Parses an XML response body.
pub fn xml<T: for<'de> Deserialize<'de>>(response: &mut Response, what: &str) -> PluginResult<T> {
    let text = response.text(XML_LIMIT)?;
    quick_xml::de::from_str(&text)
        .map_err(|e| PluginError::Failed(format!("{what}: unexpected response: {e}")))
}

/// One page of `ListObjectsV2`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListPage {
    pub contents: Vec<Listed>,
    pub common_prefixes: Vec<CommonPrefix>,
    pub is_truncated: bool,
    pub next_continuation_token: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    pub last_modified: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct CommonPrefix {
    pub prefix: String,
}

/// Lists under `prefix` (a full object key prefix), one page at a time,
/// giving each page to `each`. With `delimiter`, one level only.
pub fn list_pages(
    r: &Resolved,
    prefix: &str,
    delimiter: bool,
    max_keys: Option<u32>,
    mut each: impl FnMut(ListPage) -> PluginResult<bool>,
) -> PluginResult<()> {
    let mut token: Option<String> = None;
    loop {
        // Query parameters in sorted order, values encoded.
        let mut query = String::new();
        if let Some(t) = &token {
            query.push_str(&format!("continuation-token={}&", encode(t, true)));
        }
        if delimiter {
            query.push_str("delimiter=%2F&");
        }
        query.push_str("list-type=2");
        if let Some(max) = max_keys {
            query.push_str(&format!("&max-keys={max}"));
        }
        query.push_str(&format!("&prefix={}", encode(prefix, true)));
        let url = format!("{}?{query}", r.bucket_url());
        let what = format!("listing `{prefix}`");
        let mut response = send(request(r, "GET", &url, &[])?, &[], &what)?;
        let page: ListPage = xml(&mut response, &what)?;
        let next = page.next_continuation_token.clone();
        let truncated = page.is_truncated;
        if !each(page)? {
            return Ok(());
        }
        match next {
            Some(t) if truncated => token = Some(t),
            None if truncated => {
                return Err(PluginError::Failed(format!(
                    "{what}: the list is truncated but the server gave no continuation token"
                )))
            }
            _ => return Ok(()),
        }
    }
}

/// `HEAD` of an object: `None` when it does not exist.
pub fn head(r: &Resolved, object_key: &str) -> PluginResult<Option<(u64, Option<u64>)>> {
    let url = r.object_url(object_key, "");
    let mut response = request(r, "HEAD", &url, &[])?.send(&[])?;
    if response.status == 404 {
        return Ok(None);
    }
    if !response.is_success() {
        return Err(status_error(
            &mut response,
            &format!("reading `{object_key}`"),
        ));
    }
    let size = response
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let modified = response
        .header("last-modified")
        .and_then(|v| httpdate::parse_http_date(&v).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs());
    Ok(Some((size, modified)))
}

/// Deletes one object (absent is fine).
pub fn delete(r: &Resolved, object_key: &str) -> PluginResult<()> {
    let url = r.object_url(object_key, "");
    send(
        request(r, "DELETE", &url, &[])?,
        &[],
        &format!("deleting `{object_key}`"),
    )?;
    Ok(())
}

/// Server-side copy within the bucket (objects up to 5 GiB).
pub fn copy(r: &Resolved, from: &str, to: &str) -> PluginResult<()> {
    let url = r.object_url(to, "");
    let source = format!("/{}/{}", r.cfg.bucket, encode(from, false));
    let req =
        with_storage_options(r, request(r, "PUT", &url, &[])?).header("x-amz-copy-source", source);
    let mut response = send(req, &[], &format!("copying `{from}` to `{to}`"))?;
    // A copy can fail after a 200: the body then holds an error document.
    let text = response.text(64 * 1024)?;
    if text.contains("<Error>") {
        let body: ErrorBody = quick_xml::de::from_str(&text).unwrap_or_default();
        return Err(PluginError::Transient(format!(
            "copying `{from}` to `{to}`: {}: {}",
            body.code, body.message
        )));
    }
    Ok(())
}

/// Adds the storage class and encryption asked for new objects.
pub fn with_storage_options(r: &Resolved, mut req: Request) -> Request {
    if let Some(class) = &r.cfg.storage_class {
        req = req.header("x-amz-storage-class", class);
    }
    if let Some(sse) = &r.cfg.server_side_encryption {
        req = req.header("x-amz-server-side-encryption", sse);
    }
    req
}

/// Seconds since the epoch of an ISO 8601 `LastModified`.
pub fn iso_seconds(text: &str) -> Option<u64> {
    humantime::parse_rfc3339_weak(text.trim_end_matches('Z'))
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_pages_parse() {
        let text = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>dg/</Prefix>
<KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>
<NextContinuationToken>abc==</NextContinuationToken>
<Contents><Key>dg/a</Key><LastModified>2026-11-30T19:00:01.000Z</LastModified><ETag>"x"</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass></Contents>
<CommonPrefixes><Prefix>dg/job/</Prefix></CommonPrefixes></ListBucketResult>"#;
        let page: ListPage = quick_xml::de::from_str(text).expect("page");
        assert!(page.is_truncated);
        assert_eq!(page.next_continuation_token.as_deref(), Some("abc=="));
        assert_eq!(page.contents[0].key, "dg/a");
        assert_eq!(page.contents[0].size, 12);
        assert_eq!(page.common_prefixes[0].prefix, "dg/job/");
        assert_eq!(
            iso_seconds(&page.contents[0].last_modified),
            Some(1796065201)
        );
    }

    #[test]
    fn error_documents_parse() {
        let text = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>bad</Message></Error>";
        let body: ErrorBody = quick_xml::de::from_str(text).expect("error");
        assert_eq!(body.code, "SignatureDoesNotMatch");
    }
}
