//! Rendering notification templates with minijinja. Undefined variables
//! are errors (strict mode), so a template that names a variable the
//! context does not have is refused when saved, not at 3 a.m.
//!
//! Templates come from API users, and a 100-character template can ask
//! for gigabytes (`{{ ('x' * 100000000) ~ ('x' * 100000000) }}`, or a
//! string doubled by `{% set a = a ~ a %}`); minijinja's fuel counts
//! instructions, not bytes. Vetting templates for every way a string can
//! grow (operators, filters, loops, captured blocks, macros) would be a
//! guess that a new minijinja version may void, so every render runs in a
//! child process instead — this binary again (`/proc/self/exe`, with
//! [`CHILD_ARG`]) — under limits the kernel enforces:
//! - memory: `RLIMIT_DATA` at what the process had before rendering plus
//!   [`MEMORY_CAP`]; every intermediate string lives inside it, and an
//!   allocation past it fails and ends the child, never the server;
//! - output: each part is written into a [`CappedWriter`] that refuses
//!   past [`OUTPUT_CAP`], so the output never grows beyond it;
//! - time: [`TIME_LIMIT`] of wall clock (the child is killed) and of CPU
//!   (`RLIMIT_CPU`), plus minijinja's fuel;
//! - at most [`CONCURRENT_RENDERS`] children at once.
//!
//! Saving and previewing render the sample event this way, so a template
//! past a cap is refused with the cap and the part named; a delivery whose
//! real event pushes a template past a cap fails with the same message.

use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::Write;
use std::time::Duration;

/// The subject every kind starts with (version 1 of each template).
pub const DEFAULT_SUBJECT: &str = "[DataGuardian] {{ title }}";

/// The body every kind starts with (version 1 of each template).
pub const DEFAULT_BODY: &str = "{{ title }}

{{ message }}
{% if job.name %}
Job: {{ job.name }}{% endif %}{% if datasource.name %}
Datasource: {{ datasource.name }} ({{ datasource.type }}){% endif %}{% if storage.name %}
Storage: {{ storage.name }} ({{ storage.type }}){% endif %}{% if execution.id %}
Execution: {{ execution.id }} ({{ execution.operation }}, {{ execution.status }}){% endif %}{% if execution.size %}
Size: {{ execution.size }}{% if execution.compressed_size %} ({{ execution.compressed_size }} stored){% endif %}{% endif %}{% if execution.duration %}
Duration: {{ execution.duration }}{% endif %}{% if execution.error and execution.error != message %}
Error: {{ execution.error }}{% endif %}

{{ severity | upper }} · {{ created_at }} · node {{ node }}{% if link %}
{{ link }}{% endif %}
";

/// The most bytes a rendered subject or body may have: far more than any
/// message a person reads (SMTP lines, WhatsApp's 4096 characters).
pub const OUTPUT_CAP: usize = 64 * 1024;

/// The memory one render may allocate, on top of what the renderer
/// process holds before it starts. Every intermediate value lives inside
/// it, so none can be larger.
pub const MEMORY_CAP: u64 = 64 * 1024 * 1024;

/// Wall-clock and CPU time of one render (both parts).
pub const TIME_LIMIT: Duration = Duration::from_secs(5);

/// Renderer processes running at once on this node: with the memory cap,
/// what all renders together may take.
pub const CONCURRENT_RENDERS: usize = 2;

/// The first argument that makes the binary a renderer (see `main.rs`).
pub const CHILD_ARG: &str = "__render-template";

/// Instructions a render may run: far more than any real message needs.
const FUEL: u64 = 200_000;

/// Most bytes the renderer reads as its job, and the server reads back.
const MAX_JOB_BYTES: u64 = 8 * 1024 * 1024;
const MAX_ANSWER_BYTES: u64 = 2 * 1024 * 1024;
/// Most bytes of the renderer's stderr kept (an allocation failure's
/// message).
const MAX_STDERR_BYTES: u64 = 4096;

/// A rendered message.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
}

/// The two parts of a template; errors name the one at fault, which is
/// also the API field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    Subject,
    Body,
}

impl Part {
    pub fn name(self) -> &'static str {
        match self {
            Part::Subject => "subject",
            Part::Body => "body",
        }
    }
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a template did not render. Messages start with the part.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    /// A syntax error, an undefined variable, out of fuel...
    #[error("{part}: {message}")]
    Template { part: Part, message: String },
    #[error(
        "{part}: renders to more than {} bytes (64 KiB), the cap on a rendered {part}",
        OUTPUT_CAP
    )]
    Output { part: Part },
    #[error(
        "{part}: needs more than {} MiB of memory to render, the cap on a template's memory \
         (a string repeated or doubled again and again exceeds it)",
        MEMORY_CAP >> 20
    )]
    Memory { part: Part },
    #[error(
        "{part}: did not render within {} s, the time limit of a template",
        TIME_LIMIT.as_secs()
    )]
    Time { part: Part },
    /// The renderer process could not run (not the template's fault).
    #[error("the template renderer failed: {0}")]
    Renderer(String),
}

