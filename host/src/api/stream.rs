//! Streaming stored objects to HTTP clients, block by block: a download
//! of any size uses a few MiB of memory.

use crate::pipeline::manifest::BackupManifest;
use crate::pipeline::restore::stream_checked;
use crate::pipeline::{reader, DEPTH};
use crate::plugin::StorageClient;
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// One stored object, once its first block (or its end) is in: a read
/// that cannot start is an error answer (`Err` with the reason), not a
/// 200 whose body breaks at once. A failure later ends the body with an
/// error, so the client sees a broken transfer, never a short file that
/// looks complete.
pub async fn object_started(
    storage: StorageClient,
    key: String,
) -> Result<impl futures::Stream<Item = Result<Bytes, std::io::Error>>, std::io::Error> {
    use futures::StreamExt;
    let mut rest = object(storage, key);
    let first = match rest.next().await {
        Some(Err(e)) => return Err(e),
        other => other,
    };
    Ok(futures::stream::iter(first).chain(rest))
}

/// One stored object as it is read (see [`object_started`]).
pub fn object(
    storage: StorageClient,
    key: String,
) -> ReceiverStream<Result<Bytes, std::io::Error>> {
    let (tx, rx) = mpsc::channel(DEPTH);
    tokio::spawn(async move {
        let mut object = reader::open(&storage, &key);
        while let Some(block) = object.blocks.recv().await {
            if tx.send(Ok(block)).await.is_err() {
                return; // client went away
            }
        }
        if let Err(e) = reader::finish(object, &key).await {
            tracing::warn!("download of {key} failed: {e}");
            let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
        }
    });
    ReceiverStream::new(rx)
}

/// A backup's artifact: its parts in order, each checked against the
/// manifest as it passes. The last block is held back until every checksum
/// matched, so a damaged backup never reaches the client as a transfer of
/// the full announced length.
pub fn verified_artifact(
    storage: StorageClient,
    prefix: String,
    manifest: BackupManifest,
) -> ReceiverStream<Result<Bytes, std::io::Error>> {
    let (tx, rx) = mpsc::channel(DEPTH);
    tokio::spawn(async move {
        let mut held: Option<Bytes> = None;
        let outcome = stream_checked(&storage, &prefix, &manifest, |block| {
            let previous = held.replace(block);
            let tx = tx.clone();
            Box::pin(async move {
                match previous {
                    Some(b) => tx.send(Ok(b)).await.is_ok(),
                    None => true,
                }
            })
        })
        .await;
        match outcome {
            Ok(()) => {
                if let Some(last) = held {
                    let _ = tx.send(Ok(last)).await;
                }
            }
            Err(_) if tx.is_closed() => {} // client went away
            Err(e) => {
                tracing::warn!("download of {prefix} refused: {e}");
                let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
            }
        }
    });
    ReceiverStream::new(rx)
}

/// A download response. The name goes out twice (RFC 6266): an ASCII
/// fallback in `filename` (anything else, quotes and backslashes become
/// `_`) and the exact name, UTF-8 percent-encoded, in `filename*`.
pub fn attachment(body: Body, filename: &str, length: Option<u64>) -> Response {
    let name: String = filename
        .chars()
        .filter(|c| !c.is_control() && !crate::api::limits::is_bidi(*c) && *c != '/')
        .collect();
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    let disposition = format!(
        "attachment; filename=\"{safe}\"; filename*=UTF-8''{}",
        percent_encoded(&name)
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(n) = length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    response
}

/// `text` with every byte outside RFC 5987's `attr-char` as `%XX`.
fn percent_encoded(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names_have_an_ascii_fallback_and_the_exact_name() {
        let response = attachment(Body::empty(), "nuit café\"/x-2026.dump.zst", Some(1));
        let disposition = response.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(
            disposition,
            "attachment; filename=\"nuit caf__x-2026.dump.zst\"; \
             filename*=UTF-8''nuit%20caf%C3%A9%22x-2026.dump.zst"
        );
    }
}
