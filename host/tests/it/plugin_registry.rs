//! The plugin platform end to end: an out-of-tree plugin (examples/
//! ntfy-notifier, depending only on the SDK by path) is built, packed,
//! published into a registry served over loopback HTTP, installed into a
//! running server through the API with no restart, and used; and every
//! way an install must be refused is, with an error naming the cause.

use crate::common;
use crate::common::receiver::Receiver;
use crate::common::server::{Backend, TestServer};
use dataguardian::plugin::{embedded, package::Package, registry};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Serves `dir` read-only over loopback HTTP; the base URL.
async fn serve_dir(dir: PathBuf) -> String {
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let dir = dir.clone();
        async move {
            let relative = uri.path().trim_start_matches('/');
            if relative.split('/').any(|p| p == "..") {
                return Err(axum::http::StatusCode::BAD_REQUEST);
            }
            std::fs::read(dir.join(relative)).map_err(|_| axum::http::StatusCode::NOT_FOUND)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// Builds and packs the example out of tree; the package file.
fn build_example(work: &Path) -> PathBuf {
    let example = common::repo_root().join("examples/ntfy-notifier");
    let data = work.join("cli");
    let example_arg = example.display().to_string();
    let out = common::dg(&data, &["plugin", "build", &example_arg]);
    assert!(
        out.status.success(),
        "plugin build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let package = work.join("ntfy.dgp");
    let package_arg = package.display().to_string();
    let out = common::dg(
        &data,
        &["plugin", "pack", &example_arg, "--out", &package_arg],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    package
}

/// A copy of `package` whose built-in manifest is edited by `edit`.
fn variant(package: &Path, out: &Path, edit: impl Fn(&str) -> String) {
    let original = Package::open(&std::fs::read(package).expect("package")).expect("opens");
    let manifest = edit(&original.manifest_text);
    let wasm = embedded::append_section(
        &embedded::strip_section(&original.wasm, embedded::MANIFEST_SECTION),
        embedded::MANIFEST_SECTION,
        manifest.as_bytes(),
    );
    let bytes = Package::from_component(wasm)
        .expect("variant")
        .to_bytes()
        .expect("bytes");
    std::fs::write(out, bytes).expect("write variant");
}

fn publish(data: &Path, package: &Path, index: &Path, key: &Path) {
    let (package, index, key) = (
        package.display().to_string(),
        index.display().to_string(),
        key.display().to_string(),
    );
    let args = [
        "registry", "publish", &package, "--index", &index, "--key", &key,
    ];
    let out = common::dg(data, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn keygen(data: &Path, key: &Path) {
    let out = common::dg(
        data,
        &["registry", "keygen", "--out", &key.display().to_string()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn refused(server: &TestServer, body: Value, field: &str, says: &[&str]) {
    let (status, answer) = server.post("/api/plugins/install", &body).await;
    assert_eq!(status.as_u16(), 422, "{body}: {answer}");
    assert_eq!(answer["error"]["field"], field, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    for part in says {
        assert!(message.contains(part), "`{part}` not in: {message}");
    }
}

fn plugin<'a>(list: &'a Value, id: &str) -> Option<&'a Value> {
    list["data"].as_array()?.iter().find(|p| p["id"] == id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_tree_plugin_is_published_installed_without_a_restart_and_used() {
    let work = tempfile::tempdir().expect("tempdir");
    let cli = work.path().join("cli");
    let package = build_example(work.path());

    // The publisher's registry, and a key the server does not trust.
    let key = work.path().join("publisher.key");
    let stranger = work.path().join("stranger.key");
    keygen(&cli, &key);
    keygen(&cli, &stranger);
    let good = work.path().join("registry");
    publish(&cli, &package, &good, &key);
    let hook = work.path().join("hook.dgp");
    variant(&package, &hook, |m| {
        m.replace("id = \"ntfy\"", "id = \"ntfy-hook\"")
            .replace("provides = [\"ntfy\"]", "provides = [\"webhook\"]")
    });
    publish(&cli, &hook, &good, &key);
    let registry_url = serve_dir(good.clone()).await;

    // Mirrors that must be refused: one flipped byte, a stranger's
    // signature, an API this server does not speak.
    let flipped = work.path().join("flipped");
    publish(&cli, &package, &flipped, &key);
    let stored = flipped.join("packages/ntfy-0.1.0.dgp");
    let mut bytes = std::fs::read(&stored).expect("package");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&stored, bytes).expect("flip");
    let strange = work.path().join("strange");
    publish(&cli, &package, &strange, &stranger);
    let future = work.path().join("future");
    publish(&cli, &package, &future, &key);
    let index_path = future.join(registry::INDEX_FILE);
    let index = std::fs::read_to_string(&index_path)
        .expect("index")
        .replace("\"api\": \"^0.1\"", "\"api\": \"^0.9\"");
    std::fs::write(&index_path, index).expect("index");
    let flipped_url = serve_dir(flipped).await;
    let strange_url = serve_dir(strange).await;
    let future_url = serve_dir(future).await;

    let trusted = format!("{}.pub", key.display());
    let server = TestServer::start_with(
        Backend::Sqlite,
        &["--trusted-key", &trusted, "--registry", &registry_url],
    )
    .await;
    let before = server.get_ok("/api/plugins").await;
    assert!(plugin(&before, "ntfy").is_none());

    refused(
        &server,
        json!({"name": "ntfy", "registry": flipped_url, "grant": ["http"]}),
        "name",
        &["altered"],
    )
    .await;
    refused(
        &server,
        json!({"name": "ntfy", "registry": strange_url, "grant": ["http"]}),
        "name",
        &["does not trust", "--trusted-key"],
    )
    .await;
    refused(
        &server,
        json!({"name": "ntfy", "registry": future_url, "grant": ["http"]}),
        "version",
        &["^0.9", "0.1.0"],
    )
    .await;
    refused(
        &server,
        json!({"name": "ntfy"}),
        "grant",
        &["http", "{config.server}", "bearer:bearer_token"],
    )
    .await;
    refused(
        &server,
        json!({"name": "ntfy-hook", "grant": ["http"]}),
        "replace",
        &["webhook", "built-in plugin `webhook`"],
    )
    .await;
    refused(
        &server,
        json!({"name": "nope"}),
        "name",
        &["no plugin `nope`"],
    )
    .await;
    // Nothing of the refused installs was kept.
    let plugin_dir = server.data_dir().join("plugins");
    let left: Vec<_> = std::fs::read_dir(&plugin_dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");

    // Installed with its capability granted, active at once.
    let installed = server
        .post_ok(
            "/api/plugins/install",
            &json!({"name": "ntfy", "version": "^0.1", "grant": ["http"]}),
            201,
        )
        .await;
    assert_eq!(installed["version"], "0.1.0");
    assert_eq!(installed["serves"], json!(["ntfy"]));
    assert_eq!(installed["granted"][0]["kind"], "http");
    let (status, again) = server
        .post(
            "/api/plugins/install",
            &json!({"name": "ntfy", "grant": ["http"]}),
        )
        .await;
    assert_eq!(status.as_u16(), 409, "{again}");
    let listed = server.get_ok("/api/plugins").await;
    let ntfy = plugin(&listed, "ntfy").expect("listed");
    assert_eq!(ntfy["builtin"], false);
    assert_eq!(ntfy["secret_fields"], json!(["bearer_token"]));
    assert_eq!(ntfy["sha256"], installed["sha256"]);

    // Used: a channel of the new type, its token sealed and never shown,
    // put on the wire by the host.
    let receiver = Receiver::start().await;
    let token = "tk_live_51f0e7";
    let channel = server
        .post_ok(
            "/api/notification-channels",
            &json!({"name": "ops phone", "type": "ntfy",
                    "config": {"server": receiver.url, "topic": "backups", "bearer_token": token}}),
            201,
        )
        .await;
    assert_eq!(channel["config"]["bearer_token"], "********");
    let id = channel["id"].as_str().expect("id");
    let sent = server
        .post_ok(
            &format!("/api/notification-channels/{id}/test"),
            &json!({}),
            200,
        )
        .await;
    assert_eq!(sent["delivered"], true, "{sent}");
    let got = receiver.take();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/backups");
    assert_eq!(
        got[0].header("authorization").as_deref(),
        Some(&*format!("Bearer {token}"))
    );
    assert!(String::from_utf8_lossy(&got[0].body).contains("Test message"));
    assert!(
        !server.log_tail().contains(token),
        "the token reached the log"
    );

    // An override is an explicit choice: then the plugin serves `webhook`
    // and the built-in serves nothing; removing it gives `webhook` back.
    let hooked = server
        .post_ok(
            "/api/plugins/install",
            &json!({"name": "ntfy-hook", "grant": ["http"], "replace": ["webhook"]}),
            201,
        )
        .await;
    assert_eq!(hooked["serves"], json!(["webhook"]));
    let listed = server.get_ok("/api/plugins").await;
    assert_eq!(
        plugin(&listed, "webhook").expect("built-in")["serves"],
        json!([])
    );
    let (status, _) = server.delete("/api/plugins/ntfy-hook").await;
    assert_eq!(status.as_u16(), 204);
    let listed = server.get_ok("/api/plugins").await;
    assert_eq!(
        plugin(&listed, "webhook").expect("built-in")["serves"],
        json!(["webhook"])
    );
    let (status, answer) = server.delete("/api/plugins/webhook").await;
    assert_eq!(status.as_u16(), 409, "{answer}");

    // Installed plugins load again at the next start, grant and all.
    let mut server = server;
    server.restart();
    let listed = server.get_ok("/api/plugins").await;
    assert!(plugin(&listed, "ntfy").is_some(), "{listed}");
    assert!(plugin(&listed, "ntfy-hook").is_none());
    let sent = server
        .post_ok(
            &format!("/api/notification-channels/{id}/test"),
            &json!({}),
            200,
        )
        .await;
    assert_eq!(sent["delivered"], true, "{sent}");

    // An update: the newest compatible version, grants kept, no restart.
    let newer = work.path().join("ntfy-0.1.1.dgp");
    variant(&package, &newer, |m| {
        m.replace("version = \"0.1.0\"", "version = \"0.1.1\"")
    });
    publish(&cli, &newer, &good, &key);
    let updated = server
        .post_ok("/api/plugins/ntfy/update", &json!({}), 200)
        .await;
    assert_eq!(updated["version"], "0.1.1");
    assert_eq!(updated["previous_version"], "0.1.0");
    assert_eq!(updated["granted"][0]["kind"], "http");
    let (status, again) = server.post("/api/plugins/ntfy/update", &json!({})).await;
    assert_eq!(status.as_u16(), 409, "{again}");
    let sent = server
        .post_ok(
            &format!("/api/notification-channels/{id}/test"),
            &json!({}),
            200,
        )
        .await;
    assert_eq!(sent["delivered"], true, "{sent}");

    // Removed: gone from the list and the disk; its channel says why.
    let (status, _) = server.delete("/api/plugins/ntfy").await;
    assert_eq!(status.as_u16(), 204);
    assert!(!plugin_dir.join("ntfy.wasm").exists());
    let (status, answer) = server
        .post(&format!("/api/notification-channels/{id}/test"), &json!({}))
        .await;
    assert!(answer.to_string().contains("ntfy"), "{status}: {answer}");
}

/// The storage conformance kit passes for the built-in local storage.
#[test]
fn the_local_storage_passes_the_conformance_kit() {
    let work = tempfile::tempdir().expect("tempdir");
    let root = work.path().join("objects");
    std::fs::create_dir_all(&root).expect("root");
    let config = json!({"path": root}).to_string();
    let out = common::dg(
        work.path(),
        &["plugin", "test", "local", "--config", &config],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ok    a put whose source fails leaves no object"),
        "{stdout}"
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");
    assert_eq!(
        std::fs::read_dir(&root).expect("root").count(),
        0,
        "the kit left files"
    );
}

/// Runs `plugin test NAME` (a built-in storage) with `config`; the report.
fn conformance(name: &str, config: &Value) -> String {
    let work = tempfile::tempdir().expect("tempdir");
    let config = config.to_string();
    let out = common::dg(work.path(), &["plugin", "test", name, "--config", &config]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && !stdout.contains("FAIL"),
        "{name}:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ok    delete of a folder removes what is beneath it"),
        "{stdout}"
    );
    stdout
}

/// The storage conformance kit passes for S3 (moto, signatures checked).
#[test]
fn the_s3_storage_passes_the_conformance_kit() {
    let s3 = common::s3::S3Server::start(5 << 20);
    conformance("s3", &s3.config(json!({})));
    assert!(
        s3.objects().is_empty(),
        "the kit left objects: {:?}",
        s3.objects()
    );
    assert!(s3.unfinished_uploads().is_empty());
}

/// The storage conformance kit passes for SFTP (a real sshd).
#[test]
fn the_sftp_storage_passes_the_conformance_kit() {
    let ssh = common::sftp::SshServer::start();
    std::fs::create_dir_all(ssh.path("store")).expect("store");
    conformance("sftp", &ssh.config(json!({"path": ssh.path("store")})));
    assert_eq!(
        std::fs::read_dir(ssh.path("store")).expect("store").count(),
        0
    );
}

/// `plugin new` writes projects that build as they are, for every kind;
/// the notifier's whole source is at most 40 lines, and each passes
/// `plugin test` in the real runtime.
#[test]
fn scaffolds_build_as_they_are_and_pass_their_checks() {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    // One target directory for the three (and across runs): the SDK is
    // compiled once.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scaffolds");
    let objects = work.path().join("objects");
    std::fs::create_dir_all(&objects).expect("objects");
    let file = work.path().join("one.txt");
    std::fs::write(&file, "hello").expect("file");
    let sdk = common::repo_root().join("plugin-sdk").display().to_string();
    for (kind, config) in [
        ("notifier", json!({"prefix": "[t] "})),
        ("storage", json!({"path": objects})),
        ("engine", json!({"path": file})),
    ] {
        let name = format!("my-{kind}");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_dataguardian"))
            .current_dir(work.path())
            .args(["--data-dir", &data.display().to_string()])
            .args(["plugin", "new", &name, "--kind", kind, "--sdk-path", &sdk])
            .output()
            .expect("plugin new");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = work.path().join(&name);
        if kind == "notifier" {
            let lines = std::fs::read_to_string(dir.join("src/lib.rs"))
                .expect("src")
                .lines()
                .count();
            assert!(lines <= 40, "the notifier scaffold has {lines} lines");
        }
        let dir_arg = dir.display().to_string();
        let build = std::process::Command::new(env!("CARGO_BIN_EXE_dataguardian"))
            .env("CARGO_TARGET_DIR", &target)
            .env("DG_PLUGIN_CACHE_DIR", common::shared_plugin_cache())
            .args([
                "--data-dir",
                &data.display().to_string(),
                "plugin",
                "build",
                &dir_arg,
            ])
            .output()
            .expect("plugin build");
        assert!(
            build.status.success(),
            "{kind}: {}",
            String::from_utf8_lossy(&build.stderr)
        );
        // `plugin build` writes the component with its manifest into the
        // project, whatever the cargo target directory.
        assert!(dir
            .join(format!("target/dataguardian/{name}.wasm"))
            .exists());
        let config = config.to_string();
        let test = common::dg(&data, &["plugin", "test", &dir_arg, "--config", &config]);
        let report = String::from_utf8_lossy(&test.stdout);
        assert!(
            test.status.success() && !report.contains("FAIL"),
            "{kind}:\n{report}"
        );
    }
}

/// The same from the command line, as the user who runs it: install from
/// the registry, list, inspect, rewrite the grant, list what is
/// available, remove.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_installs_inspects_grants_and_removes() {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    let package = build_example(work.path());
    let key = work.path().join("publisher.key");
    keygen(&data, &key);
    let registry_dir = work.path().join("registry");
    publish(&data, &package, &registry_dir, &key);
    let url = serve_dir(registry_dir).await;
    let trusted = format!("{}.pub", key.display());
    let data_arg = data.display().to_string();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_dataguardian"))
            .args([
                "--data-dir",
                &data_arg,
                "--registry",
                &url,
                "--trusted-key",
                &trusted,
            ])
            .args(args)
            .env("DG_LOG", "warn")
            .env("DG_PLUGIN_CACHE_DIR", common::shared_plugin_cache())
            .output()
            .expect("dataguardian");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, _, err) = tokio::task::block_in_place(|| run(&["plugin", "install", "ntfy@^0.1"]));
    assert!(
        !ok && err.contains("http") && err.contains("--grant"),
        "{err}"
    );
    let (ok, out, err) =
        tokio::task::block_in_place(|| run(&["plugin", "install", "ntfy@^0.1", "--grant", "http"]));
    assert!(ok, "{err}");
    assert!(
        out.contains("installed ntfy 0.1.0") && out.contains("granted http"),
        "{out}"
    );
    let (ok, _, err) = tokio::task::block_in_place(|| run(&["plugin", "update", "ntfy"]));
    assert!(!ok && err.contains("already at 0.1.0"), "{err}");
    let (ok, out, _) = tokio::task::block_in_place(|| run(&["plugin", "list"]));
    assert!(
        ok && out
            .lines()
            .any(|l| l.starts_with("ntfy") && l.contains("installed")),
        "{out}"
    );
    let (ok, out, _) = tokio::task::block_in_place(|| run(&["plugin", "list", "--available"]));
    assert!(
        ok && out
            .lines()
            .any(|l| l.starts_with("ntfy") && l.ends_with("0.1.0")),
        "{out}"
    );
    let (ok, out, _) = tokio::task::block_in_place(|| run(&["plugin", "inspect", "ntfy"]));
    assert!(ok, "{out}");
    let inspected: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(inspected["secrets"], json!(["bearer_token"]));
    assert_eq!(
        inspected["capabilities"]["granted"]["http"][0]["url"],
        "{config.server}"
    );
    assert_eq!(inspected["warnings"], json!([]));
    // A hand-edited grant for another component grants nothing, loudly;
    // `plugin grant` writes it again for this one.
    let grant = data.join("plugins/ntfy.grant.toml");
    let text = std::fs::read_to_string(&grant).expect("grant");
    assert!(
        text.contains(inspected["sha256"].as_str().expect("sha")),
        "{text}"
    );
    std::fs::write(
        &grant,
        text.replace("component_sha256 = \"", "component_sha256 = \"ff"),
    )
    .expect("edit");
    let (_, out, _) = tokio::task::block_in_place(|| run(&["plugin", "inspect", "ntfy"]));
    let inspected: Value = serde_json::from_str(&out).expect("JSON");
    assert!(
        inspected["warnings"][0]
            .as_str()
            .unwrap_or_default()
            .contains("no capability"),
        "{out}"
    );
    assert_eq!(inspected["capabilities"]["granted"]["http"], json!([]));
    let (ok, out, err) = tokio::task::block_in_place(|| run(&["plugin", "grant", "ntfy"]));
    assert!(ok && out.contains("http: {config.server}"), "{out}{err}");
    let (_, out, _) = tokio::task::block_in_place(|| run(&["plugin", "inspect", "ntfy"]));
    let inspected: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(inspected["warnings"], json!([]));
    let (ok, out, _) = tokio::task::block_in_place(|| run(&["plugin", "remove", "ntfy"]));
    assert!(ok && out.contains("removed ntfy"), "{out}");
    assert!(!data.join("plugins/ntfy.wasm").exists());
    let (ok, _, err) = tokio::task::block_in_place(|| run(&["plugin", "remove", "postgres"]));
    assert!(!ok && err.contains("built-in"), "{err}");
}