impl RenderError {
    /// The part at fault; none when the renderer itself failed.
    pub fn part(&self) -> Option<Part> {
        match self {
            RenderError::Template { part, .. }
            | RenderError::Output { part }
            | RenderError::Memory { part }
            | RenderError::Time { part } => Some(*part),
            RenderError::Renderer(_) => None,
        }
    }

    /// The message without the part in front (for an API error whose
    /// `field` names it).
    pub fn reason(&self) -> String {
        let text = self.to_string();
        match self.part() {
            Some(part) => text
                .strip_prefix(&format!("{part}: "))
                .unwrap_or(&text)
                .to_string(),
            None => text,
        }
    }
}

/// What the renderer is asked to do.
#[derive(Debug, Serialize, Deserialize)]
struct Job {
    subject: Option<String>,
    body: String,
    context: Value,
}

impl Job {
    /// The parts in the order they are rendered; an empty subject is the
    /// default one.
    fn parts(&self) -> [(Part, &str); 2] {
        let subject = self
            .subject
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or(DEFAULT_SUBJECT);
        [(Part::Subject, subject), (Part::Body, &self.body)]
    }
}

/// One line of the renderer's answer: a part rendered, or why not.
#[derive(Debug, Serialize, Deserialize)]
struct Answer {
    part: Part,
    text: Option<String>,
    error: Option<String>,
    #[serde(default)]
    over_cap: bool,
}

/// Renders `subject` (default when empty) and `body` with `context` in a
/// renderer process under the caps above. Errors name the part.
pub async fn render(
    subject: Option<&str>,
    body: &str,
    context: &Value,
) -> Result<Rendered, RenderError> {
    use std::os::unix::process::ExitStatusExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    static RENDERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(CONCURRENT_RENDERS);
    let job = serde_json::to_vec(&Job {
        subject: subject.map(str::to_string),
        body: body.to_string(),
        context: context.clone(),
    })
    .map_err(|e| RenderError::Renderer(format!("encoding the job: {e}")))?;
    let _permit = RENDERS
        .acquire()
        .await
        .map_err(|_| RenderError::Renderer("closed".into()))?;
    // `/proc/self/exe` is this very binary even after an upgrade replaced
    // the file on disk.
    let mut child = tokio::process::Command::new("/proc/self/exe")
        .arg(CHILD_ARG)
        .env_clear()
        .current_dir("/")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| RenderError::Renderer(format!("starting the renderer: {e}")))?;
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(RenderError::Renderer("the renderer has no pipes".into()));
    };
    let mut out = Vec::new();
    let mut err = Vec::new();
    let finished = tokio::time::timeout(TIME_LIMIT, async {
        let write = async {
            // A child that died early closed its end: its status says why.
            let _ = stdin.write_all(&job).await;
            drop(stdin);
        };
        let mut stdout = stdout.take(MAX_ANSWER_BYTES);
        let mut stderr = stderr.take(MAX_STDERR_BYTES);
        let (_, read_out, _) = tokio::join!(
            write,
            stdout.read_to_end(&mut out),
            stderr.read_to_end(&mut err),
        );
        (read_out, child.wait().await)
    })
    .await;
    let mut subject_text = None;
    let mut body_text = None;
    // Whole lines only: a child killed mid-line left a partial one last.
    let mut lines: Vec<&[u8]> = out.split(|b| *b == b'\n').collect();
    lines.pop();
    for line in lines {
        let answer: Answer = serde_json::from_slice(line)
            .map_err(|e| RenderError::Renderer(format!("reading its answer: {e}")))?;
        let part = answer.part;
        match answer {
            Answer {
                text: Some(text),
                error: None,
                ..
            } => match part {
                Part::Subject => subject_text = Some(text),
                Part::Body => body_text = Some(text),
            },
            Answer { over_cap: true, .. } => return Err(RenderError::Output { part }),
            Answer { error, .. } => {
                return Err(RenderError::Template {
                    part,
                    message: error.unwrap_or_else(|| "did not render".into()),
                })
            }
        }
    }
    // The part the renderer was working on when it stopped.
    let pending = if subject_text.is_none() {
        Part::Subject
    } else {
        Part::Body
    };
    let status = match finished {
        Err(_) => return Err(RenderError::Time { part: pending }),
        Ok((read, status)) => {
            read.map_err(|e| RenderError::Renderer(format!("reading its answer: {e}")))?;
            status.map_err(|e| RenderError::Renderer(format!("waiting for it: {e}")))?
        }
    };
    if let (Some(subject), Some(body), true) = (subject_text, body_text, status.success()) {
        return Ok(Rendered {
            subject: subject.trim().to_string(),
            body,
        });
    }
    let stderr = String::from_utf8_lossy(&err);
    if stderr.contains("memory allocation") {
        return Err(RenderError::Memory { part: pending });
    }
    const SIGKILL: i32 = 9;
    const SIGXCPU: i32 = 24;
    if matches!(status.signal(), Some(SIGKILL | SIGXCPU)) {
        return Err(RenderError::Time { part: pending });
    }
    Err(RenderError::Renderer(format!(
        "{status}: {}",
        stderr.trim().chars().take(300).collect::<String>()
    )))
}

