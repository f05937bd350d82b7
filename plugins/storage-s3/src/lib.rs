//! S3 storage: Amazon S3 and S3-compatible services (MinIO, Cloudflare R2,
//! Backblaze B2) through `wasi:http`.
//!
//! The plugin never sees the secret access key: every request carries an
//! `x-dataguardian-auth: aws-sigv4 …` directive and the host signs it for
//! the granted endpoint only, hashing each body natively for the
//! signature. Downloads are spliced host-side from the response into the
//! sink; uploads hold one part in memory at a time.

mod s3;
mod settings;
mod upload;

use dataguardian_plugin_sdk::{
    config, export_storage, health, log, CallContext, HealthReport, InputStream, ObjectInfo,
    OutputStream, PluginError, PluginInfo, PluginKind, PluginResult, Storage,
};
use settings::{Config, Resolved};
use std::time::Instant;

const SCHEMA: &str = r#"{"type":"object","required":["bucket","access_key_id","secret_access_key"],"additionalProperties":false,"properties":{
"bucket":{"type":"string","description":"Bucket name"},
"region":{"type":"string","description":"Region (AWS: required without endpoint; R2: auto; others: us-east-1)"},
"endpoint":{"type":"string","format":"uri","description":"Base URL of an S3-compatible service (required for r2 and backblaze); addressed path-style"},
"access_key_id":{"type":"string"},
"secret_access_key":{"type":"string","writeOnly":true,"description":"Kept by the host; requests are signed host-side"},
"prefix":{"type":"string","description":"Key prefix under which everything is kept"},
"force_path_style":{"type":"boolean","description":"AWS only: bucket in the path instead of the host name"},
"storage_class":{"type":"string","description":"e.g. STANDARD_IA, GLACIER_IR"},
"server_side_encryption":{"type":"string","enum":["AES256","aws:kms"]},
"part_size_kib":{"type":"integer","minimum":64,"maximum":65536,"default":8192,"description":"Multipart part size, doubled every 1000 parts up to 64 MiB; S3 refuses parts under 5 MiB but the last"}}}"#;

struct S3;

impl S3 {
    fn load(ctx: &CallContext) -> PluginResult<Resolved> {
        Config::load(ctx)
    }
}

fn info(key: String, size: u64, modified: Option<u64>, is_dir: bool) -> ObjectInfo {
    ObjectInfo {
        key,
        size,
        modified,
        is_dir,
    }
}

impl Storage for S3 {
    fn info() -> PluginInfo {
        PluginInfo {
            id: "s3".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Storage,
            provides: vec!["s3".into(), "minio".into(), "r2".into(), "backblaze".into()],
            artifact_format: None,
            description: "Amazon S3 and S3-compatible object stores".into(),
            config_schema: SCHEMA.into(),
        }
    }

    fn validate_config(text: &str) -> PluginResult<()> {
        config::parse_json::<Config>(text)?.check()
    }

    /// Lists one key (bucket reachable, credentials valid), then writes and
    /// deletes a probe object (write permission).
    fn health_check(ctx: &CallContext) -> HealthReport {
        let started = Instant::now();
        let outcome = S3::load(ctx).and_then(|r| {
            let root = r.object_key("")?;
            let listed = if root.is_empty() {
                String::new()
            } else {
                format!("{root}/")
            };
            s3::list_pages(&r, &listed, true, Some(1), |_| Ok(false))?;
            let probe = r.object_key(".dataguardian-probe")?;
            let url = r.object_url(&probe, "");
            s3::send(
                s3::request(&r, "PUT", &url, b"ok")?,
                b"ok",
                "writing a probe object",
            )?;
            s3::delete(&r, &probe)?;
            let mut metadata = vec![
                health::kv("bucket", &r.cfg.bucket),
                health::kv("region", &r.region),
            ];
            if let Some(endpoint) = &r.cfg.endpoint {
                metadata.push(health::kv("endpoint", endpoint));
            }
            Ok((None, metadata))
        });
        health::report(started, outcome)
    }

    fn put(
        ctx: &CallContext,
        key: &str,
        source: &InputStream,
        _size_hint: Option<u64>,
    ) -> PluginResult<u64> {
        let r = S3::load(ctx)?;
        let object = r.object_key(key)?;
        upload::put(&r, &object, source)
    }

