//! The executive summary as PDF, written by the tool itself (pdf-writer): the standard
//! Helvetica fonts (nothing embedded, nothing downloaded), text and vector bar charts,
//! WinAnsi-encoded so text extraction (`pdftotext`) reads it back.
//!
//! Nothing is cut: every text is wrapped by its width measured with the fonts' own metrics
//! (`helvetica_metrics`), at spaces, or inside a word too long for a line (a DN, a host's
//! error) after a `,` `-` `/` `\` `;` or, failing that, between characters; a page that is
//! full goes on on a new one.

use super::helvetica_metrics::{width, Face};
use super::html::severity_colour;
use super::summary::{riskiest, summarise, worst_first};
use super::{date_text, Report};
use crate::builtin_accounts::left_out_line;
use crate::host_scan::HostResult;
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 50.0;
/// The width text may take between the margins.
const TEXT_WIDTH: f32 = WIDTH - 2.0 * MARGIN;
const REGULAR: Name = Name(b"F1");
const BOLD: Name = Name(b"F2");
/// Where a bar starts; its label wraps in the space before it.
const BAR_X: f32 = MARGIN + 210.0;
const BAR_LABEL_WIDTH: f32 = BAR_X - MARGIN - 8.0;
const BAR_MAX_WIDTH: f32 = 230.0;
/// How far the continuation lines of a list item are indented.
const HANGING: f32 = 12.0;

/// One character as its WinAnsi byte: Latin-1 maps one to one; anything else becomes `?`.
fn win_ansi_byte(c: char) -> u8 {
    match c as u32 {
        0x20..=0x7e | 0xa0..=0xff => c as u32 as u8,
        _ => b'?',
    }
}

/// Text as WinAnsi bytes.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars().map(win_ansi_byte).collect()
}

fn text_width(face: Face, size: f32, text: &str) -> f32 {
    width(face, size, &win_ansi(text))
}

/// Where a word too long for a line may be broken: after one of these.
fn break_after(c: char) -> bool {
    matches!(c, ',' | '-' | '/' | '\\' | ';')
}

/// The longest head of `word` that fits in `max` (ending after a break character when one
/// is in it), and the rest; the head holds one character at least, so wrapping ends.
fn split_word(face: Face, size: f32, max: f32, word: &str) -> (String, String) {
    let mut fits = 0; // byte index: word[..fits] fits
    let mut last_break = None;
    let mut used = 0.0;
    for (i, c) in word.char_indices() {
        used += width(face, size, &[win_ansi_byte(c)]);
        if used > max && i > 0 {
            break;
        }
        fits = i + c.len_utf8();
        if break_after(c) {
            last_break = Some(fits);
        }
    }
    let at = match last_break {
        Some(b) if fits < word.len() => b,
        _ => fits,
    };
    (word[..at].to_owned(), word[at..].to_owned())
}

/// `text` in lines no wider than `max` points at `size`. Whitespace runs are where lines
/// break (one space between words on a line); every other character is kept, in order.
fn wrap(face: Face, size: f32, max: f32, text: &str) -> Vec<String> {
    wrap_hanging(face, size, max, 0.0, text)
}