/// Checks a template before it is saved: it must parse and render against
/// the sample event, which defines every variable there is, within the
/// caps.
pub async fn check(subject: Option<&str>, body: &str) -> Result<Rendered, RenderError> {
    if body.trim().is_empty() {
        return Err(RenderError::Template {
            part: Part::Body,
            message: "must not be empty".into(),
        });
    }
    render(subject, body, &super::context::sample()).await
}

/// The renderer process (`dataguardian __render-template`): limits
/// itself, reads a [`Job`] on stdin, writes one [`Answer`] line per part
/// on stdout, stopping at the first part that fails.
pub fn child_main() -> std::process::ExitCode {
    use std::io::Read;
    if let Err(e) = limit_self() {
        eprintln!("renderer: limiting itself: {e}");
        return std::process::ExitCode::FAILURE;
    }
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().take(MAX_JOB_BYTES).read_to_end(&mut input) {
        eprintln!("renderer: reading the job: {e}");
        return std::process::ExitCode::FAILURE;
    }
    let job: Job = match serde_json::from_slice(&input) {
        Ok(job) => job,
        Err(e) => {
            eprintln!("renderer: the job is not valid: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let env = environment();
    let mut stdout = std::io::stdout().lock();
    for (part, source) in job.parts() {
        let result = render_part(&env, part, source, &job.context);
        let failed = result.is_err();
        let answer = match result {
            Ok(text) => Answer {
                part,
                text: Some(text),
                error: None,
                over_cap: false,
            },
            Err(e) => Answer {
                part,
                text: None,
                over_cap: matches!(e, RenderError::Output { .. }),
                error: Some(e.reason()),
            },
        };
        let written = serde_json::to_writer(&mut stdout, &answer)
            .map_err(std::io::Error::from)
            .and_then(|()| stdout.write_all(b"\n"))
            .and_then(|()| stdout.flush());
        if let Err(e) = written {
            eprintln!("renderer: writing the answer: {e}");
            return std::process::ExitCode::FAILURE;
        }
        if failed {
            break;
        }
    }
    std::process::ExitCode::SUCCESS
}

/// Caps this process's data (heap and anonymous mappings) at what it
/// holds now plus [`MEMORY_CAP`], and its CPU time at [`TIME_LIMIT`].
fn limit_self() -> std::io::Result<()> {
    use rustix::process::{setrlimit, Resource, Rlimit};
    let status = std::fs::read_to_string("/proc/self/status")?;
    let data_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmData:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| std::io::Error::other("no VmData in /proc/self/status"))?;
    let data = data_kib * 1024 + MEMORY_CAP;
    setrlimit(
        Resource::Data,
        Rlimit {
            current: Some(data),
            maximum: Some(data),
        },
    )?;
    let cpu = TIME_LIMIT.as_secs();
    setrlimit(
        Resource::Cpu,
        Rlimit {
            current: Some(cpu),
            maximum: Some(cpu + 1),
        },
    )?;
    Ok(())
}

/// The environment templates render in: strict undefined, fuel.
fn environment<'source>() -> Environment<'source> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // A loop of loops must stop, not spin.
    env.set_fuel(Some(FUEL));
    env
}

/// Renders one part in this process, its output capped. Only the
/// renderer process calls it (and unit tests): memory is not bounded
/// here.
fn render_part<'source>(
    env: &Environment<'source>,
    part: Part,
    source: &'source str,
    context: &Value,
) -> Result<String, RenderError> {
    let template = env
        .template_from_str(source)
        .map_err(|e| RenderError::Template {
            part,
            message: describe(&e),
        })?;
    let mut out = CappedWriter::new(OUTPUT_CAP);
    match template.render_captured_to(context, &mut out) {
        Ok(_) => Ok(String::from_utf8_lossy(&out.bytes).into_owned()),
        Err(_) if out.overflowed => Err(RenderError::Output { part }),
        Err(e) => Err(RenderError::Template {
            part,
            message: describe(&e),
        }),
    }
}