    fn get(
        ctx: &CallContext,
        key: &str,
        sink: &OutputStream,
        offset: u64,
        length: Option<u64>,
    ) -> PluginResult<u64> {
        let r = S3::load(ctx)?;
        let object = r.object_key(key)?;
        if length == Some(0) {
            return Ok(0);
        }
        let url = r.object_url(&object, "");
        let mut req = s3::request(&r, "GET", &url, &[])?;
        match (offset, length) {
            (0, None) => {}
            (from, None) => req = req.header("range", format!("bytes={from}-")),
            (from, Some(n)) => req = req.header("range", format!("bytes={from}-{}", from + n - 1)),
        }
        let mut response = req.send(&[])?;
        if response.status == 404 {
            return Err(PluginError::NotFound(format!("`{key}` not found")));
        }
        if response.status == 416 {
            return Ok(0);
        }
        if !response.is_success() {
            return Err(s3::status_error(&mut response, &format!("reading `{key}`")));
        }
        response.pipe_to(sink)
    }

    /// One level under `prefix`, like a directory listing: objects and
    /// the "folders" (common prefixes) below it, all pages.
    fn list(ctx: &CallContext, prefix: &str) -> PluginResult<Vec<ObjectInfo>> {
        let r = S3::load(ctx)?;
        let root = r.object_key(prefix)?;
        let listed = if root.is_empty() {
            String::new()
        } else {
            format!("{root}/")
        };
        let mut out = Vec::new();
        s3::list_pages(&r, &listed, true, None, |page| {
            for dir in page.common_prefixes {
                let key = r.storage_key(dir.prefix.trim_end_matches('/')).to_string();
                out.push(info(key, 0, None, true));
            }
            for object in page.contents {
                if object.key.ends_with('/') {
                    continue;
                }
                let modified = s3::iso_seconds(&object.last_modified);
                out.push(info(
                    r.storage_key(&object.key).to_string(),
                    object.size,
                    modified,
                    false,
                ));
            }
            Ok(true)
        })?;
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn stat(ctx: &CallContext, key: &str) -> PluginResult<Option<ObjectInfo>> {
        let r = S3::load(ctx)?;
        let object = r.object_key(key)?;
        let normalized = settings::check_key(key)?;
        if !object.is_empty() {
            if let Some((size, modified)) = s3::head(&r, &object)? {
                return Ok(Some(info(normalized, size, modified, false)));
            }
        }
        // A "folder" exists while something is stored under it.
        let listed = if object.is_empty() {
            String::new()
        } else {
            format!("{object}/")
        };
        let mut found = normalized.is_empty();
        s3::list_pages(&r, &listed, false, Some(1), |page| {
            found |= !page.contents.is_empty();
            Ok(false)
        })?;
        Ok(found.then(|| info(normalized, 0, None, true)))
    }

    /// Deletes an object, or a folder with everything under it, aborting
    /// any unfinished upload there.
    fn delete(ctx: &CallContext, key: &str) -> PluginResult<()> {
        let r = S3::load(ctx)?;
        if settings::check_key(key)?.is_empty() {
            return Err(PluginError::InvalidConfig(
                "key: refusing to delete the storage root".into(),
            ));
        }
        let object = r.object_key(key)?;
        s3::delete(&r, &object)?;
        let folder = format!("{object}/");
        let mut keys = Vec::new();
        s3::list_pages(&r, &folder, false, None, |page| {
            keys.extend(page.contents.into_iter().map(|o| o.key));
            Ok(true)
        })?;
        for key in &keys {
            s3::delete(&r, key)?;
        }
        let aborted = upload::abort_under(&r, &folder)?;
        if aborted > 0 {
            log::info(&format!(
                "aborted {aborted} unfinished upload(s) under `{key}`"
            ));
        }
        Ok(())
    }

    fn copy(ctx: &CallContext, from: &str, to: &str) -> PluginResult<()> {
        let r = S3::load(ctx)?;
        // A missing source is S3's `NoSuchKey` (404): not found.
        let (source, target) = (r.object_key(from)?, r.object_key(to)?);
        s3::copy(&r, &source, &target)
    }
}

export_storage!(S3);
