//! Horizontal bar charts as inline SVG for the HTML summary: no script, no external font,
//! the text escaped. The PDF draws its own bars from the same numbers.

use std::fmt::Write;

/// One bar: label, value, fill colour (`#rrggbb`).
pub struct Bar<'a> {
    pub label: &'a str,
    pub value: usize,
    pub colour: &'a str,
}

/// Escapes text for HTML and SVG (element content and quoted attributes).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const ROW: usize = 26;
const LABEL_WIDTH: usize = 300;
const BAR_WIDTH: usize = 320;

pub fn bar_chart(title: &str, bars: &[Bar<'_>]) -> String {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let height = ROW * bars.len().max(1) + 8;
    let width = LABEL_WIDTH + BAR_WIDTH + 60;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}"><title>{}</title>"#,
        escape(title)
    );
    for (i, b) in bars.iter().enumerate() {
        let y = i * ROW + 4;
        let w = if b.value == 0 {
            0
        } else {
            (b.value * BAR_WIDTH).div_ceil(max).max(2)
        };
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end" font-size="13" font-family="sans-serif">{}</text><rect x="{LABEL_WIDTH}" y="{y}" width="{w}" height="{}" fill="{}"/><text x="{}" y="{}" font-size="13" font-family="sans-serif">{}</text>"#,
            LABEL_WIDTH - 8,
            y + 15,
            escape(b.label),
            ROW - 8,
            escape(b.colour),
            LABEL_WIDTH + w + 6,
            y + 15,
            b.value
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_text_is_escaped() {
        let svg = bar_chart(
            "a<b",
            &[
                Bar {
                    label: "x&y",
                    value: 4,
                    colour: "#b00",
                },
                Bar {
                    label: "z",
                    value: 2,
                    colour: "#b00",
                },
                Bar {
                    label: "none",
                    value: 0,
                    colour: "#b00",
                },
            ],
        );
        assert!(svg.contains("<title>a&lt;b</title>"));
        assert!(svg.contains(">x&amp;y<"));
        assert!(
            svg.contains(r#"width="320""#)
                && svg.contains(r#"width="160""#)
                && svg.contains(r#"width="0""#)
        );
        assert!(!svg.contains("<script"));
    }
}
