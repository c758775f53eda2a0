//! The executive summary as one self-contained HTML file: inline CSS, charts as inline SVG,
//! no script and no external resource (a Content-Security-Policy says so to the browser).

use super::summary::{riskiest, summarise, worst_first};
use super::svg_chart::{bar_chart, escape, Bar};
use super::{date_text, Report};
use crate::builtin_accounts::left_out_line;
use crate::findings::Severity;
use crate::host_scan::HostResult;
use std::fmt::Write;

pub fn severity_colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "#8b0000",
        Severity::High => "#d9480f",
        Severity::Medium => "#c98a00",
        Severity::Low => "#4a7ab5",
    }
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em auto;max-width:60em;color:#222}\
h1{margin-bottom:0}.sub{color:#555;margin-top:.2em}\
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;min-width:9em}\
.card b{display:block;font-size:1.8em}table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}\
th,td{border-bottom:1px solid #ddd;text-align:left;padding:.3em .5em;vertical-align:top}\
.warn{background:#fff3cd;border:1px solid #e0c36a;padding:.6em 1em;border-radius:6px}";

pub fn render(report: &Report) -> String {
    let s = summarise(report);
    let mut h = String::new();
    let company = escape(&report.company);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Service account discovery - {company}</title><style>{STYLE}</style></head><body>\
<h1>Service account discovery</h1><p class=\"sub\">{company} &middot; scanned {} &middot; domain {} &middot; scope {}</p>",
        escape(&date_text(report.scanned_at)),
        escape(&report.domain),
        escape(&report.scope),
    );
    if s.interrupted {
        let _ = write!(
            h,
            "<p class=\"warn\">The host scan was interrupted: this report covers the {} hosts scanned before it stopped.</p>",
            s.hosts_scanned + s.hosts_failed
        );
    }
    let _ = write!(
        h,
        "<div class=\"cards\"><div class=\"card\"><b id=\"accounts-in-scope\">{}</b>accounts in scope</div>\
<div class=\"card\"><b id=\"service-accounts\">{}</b>service accounts</div>\
<div class=\"card\"><b id=\"findings-total\">{}</b>findings</div>\
<div class=\"card\"><b id=\"accounts-with-findings\">{}</b>accounts with findings</div>\
<div class=\"card\"><b id=\"hosts\">{}</b>computers ({} scanned, {} failed, {} not scanned)</div></div>",
        report.accounts_in_scope, s.service_accounts, s.findings, s.accounts_with_findings,
        s.hosts, s.hosts_scanned, s.hosts_failed, s.hosts_not_scanned
    );
    if let Some(line) = left_out_line(&report.builtin_accounts) {
        let _ = write!(h, "<p id=\"builtin-accounts\">{}</p>", escape(&line));
    }
    h.push_str("<h2>Findings by severity</h2>");
    let bars: Vec<Bar> = s
        .by_severity
        .iter()
        .map(|(sev, n)| Bar {
            label: sev.label(),
            value: *n,
            colour: severity_colour(*sev),
        })
        .collect();
    h.push_str(&bar_chart("Findings by severity", &bars));
    h.push_str("<h2>Findings by kind</h2>");
    if s.by_kind.is_empty() {
        h.push_str("<p>No findings.</p>");
    } else {
        let bars: Vec<Bar> = s
            .by_kind
            .iter()
            .map(|(k, n)| Bar {
                label: k.id(),
                value: *n,
                colour: severity_colour(k.severity()),
            })
            .collect();
        h.push_str(&bar_chart("Findings by kind", &bars));
        h.push_str("<table><thead><tr><th>Finding</th><th>Severity</th><th>Accounts</th><th>Fix</th></tr></thead><tbody>");
        for (k, n) in &s.by_kind {
            let _ = write!(
                h,
                "<tr><td>{} <small>({})</small></td><td>{}</td><td class=\"count\" data-finding=\"{}\">{n}</td><td>{}</td></tr>",
                escape(k.title()), k.id(), k.severity().label(), k.id(), escape(k.fix())
            );
        }
        h.push_str("</tbody></table>");
    }
    let top = riskiest(report, 20);
    if !top.is_empty() {
        h.push_str("<h2>Accounts to look at first</h2><table><thead><tr><th>Account</th><th>Kind</th><th>Findings</th></tr></thead><tbody>");
        for a in top {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&a.account.sam_account_name),
                a.account.kind.label(),
                escape(&worst_first(a))
            );
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("<h2>Host scan</h2>");
    let failed: Vec<_> = report
        .hosts
        .outcomes
        .iter()
        .filter_map(|o| match &o.result {
            HostResult::Failed(e) => Some((o, e)),
            _ => None,
        })
        .collect();
    let _ = write!(
        h,
        "<p>{} computers in scope: {} scanned, {} failed, {} not scanned. {} uses of service accounts found on hosts (usage.csv).</p>",
        s.hosts, s.hosts_scanned, s.hosts_failed, s.hosts_not_scanned, report.usage.len()
    );
    if !failed.is_empty() {
        h.push_str("<h3>Hosts that could not be scanned</h3><table><thead><tr><th>Computer</th><th>Reason</th><th>Detail</th></tr></thead><tbody>");
        for (o, e) in failed {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(
                    o.computer
                        .dns_host_name
                        .as_deref()
                        .unwrap_or(&o.computer.name)
                ),
                e.kind.label(),
                escape(&e.message)
            );
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("<p class=\"sub\">Details: accounts.csv, findings.csv, hosts.csv, usage.csv, errors.csv. Made by alm discover.</p></body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_self_contained_and_escaped() {
        let html = render(&super::super::sample::report());
        assert!(html.contains("Müller &amp; Söhne &lt;GmbH&gt;"));
        assert!(html.contains("2026-06-01 09:30 UTC"));
        assert!(html.contains("<b id=\"findings-total\">3</b>"));
        assert!(html.contains("data-finding=\"privileged\">1<"));
        assert!(html.contains("interrupted"));
        assert!(html.contains("access-denied"));
        assert!(html.contains("<p id=\"builtin-accounts\">Built-in accounts not listed (the domain&#39;s own, never service accounts to govern): krbtgt (RID 502).</p>"), "{html}");
        for external in ["<script", "http://", "https://", "src=", "<link"] {
            let outside_svg_ns = html.replace("http://www.w3.org/2000/svg", "");
            assert!(!outside_svg_ns.contains(external), "{external}");
        }
    }
}
