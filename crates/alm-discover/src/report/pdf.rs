//! The executive summary as PDF, written by the tool itself (pdf-writer): the standard
//! Helvetica fonts (nothing embedded, nothing downloaded), text and vector bar charts,
//! WinAnsi-encoded so text extraction (`pdftotext`) reads it back.

use super::html::severity_colour;
use super::summary::{riskiest, summarise, worst_first};
use super::{date_text, Report};
use crate::host_scan::HostResult;
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 50.0;
const REGULAR: Name = Name(b"F1");
const BOLD: Name = Name(b"F2");
/// About this many Helvetica characters fit on a line at 10 pt between the margins.
const LINE_CHARS: usize = 95;

/// Text as WinAnsi bytes: Latin-1 maps one to one; anything else becomes `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c as u32 {
            0x20..=0x7e | 0xa0..=0xff => c as u32 as u8,
            _ => b'?',
        })
        .collect()
}

fn clip(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_owned()
    } else {
        let mut t: String = text.chars().take(chars.saturating_sub(3)).collect();
        t.push_str("...");
        t
    }
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

    fn text_at(&mut self, x: f32, y: f32, font: Name, size: f32, text: &str) {
        self.current
            .begin_text()
            .set_font(font, size)
            .next_line(x, y)
            .show(Str(&win_ansi(text)))
            .end_text();
    }

    fn line(&mut self, font: Name, size: f32, text: &str) {
        let height = size * 1.45;
        self.room(height);
        self.y -= height;
        let chars = (LINE_CHARS as f32 * 10.0 / size) as usize;
        self.text_at(MARGIN, self.y, font, size, &clip(text, chars));
    }

    fn gap(&mut self, height: f32) {
        self.y -= height;
    }

    /// One labelled bar: label, bar scaled to `max`, the count after it.
    fn bar(&mut self, label: &str, value: usize, max: usize, colour: &str) {
        let height = 16.0;
        self.room(height);
        self.y -= height;
        let bar_x = MARGIN + 210.0;
        let width = if value == 0 {
            0.0
        } else {
            (value as f32 / max.max(1) as f32 * 230.0).max(2.0)
        };
        self.text_at(MARGIN, self.y + 3.0, REGULAR, 10.0, &clip(label, 40));
        let (r, g, b) = rgb(colour);
        self.current
            .set_fill_rgb(r, g, b)
            .rect(bar_x, self.y + 1.0, width, 11.0)
            .fill_nonzero();
        self.current.set_fill_rgb(0.0, 0.0, 0.0);
        self.text_at(
            bar_x + width + 6.0,
            self.y + 3.0,
            REGULAR,
            10.0,
            &value.to_string(),
        );
    }

    fn finish(mut self) -> Vec<Content> {
        self.done.push(self.current);
        self.done
    }
}

pub fn render(report: &Report) -> Vec<u8> {
    let s = summarise(report);
    let mut p = Pages::new();
    p.line(BOLD, 20.0, "Service account discovery");
    p.line(BOLD, 14.0, &report.company);
    p.gap(6.0);
    p.line(
        REGULAR,
        10.0,
        &format!("Scan date: {}", date_text(report.scanned_at)),
    );
    p.line(REGULAR, 10.0, &format!("Domain: {}", report.domain));
    p.line(REGULAR, 10.0, &format!("Scope: {}", report.scope));
    p.gap(8.0);
    p.line(
        REGULAR,
        11.0,
        &format!("Accounts in scope: {}", report.accounts_in_scope),
    );
    p.line(
        REGULAR,
        11.0,
        &format!("Service accounts: {}", s.service_accounts),
    );
    p.line(REGULAR, 11.0, &format!("Findings: {}", s.findings));
    p.line(
        REGULAR,
        11.0,
        &format!("Accounts with findings: {}", s.accounts_with_findings),
    );
    p.line(
        REGULAR,
        11.0,
        &format!(
            "Computers: {} ({} scanned, {} failed, {} not scanned)",
            s.hosts, s.hosts_scanned, s.hosts_failed, s.hosts_not_scanned
        ),
    );
    if s.interrupted {
        p.line(
            BOLD,
            11.0,
            "The host scan was interrupted: this report covers what was scanned before it stopped.",
        );
    }
    p.gap(10.0);
    p.line(BOLD, 13.0, "Findings by severity");
    let max = s.by_severity.iter().map(|(_, n)| *n).max().unwrap_or(0);
    for (sev, n) in &s.by_severity {
        p.bar(sev.label(), *n, max, severity_colour(*sev));
    }
    p.gap(10.0);
    p.line(BOLD, 13.0, "Findings by kind");
    if s.by_kind.is_empty() {
        p.line(REGULAR, 10.0, "No findings.");
    }
    let max = s.by_kind.iter().map(|(_, n)| *n).max().unwrap_or(0);
    for (k, n) in &s.by_kind {
        p.bar(k.id(), *n, max, severity_colour(k.severity()));
    }
    if !s.by_kind.is_empty() {
        p.gap(10.0);
        p.line(BOLD, 13.0, "What to do");
        for (k, _) in &s.by_kind {
            p.line(
                REGULAR,
                9.0,
                &format!("{} ({}): {}", k.id(), k.severity().label(), k.fix()),
            );
        }
    }
    let top = riskiest(report, 20);
    if !top.is_empty() {
        p.gap(10.0);
        p.line(BOLD, 13.0, "Accounts to look at first");
        for a in top {
            p.line(
                REGULAR,
                10.0,
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
        p.gap(10.0);
        p.line(BOLD, 13.0, "Hosts that could not be scanned");
        for f in failed {
            p.line(REGULAR, 10.0, &f);
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
