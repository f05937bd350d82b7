//! Rendering notification templates with minijinja. Undefined variables
//! are errors (strict mode), so a template that names a variable the
//! context does not have is refused when saved, not at 3 a.m.

use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

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
Duration: {{ execution.duration }}{% endif %}{% if execution.error %}
Error: {{ execution.error }}{% endif %}

{{ severity | upper }} · {{ created_at }} · node {{ node }}{% if link %}
{{ link }}{% endif %}
";

/// Instructions a render may run: far more than any real message needs.
const FUEL: u64 = 200_000;

/// A rendered message.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
}

/// Renders `subject` (default when empty) and `body` with `context`.
/// Errors name the part and say what is wrong.
pub fn render(subject: Option<&str>, body: &str, context: &Value) -> Result<Rendered, String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Templates come from API users: a loop of loops must stop, not spin.
    env.set_fuel(Some(FUEL));
    let one = |part: &str, source: &str| {
        env.render_str(source, context)
            .map_err(|e| format!("{part}: {}", describe(&e)))
    };
    Ok(Rendered {
        subject: one(
            "subject",
            subject
                .filter(|s| !s.trim().is_empty())
                .unwrap_or(DEFAULT_SUBJECT),
        )?
        .trim()
        .to_string(),
        body: one("body", body)?,
    })
}

/// Checks a template before it is saved: it must parse and render against
/// the sample event, which defines every variable there is.
pub fn check(subject: Option<&str>, body: &str) -> Result<Rendered, String> {
    if body.trim().is_empty() {
        return Err("body: must not be empty".into());
    }
    render(subject, body, &super::context::sample())
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

    #[test]
    fn defaults_render_the_sample() {
        let r = check(None, DEFAULT_BODY).expect("default renders");
        assert_eq!(r.subject, "[DataGuardian] Backup of `shop` failed");
        assert!(r.body.contains("Job: shop nightly"), "{}", r.body);
        assert!(
            r.body.contains("Error: pg_dump: error: connection"),
            "{}",
            r.body
        );
        assert!(r.body.contains("CRITICAL"), "{}", r.body);
    }

    #[test]
    fn unknown_variables_and_bad_syntax_are_refused() {
        let e = check(None, "Hello {{ jobb.name }}").unwrap_err();
        assert!(e.starts_with("body:") && e.contains("undefined"), "{e}");
        let e = check(Some("{{ title"), "x").unwrap_err();
        assert!(e.starts_with("subject:"), "{e}");
        assert!(check(None, "  ").is_err());
        let spin =
            "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}";
        let e = check(None, spin).unwrap_err();
        assert!(e.contains("fuel"), "{e}");
        let ok = check(Some("{{ kind }} on {{ datasource.name }}"), "{{ message }}").unwrap();
        assert_eq!(ok.subject, "backup_failed on shop");
    }
}
