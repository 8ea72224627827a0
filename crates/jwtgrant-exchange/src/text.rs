//! The output gate for text a server sent: every part of an answer that may reach an
//! error, a log line or a terminal goes through it, in this crate and in the crates on top
//! of it (the Keycloak admin API's errors, the CLI's output).
//!
//! [`scrub`] first takes out every secret the request carried (as sent and in the forms a
//! JSON echo gives it), then [`sanitize`] removes terminal escape sequences whole, turns
//! every other control character and whitespace run into one space, and cuts the text
//! short.
//!
//! [`terminal_safe`] is the part of the gate that keeps line breaks, for multi-line text
//! (a report, an error with its extras) that is printed as a whole.

pub use crate::response::{SNIPPET_CHARS, sanitize, scrub_body as scrub};

/// Text from a server made safe to print on a terminal: ANSI escape sequences (CSI, OSC and
/// the like, and two-byte `ESC x`) removed, every other control character but the newline
/// replaced by a space. A server must not recolour, move the cursor, retitle the window or
/// hide text in what jwtgrant prints.
pub fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters and intermediates up to a final byte @..~.
                Some('[') => skip_csi(&mut chars),
                // OSC (and DCS, PM, APC, SOS): up to BEL or ST (ESC backslash).
                Some(']' | 'P' | '^' | '_' | 'X') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {}
            },
            // C1 CSI (U+009B) starts a sequence on some terminals too.
            '\u{9b}' => skip_csi(&mut chars),
            '\n' => out.push('\n'),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn skip_csi(chars: &mut impl Iterator<Item = char>) {
    for c in chars {
        if ('@'..='~').contains(&c) {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_text_loses_escapes_and_control_characters() {
        let check = |input: &str, expected: &str| assert_eq!(terminal_safe(input), expected);
        check("User not found", "User not found");
        check("\u{1b}[31mred\u{1b}[0m text", "red text");
        check("\u{1b}[2J\u{1b}[1;1Hcleared", "cleared");
        check("\u{1b}]0;evil title\u{7}after", "after");
        check("\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\", "link");
        check("a\rb\u{8}c\td\u{0}e", "a b c d e");
        check("\u{9b}31mc1", "c1");
        check("line one\nline two", "line one\nline two");
        check("cut \u{1b}[", "cut ");
        check("é ok \u{1b}", "é ok ");
    }
}
