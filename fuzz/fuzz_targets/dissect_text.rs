//! HTTP, SMTP, POP3, IMAP and XMPP first lines.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pathlens_classify::dissect::text;

fuzz_target!(|data: &[u8]| {
    match text::probe(data) {
        text::TextProbe::HttpRequest { host: Some(h) } => assert!(h.len() <= 255),
        text::TextProbe::SmtpHello { name: Some(n) } => assert!(n.len() <= 255),
        _ => {}
    }
});
