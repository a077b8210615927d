//! QR codes drawn with text: two modules per character cell (the upper and
//! lower half blocks), so a login link fits on a terminal screen.
//!
//! Light modules are drawn as blocks and dark ones as blanks, with the quiet
//! zone around them: on a dark terminal that reads as dark-on-light, which is
//! what scanners expect. The console draws the same lines in explicit
//! white-on-black so the terminal's own colours do not matter.

use qrcode::render::unicode::Dense1x2;
use qrcode::{EcLevel, QrCode};

/// The code for `text` as lines of text, or `None` when it does not fit in
/// a QR code (thousands of characters).
pub fn lines(text: &str) -> Option<Vec<String>> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::L).ok()?;
    let image = code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    Some(image.lines().map(str::to_owned).collect())
}

/// The code for `text` as the command line prints it under other lines: a
/// blank line, then the code. Empty when the text does not fit.
pub fn printed(text: &str) -> String {
    let mut block = String::new();
    if let Some(lines) = lines(text) {
        block.push('\n');
        for line in lines {
            block.push_str(&line);
            block.push('\n');
        }
    }
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_link_is_a_small_square() {
        let lines = lines("http://localhost:1411/lc/K7QD-M2XH-9PRT-WC4A").unwrap();
        // Version 3 (29 modules) plus a quiet zone of 4 on each side.
        let width = lines[0].chars().count();
        assert_eq!(width, 37);
        assert_eq!(lines.len(), width.div_ceil(2));
        assert!(lines.iter().all(|l| l.chars().count() == width));
        // The quiet zone is light: full blocks.
        assert!(lines[0].chars().all(|c| c == '█'));
    }
}
