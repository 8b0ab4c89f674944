//! HTML escaping for text and attribute values.

/// Escape `&<>"'` and replace control characters (except newline and tab) with U+FFFD,
/// so submission output can go anywhere in the page, SVG included.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Approximate rendered width of `text` in a 12 px sans-serif font: wide (CJK) glyphs
/// count double.
pub fn width(text: &str) -> f64 {
    text.chars().map(char_width).sum()
}

fn char_width(c: char) -> f64 {
    if is_wide(c) { 12.5 } else { 7.0 }
}

fn is_wide(c: char) -> bool {
    matches!(c as u32, 0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x1F300..=0x1FAFF | 0x20000..=0x3FFFD)
}

/// `text` cut to fit `max` pixels, with `…` when cut.
pub fn fit(text: &str, max: f64) -> String {
    if width(text) <= max {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = char_width('…');
    for c in text.chars() {
        used += char_width(c);
        if used > max {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}
