//! Uploads: one `PUT` for what fits in a part, a multipart upload for the
//! rest. At most [`IN_FLIGHT`] parts are held (sent while the next is
//! read), so memory is bounded by the part size whatever the object's
//! size. A part that fails transiently is sent again; on any
//! failure or cancel the parts in flight are waited for and the multipart
//! upload is aborted, so nothing dangles in the bucket.

use crate::s3::{self, request, send, with_storage_options, xml};
use crate::settings::{encode, Resolved};
use dataguardian_plugin_sdk::bindings::dataguardian::plugin::progress;
use dataguardian_plugin_sdk::http::InFlight;
use dataguardian_plugin_sdk::io::{self, StreamReader};
use dataguardian_plugin_sdk::{log, InputStream, PluginError, PluginResult};
use serde::Deserialize;
use std::collections::VecDeque;
use std::time::Duration;

/// Parts sent before the oldest one's answer is awaited.
const IN_FLIGHT: usize = 4;
/// S3 takes at most 10,000 parts: the part size doubles every this many
/// parts (up to [`MAX_PART`]), so an object of unknown size up to about
/// 500 GB (8 MiB parts) fits.
const PARTS_PER_SIZE: usize = 1000;
/// The largest part buffer.
const MAX_PART: u64 = 64 << 20;
/// Parts S3 accepts in one upload.
const MAX_PARTS: usize = 10_000;

/// Attempts per request when the failure is transient.
const ATTEMPTS: u32 = 4;

/// Stores `source` under the full object key; returns the bytes stored.
pub fn put(r: &Resolved, object_key: &str, source: &InputStream) -> PluginResult<u64> {
    let mut reader = StreamReader::new(source);
    let mut part = vec![0u8; r.part_bytes as usize];
    let first = io::read_full(&mut reader, &mut part)?;
    if first < part.len() {
        put_single(r, object_key, &part[..first])?;
        progress::report(first as u64, None);
        return Ok(first as u64);
    }
    let upload_id = create(r, object_key)?;
    let upload = Upload {
        r,
        object_key,
        upload_id: &upload_id,
    };
    let outcome = upload.parts(&mut reader, part);
    if outcome.is_err() {
        abort(r, object_key, &upload_id);
    }
    outcome
}

