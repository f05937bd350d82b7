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

/// One stored object. A read failure ends the body with an error, so the
/// client sees a broken transfer, never a short file that looks complete.
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

/// A download response.
pub fn attachment(body: Body, filename: &str, length: Option<u64>) -> Response {
    let safe: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
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
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(n) = length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    response
}