/// As [`wrap`], with the lines after the first `indent` points narrower (they are shown
/// indented, so each item of a list stands out from its continuation lines).
fn wrap_hanging(face: Face, size: f32, max: f32, indent: f32, text: &str) -> Vec<String> {
    let space = text_width(face, size, " ");
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut used = 0.0;
    let max_of = |lines: &Vec<String>| if lines.is_empty() { max } else { max - indent };
    for word in text.split_whitespace() {
        let w = text_width(face, size, word);
        if !line.is_empty() && used + space + w <= max_of(&lines) {
            line.push(' ');
            line.push_str(word);
            used += space + w;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        let mut rest = word.to_owned();
        while text_width(face, size, &rest) > max_of(&lines) {
            let (head, tail) = split_word(face, size, max_of(&lines), &rest);
            lines.push(head);
            rest = tail;
        }
        used = text_width(face, size, &rest);
        line = rest;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

fn rgb(hex: &str) -> (f32, f32, f32) {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap_or(0);
    let c = |shift: u32| ((v >> shift) & 0xff) as f32 / 255.0;
    (c(16), c(8), c(0))
}

/// Lays out lines top to bottom, starting a new page when one is full.
struct Pages {
    done: Vec<Content>,
    current: Content,
    y: f32,
}

impl Pages {
    fn new() -> Self {
        Self {
            done: Vec::new(),
            current: Content::new(),
            y: HEIGHT - MARGIN,
        }
    }

    fn room(&mut self, height: f32) {
        if self.y - height < MARGIN {
            let full = std::mem::replace(&mut self.current, Content::new());
            self.done.push(full);
            self.y = HEIGHT - MARGIN;
        }
    }

    fn text_at(&mut self, x: f32, y: f32, face: Face, size: f32, text: &str) {
        let font = match face {
            Face::Regular => REGULAR,
            Face::Bold => BOLD,
        };
        self.current
            .begin_text()
            .set_font(font, size)
            .next_line(x, y)
            .show(Str(&win_ansi(text)))
            .end_text();
    }

    /// `text`, wrapped to the text width; each line gets its own room, so a long text
    /// goes on on the next page.
    fn line(&mut self, face: Face, size: f32, text: &str) {
        self.item(face, size, 0.0, text);
    }

    /// As `line`, the lines after the first indented by `indent`: one item of a list.
    fn item(&mut self, face: Face, size: f32, indent: f32, text: &str) {
        let height = size * 1.45;
        for (i, part) in wrap_hanging(face, size, TEXT_WIDTH, indent, text)
            .iter()
            .enumerate()
        {
            self.room(height);
            self.y -= height;
            let x = if i == 0 { MARGIN } else { MARGIN + indent };
            self.text_at(x, self.y, face, size, part);
        }
    }

    /// A section heading, kept on one page with the first lines after it.
    fn heading(&mut self, text: &str) {
        self.gap(10.0);
        self.room(13.0 * 1.45 + 3.0 * 16.0);
        self.line(Face::Bold, 13.0, text);
    }

    fn gap(&mut self, height: f32) {
        self.y -= height;
    }

    /// One labelled bar: label (wrapped before the bar), bar scaled to `max`, the count after it.
    fn bar(&mut self, label: &str, value: usize, max: usize, colour: &str) {
        let label_lines = wrap(Face::Regular, 10.0, BAR_LABEL_WIDTH, label);
        let height = 16.0 + 12.0 * (label_lines.len() - 1) as f32;
        self.room(height);
        self.y -= 16.0;
        let width = if value == 0 {
            0.0
        } else {
            (value as f32 / max.max(1) as f32 * BAR_MAX_WIDTH).max(2.0)
        };
        let (r, g, b) = rgb(colour);
        self.current
            .set_fill_rgb(r, g, b)
            .rect(BAR_X, self.y + 1.0, width, 11.0)
            .fill_nonzero();
        self.current.set_fill_rgb(0.0, 0.0, 0.0);
        self.text_at(
            BAR_X + width + 6.0,
            self.y + 3.0,
            Face::Regular,
            10.0,
            &value.to_string(),
        );
        for (i, part) in label_lines.iter().enumerate() {
            if i > 0 {
                self.y -= 12.0;
            }
            self.text_at(MARGIN, self.y + 3.0, Face::Regular, 10.0, part);
        }
    }

    fn finish(mut self) -> Vec<Content> {
        self.done.push(self.current);
        self.done
    }
}

pub fn render(report: &Report) -> Vec<u8> {
    let s = summarise(report);
    let mut p = Pages::new();
    p.line(Face::Bold, 20.0, "Service account discovery");
    p.line(Face::Bold, 14.0, &report.company);
    p.gap(6.0);
    p.line(
        Face::Regular,
        10.0,
        &format!("Scan date: {}", date_text(report.scanned_at)),
    );
    p.line(Face::Regular, 10.0, &format!("Domain: {}", report.domain));
    p.line(Face::Regular, 10.0, &format!("Scope: {}", report.scope));
    p.gap(8.0);
    p.line(
        Face::Regular,
        11.0,
        &format!("Accounts in scope: {}", report.accounts_in_scope),
    );
    p.line(
        Face::Regular,
        11.0,
        &format!("Service accounts: {}", s.service_accounts),
    );
    p.line(Face::Regular, 11.0, &format!("Findings: {}", s.findings));
    p.line(
        Face::Regular,
        11.0,
        &format!("Accounts with findings: {}", s.accounts_with_findings),
    );
    p.line(
        Face::Regular,
        11.0,
        &format!(
            "Computers: {} ({} scanned, {} failed, {} not scanned)",
            s.hosts, s.hosts_scanned, s.hosts_failed, s.hosts_not_scanned
        ),
    );
    if let Some(line) = left_out_line(&report.builtin_accounts) {
        p.line(Face::Regular, 10.0, &line);
    }
    if s.interrupted {
        p.line(
            Face::Bold,
            11.0,
            "The host scan was interrupted: this report covers what was scanned before it stopped.",
        );
    }
    p.heading("Findings by severity");
    let max = s.by_severity.iter().map(|(_, n)| *n).max().unwrap_or(0);
    for (sev, n) in &s.by_severity {
        p.bar(sev.label(), *n, max, severity_colour(*sev));
    }
    p.heading("Findings by kind");
    if s.by_kind.is_empty() {
        p.line(Face::Regular, 10.0, "No findings.");
    }
    let max = s.by_kind.iter().map(|(_, n)| *n).max().unwrap_or(0);
    for (k, n) in &s.by_kind {
        p.bar(k.id(), *n, max, severity_colour(k.severity()));
    }
    if !s.by_kind.is_empty() {
        p.heading("What to do");
        for (k, _) in &s.by_kind {
            p.item(
                Face::Regular,
                9.0,
                HANGING,
                &format!("{} ({}): {}", k.id(), k.severity().label(), k.fix()),
            );
        }
    }
    let top = riskiest(report, 20);
    if !top.is_empty() {
        p.heading("Accounts to look at first");
        for a in top {
            p.item(
                Face::Regular,
                10.0,
                HANGING,
                &format!(
                    "{} ({}): {}",
                    a.account.sam_account_name,
                    a.account.kind.label(),
                    worst_first(a)
                ),
            );
        }
    }
    let failed: Vec<String> = report
        .hosts
        .outcomes
        .iter()
        .filter_map(|o| match &o.result {
            HostResult::Failed(e) => Some(format!(
                "{}: {} - {}",
                o.computer
                    .dns_host_name
                    .as_deref()
                    .unwrap_or(&o.computer.name),
                e.kind.label(),
                e.message
            )),
            _ => None,
        })
        .collect();
    if !failed.is_empty() {
        p.heading("Hosts that could not be scanned");
        for f in failed {
            p.item(Face::Regular, 10.0, HANGING, &f);
        }
    }
    assemble(p.finish(), report)
}

fn assemble(pages: Vec<Content>, report: &Report) -> Vec<u8> {
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let info = Ref::new(5);
    let first_page = 6;
    let page_refs: Vec<Ref> = (0..pages.len())
        .map(|i| Ref::new(first_page + 2 * i as i32))
        .collect();
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_refs.iter().copied())
        .count(pages.len() as i32);
    for (font, name) in [(regular, &b"Helvetica"[..]), (bold, b"Helvetica-Bold")] {
        pdf.type1_font(font)
            .base_font(Name(name))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    let title = format!("Service account discovery - {}", report.company);
    pdf.document_info(info)
        .title(TextStr(&title))
        .creator(TextStr("alm discover"));
    for (i, content) in pages.into_iter().enumerate() {
        let page_ref = page_refs[i];
        let content_ref = Ref::new(page_ref.get() + 1);
        let mut page = pdf.page(page_ref);
        page.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT))
            .parent(tree)
            .contents(content_ref);
        page.resources()
            .fonts()
            .pair(REGULAR, regular)
            .pair(BOLD, bold);
        page.finish();
        pdf.stream(content_ref, &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pdf_with_the_company_in_winansi() {
        let bytes = render(&super::super::sample::report());
        assert!(bytes.starts_with(b"%PDF-"));
        let tail = &bytes[bytes.len() - 8..];
        assert!(tail.windows(5).any(|w| w == b"%%EOF"), "{tail:?}");
        // "Müller" in WinAnsi is M, 0xFC, l, l, e, r; pdf-writer writes it as a hex string.
        assert!(bytes.windows(12).any(|w| w == b"4DFC6C6C6572"));
        assert_eq!(win_ansi("a€b"), b"a?b");
    }

    /// The words of `lines` joined again: what a reader of the page gets back.
    fn rejoin(lines: &[String]) -> String {
        lines.join(" ")
    }

    #[test]
    fn wrapped_lines_fit_and_keep_every_word() {
        let fix = "constrained-delegation-protocol-transition (high): Use Kerberos-only \
                   constrained delegation (clear 0x1000000) and trim msDS-AllowedToDelegateTo.";
        // 9 pt Helvetica: about 105 characters of this text fit in 495 pt; it has 148.
        let lines = wrap(Face::Regular, 9.0, TEXT_WIDTH, fix);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(
            rejoin(&lines),
            fix.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        for l in &lines {
            assert!(text_width(Face::Regular, 9.0, l) <= TEXT_WIDTH, "{l}");
        }
        // A short text is one line, untouched; an empty one is one empty line.
        assert_eq!(
            wrap(Face::Bold, 13.0, TEXT_WIDTH, "What to do"),
            ["What to do"]
        );
        assert_eq!(wrap(Face::Regular, 10.0, TEXT_WIDTH, ""), [""]);
        // With a hanging indent the lines after the first are narrower.
        let hung = wrap_hanging(Face::Regular, 9.0, TEXT_WIDTH, HANGING, &fix.repeat(3));
        assert!(text_width(Face::Regular, 9.0, &hung[0]) <= TEXT_WIDTH);
        assert_eq!(
            rejoin(&hung),
            fix.repeat(3)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        );
        for l in &hung[1..] {
            assert!(
                text_width(Face::Regular, 9.0, l) <= TEXT_WIDTH - HANGING,
                "{l}"
            );
        }
    }

    #[test]
    fn a_word_longer_than_a_line_breaks_after_a_comma_or_between_characters() {
        let dn = (0..40)
            .map(|i| format!("OU=Level{i}"))
            .collect::<Vec<_>>()
            .join(",");
        let lines = wrap(Face::Regular, 10.0, TEXT_WIDTH, &format!("Scope: {dn}"));
        assert!(lines.len() > 1);
        assert_eq!(lines[0], "Scope:", "the DN does not fit after it");
        for l in &lines[1..lines.len() - 1] {
            assert!(l.ends_with(','), "{l}");
        }
        assert_eq!(lines[1..].concat(), dn, "nothing lost inside the DN");
        let solid = "x".repeat(300);
        let lines = wrap(Face::Bold, 14.0, TEXT_WIDTH, &solid);
        assert!(lines.len() > 1);
        assert_eq!(lines.concat(), solid);
        for l in &lines {
            assert!(text_width(Face::Bold, 14.0, l) <= TEXT_WIDTH, "{l}");
        }
        // The longest finding id fits its bar label in two lines at most.
        let label = wrap(
            Face::Regular,
            10.0,
            BAR_LABEL_WIDTH,
            "constrained-delegation-protocol-transition",
        );
        assert!(label.len() <= 2 && label.concat() == "constrained-delegation-protocol-transition");
    }

    #[test]
    fn long_reports_flow_onto_more_pages() {
        let mut r = super::super::sample::report();
        let a = r.accounts[0].clone();
        for i in 0..200 {
            let mut b = a.clone();
            b.account.sam_account_name = format!("svc-{i}");
            r.accounts.push(b);
        }
        // Only the top 20 accounts are listed, so add failed hosts to overflow the page.
        let failed = r.hosts.outcomes[1].clone();
        r.hosts.outcomes.extend(std::iter::repeat_n(failed, 80));
        let bytes = render(&r);
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("/Count 2") || text.contains("/Count 3"),
            "several pages"
        );
    }
}