fn put_single(r: &Resolved, object_key: &str, body: &[u8]) -> PluginResult<()> {
    let url = r.object_url(object_key, "");
    retrying(&format!("storing `{object_key}`"), || {
        let req = with_storage_options(r, request(r, "PUT", &url, body)?);
        send(req, body, &format!("storing `{object_key}`")).map(|_| ())
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Initiated {
    upload_id: String,
}

fn create(r: &Resolved, object_key: &str) -> PluginResult<String> {
    let url = r.object_url(object_key, "uploads=");
    let what = format!("starting the upload of `{object_key}`");
    let req = with_storage_options(r, request(r, "POST", &url, &[])?);
    let mut response = send(req, &[], &what)?;
    Ok(xml::<Initiated>(&mut response, &what)?.upload_id)
}

/// One multipart upload under way.
struct Upload<'a> {
    r: &'a Resolved,
    object_key: &'a str,
    upload_id: &'a str,
}

/// A part sent whose answer is awaited; its bytes are kept to send again.
struct Flying {
    number: usize,
    request: InFlight,
    buf: Vec<u8>,
    len: usize,
}

impl Upload<'_> {
    /// Sends every part, `first` (full) and the rest of `reader`, then
    /// completes the upload. Returns the bytes stored.
    fn parts(&self, reader: &mut StreamReader, first: Vec<u8>) -> PluginResult<u64> {
        let mut flying = VecDeque::new();
        let outcome = self.send_all(reader, first, &mut flying);
        if outcome.is_err() {
            // Parts still in flight could land after an abort.
            for part in flying {
                let _ = part.request.finish();
            }
        }
        outcome
    }

    fn send_all(
        &self,
        reader: &mut StreamReader,
        first: Vec<u8>,
        flying: &mut VecDeque<Flying>,
    ) -> PluginResult<u64> {
        let mut etags = Vec::new();
        let mut total = 0u64;
        let mut len = first.len();
        let mut buf = first;
        loop {
            if progress::cancelled() {
                return Err(PluginError::Failed("cancelled".into()));
            }
            let number = etags.len() + flying.len() + 1;
            if number > MAX_PARTS {
                return Err(PluginError::Failed(format!(
                    "`{}` needs more than S3's {MAX_PARTS} parts: raise part_size_kib or \
                     lower the job's max_file_size_mb",
                    self.object_key
                )));
            }
            let request = self.start_part(number, &buf[..len])?;
            total += len as u64;
            let last = len < buf.len();
            flying.push_back(Flying {
                number,
                request,
                buf,
                len,
            });
            if last {
                break;
            }
            buf = if flying.len() >= IN_FLIGHT {
                let (etag, done) = self.finish_part(flying)?;
                etags.push(etag);
                done
            } else {
                Vec::new()
            };
            buf.resize(self.part_len(etags.len() + flying.len() + 1), 0);
            progress::report(total, None);
            len = io::read_full(reader, &mut buf)?;
            if len == 0 {
                break;
            }
        }
        while !flying.is_empty() {
            etags.push(self.finish_part(flying)?.0);
        }
        progress::report(total, None);
        complete(self.r, self.object_key, self.upload_id, &etags)?;
        Ok(total)
    }

    /// The size of part `number` (from 1).
    fn part_len(&self, number: usize) -> usize {
        let base = self.r.part_bytes;
        let doublings = ((number - 1) / PARTS_PER_SIZE).min(16) as u32;
        (base << doublings).min(MAX_PART.max(base)) as usize
    }

    fn part_url(&self, number: usize) -> String {
        let query = format!(
            "partNumber={number}&uploadId={}",
            encode(self.upload_id, true)
        );
        self.r.object_url(self.object_key, &query)
    }

    fn start_part(&self, number: usize, body: &[u8]) -> PluginResult<InFlight> {
        request(self.r, "PUT", &self.part_url(number), body)?.start(body)
    }

    /// Waits for the oldest part in flight (sending it again after a
    /// transient failure); returns its ETag and its buffer.
    fn finish_part(&self, flying: &mut VecDeque<Flying>) -> PluginResult<(String, Vec<u8>)> {
        let Some(part) = flying.pop_front() else {
            return Err(PluginError::Failed("no part in flight".into()));
        };
        let what = format!("storing part {} of `{}`", part.number, self.object_key);
        let etag = |response: dataguardian_plugin_sdk::http::Response| {
            response
                .header("etag")
                .ok_or_else(|| PluginError::Failed(format!("{what}: no ETag in the response")))
        };
        let first = part.request.finish().and_then(|mut response| {
            if response.is_success() {
                Ok(response)
            } else {
                Err(s3::status_error(&mut response, &what))
            }
        });
        let tag = match first {
            Ok(response) => etag(response)?,
            Err(PluginError::Transient(m)) => {
                log::warn(&format!("{what}: {m}; sending it again"));
                let body = &part.buf[..part.len];
                let url = self.part_url(part.number);
                retrying(&what, || {
                    etag(send(request(self.r, "PUT", &url, body)?, body, &what)?)
                })?
            }
            Err(e) => return Err(e),
        };
        Ok((tag, part.buf))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Completed {
    code: Option<String>,
    message: Option<String>,
}

fn complete(r: &Resolved, object_key: &str, upload_id: &str, etags: &[String]) -> PluginResult<()> {
    let mut doc = String::from("<CompleteMultipartUpload>");
    for (i, etag) in etags.iter().enumerate() {
        doc.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
            i + 1,
            etag.replace('&', "&amp;").replace('<', "&lt;")
        ));
    }
    doc.push_str("</CompleteMultipartUpload>");
    let url = r.object_url(object_key, &format!("uploadId={}", encode(upload_id, true)));
    let what = format!("completing the upload of `{object_key}`");
    let mut response = send(
        request(r, "POST", &url, doc.as_bytes())?,
        doc.as_bytes(),
        &what,
    )?;
    // S3 may answer 200 and report the failure in the body.
    let done: Completed = xml(&mut response, &what).unwrap_or_default();
    if let Some(code) = done.code {
        return Err(PluginError::Failed(format!(
            "{what}: {code}: {}",
            done.message.unwrap_or_default()
        )));
    }
    Ok(())
}

/// Aborts a multipart upload; a failure is logged (the folder delete of a
/// failed backup aborts whatever is left under it).
pub fn abort(r: &Resolved, object_key: &str, upload_id: &str) {
    let url = r.object_url(object_key, &format!("uploadId={}", encode(upload_id, true)));
    let outcome = request(r, "DELETE", &url, &[])
        .and_then(|req| send(req, &[], &format!("aborting the upload of `{object_key}`")));
    match outcome {
        Ok(_) => log::info(&format!("aborted the unfinished upload of `{object_key}`")),
        Err(e) => log::warn(&format!("{e:?}")),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Uploads {
    upload: Vec<Pending>,
    is_truncated: bool,
    next_key_marker: Option<String>,
    next_upload_id_marker: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Pending {
    key: String,
    upload_id: String,
}

/// Aborts every unfinished multipart upload under a full key prefix, all
/// pages of them.
pub fn abort_under(r: &Resolved, prefix: &str) -> PluginResult<usize> {
    let what = format!("listing unfinished uploads under `{prefix}`");
    let mut markers: Option<(String, String)> = None;
    let mut aborted = 0;
    loop {
        // Query parameters in sorted order, values encoded.
        let mut query = String::new();
        if let Some((key, _)) = &markers {
            query.push_str(&format!("key-marker={}&", encode(key, true)));
        }
        query.push_str(&format!("prefix={}", encode(prefix, true)));
        if let Some((_, id)) = &markers {
            query.push_str(&format!("&upload-id-marker={}", encode(id, true)));
        }
        query.push_str("&uploads=");
        let url = format!("{}?{query}", r.bucket_url());
        let mut response = send(request(r, "GET", &url, &[])?, &[], &what)?;
        let page: Uploads = xml(&mut response, &what)?;
        for upload in &page.upload {
            abort(r, &upload.key, &upload.upload_id);
            aborted += 1;
        }
        match (
            page.is_truncated,
            page.next_key_marker,
            page.next_upload_id_marker,
        ) {
            (false, _, _) => return Ok(aborted),
            (true, Some(key), Some(id)) => markers = Some((key, id)),
            (true, _, _) => {
                return Err(PluginError::Failed(format!(
                    "{what}: the list is truncated but the server gave no markers"
                )))
            }
        }
    }
}

/// Runs `attempt` again after a transient failure, waiting 1, 2, 4 s.
fn retrying<T>(what: &str, mut attempt: impl FnMut() -> PluginResult<T>) -> PluginResult<T> {
    let mut wait = Duration::from_secs(1);
    let mut n = 1;
    loop {
        match attempt() {
            Err(PluginError::Transient(m)) if n < ATTEMPTS => {
                n += 1;
                log::warn(&format!(
                    "{what}: {m}; attempt {n} of {ATTEMPTS} in {wait:?}"
                ));
                std::thread::sleep(wait);
                wait *= 2;
            }
            other => return other,
        }
    }
}