/// A writer that refuses a write past `cap` bytes (and keeps nothing of
/// it), so a render's output never grows beyond the cap.
pub struct CappedWriter {
    bytes: Vec<u8>,
    cap: usize,
    overflowed: bool,
}

impl CappedWriter {
    pub fn new(cap: usize) -> Self {
        Self {
            bytes: Vec::new(),
            cap,
            overflowed: false,
        }
    }
}

impl Write for CappedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > self.cap {
            self.overflowed = true;
            return Err(std::io::Error::other("the output cap is reached"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// minijinja's message with the line it points at.
fn describe(e: &minijinja::Error) -> String {
    let mut text = e.to_string();
    if let Some(line) = e.line() {
        if !text.contains("line") {
            text.push_str(&format!(" (line {line})"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both parts in this process (the renderer's own code path).
    fn here(subject: Option<&str>, body: &str) -> Result<Rendered, RenderError> {
        let job = Job {
            subject: subject.map(str::to_string),
            body: body.to_string(),
            context: crate::notify::context::sample(),
        };
        let env = environment();
        let [(sp, s), (bp, b)] = job.parts();
        Ok(Rendered {
            subject: render_part(&env, sp, s, &job.context)?.trim().to_string(),
            body: render_part(&env, bp, b, &job.context)?,
        })
    }

    #[test]
    fn defaults_render_the_sample() {
        let r = here(None, DEFAULT_BODY).expect("default renders");
        assert_eq!(r.subject, "[DataGuardian] Backup of `shop` failed");
        assert!(r.body.contains("Job: shop nightly"), "{}", r.body);
        // The error is said once: the sample's message is the error.
        assert_eq!(
            r.body.matches("pg_dump: error: connection").count(),
            1,
            "{}",
            r.body
        );
        assert!(!r.body.contains("Error: "), "{}", r.body);
        assert!(r.body.contains("CRITICAL"), "{}", r.body);
    }

    #[test]
    fn unknown_variables_and_bad_syntax_are_refused() {
        let e = here(None, "Hello {{ jobb.name }}").unwrap_err();
        assert_eq!(e.part(), Some(Part::Body));
        assert!(
            e.to_string().starts_with("body:") && e.reason().contains("undefined"),
            "{e}"
        );
        let e = here(Some("{{ title"), "x").unwrap_err();
        assert_eq!(e.part(), Some(Part::Subject), "{e}");
        let spin =
            "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}";
        let e = here(None, spin).unwrap_err();
        assert!(e.reason().contains("fuel"), "{e}");
        let ok = here(Some("{{ kind }} on {{ datasource.name }}"), "{{ message }}").unwrap();
        assert_eq!(ok.subject, "backup_failed on shop");
    }

    #[test]
    fn output_past_the_cap_is_refused_not_cut() {
        let e = here(None, "{% for i in range(2000) %}{{ message }}{% endfor %}").unwrap_err();
        assert_eq!(e, RenderError::Output { part: Part::Body });
        assert!(e.reason().contains("65536 bytes"), "{e}");
        // One write larger than the cap is refused whole.
        let e = here(Some("{{ 'x' * 70000 }}"), "x").unwrap_err();
        assert_eq!(
            e,
            RenderError::Output {
                part: Part::Subject
            }
        );
        let fits = here(None, "{% for i in range(600) %}{{ message }}{% endfor %}").unwrap();
        let message = crate::notify::context::sample()["message"]
            .as_str()
            .map_or(0, str::len);
        assert_eq!(fits.body.len(), 600 * message);
        assert!(fits.body.len() < OUTPUT_CAP);
    }

    #[test]
    fn the_writer_refuses_past_its_cap() {
        let mut w = CappedWriter::new(4);
        assert!(w.write_all(b"abc").is_ok());
        assert!(w.write_all(b"de").is_err());
        assert!(w.overflowed);
        assert_eq!(w.bytes, b"abc");
    }

    #[test]
    fn realistic_templates_render() {
        let r = here(
            Some("{{ severity | upper }}: {{ job.name | default('no job') }}"),
            "{% if execution.error %}Failed: {{ execution.error | trim }}{% else %}ok{% endif %}\n\
             {% for key, value in fields | dictsort %}{{ key }}={{ value }}\n{% endfor %}\
             {{ datasource.name | title }} {{ storage.type | lower }} {{ execution.size_bytes // 1000 }}",
        )
        .expect("renders");
        assert_eq!(r.subject, "CRITICAL: shop nightly");
        assert!(r.body.starts_with("Failed: pg_dump"), "{}", r.body);
        assert!(r.body.contains("Shop"), "{}", r.body);
    }
}
