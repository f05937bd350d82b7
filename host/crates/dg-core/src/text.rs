//! Small text rules shared by the API and the layers below it (path
//! checks, error messages), kept here so they read the same everywhere.

/// Characters that reorder text on screen.
pub fn is_bidi(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// At most a short prefix of a value an error message quotes.
pub fn shorten(value: &str) -> String {
    const MAX: usize = 64;
    let mut out: String = value
        .chars()
        .take(MAX)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if value.chars().count() > MAX {
        out.push('…');
    }
    out
}
