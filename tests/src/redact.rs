//! Hiding the uid of the user running the tests from snapshots. The daemon
//! names whoever acts over the admin socket `admin-socket (uid N)`, and N is
//! 0 for root and 1000 or 65534 for others: a snapshot that kept it, or that
//! let its width move the text around it, would pass for one user only.
//!
//! Each redaction changes the number and nothing else, so a snapshot still
//! shows whether the columns line up.

/// What stands for the number, with the `)` after it: short enough for the
/// cells that the shortest uid, `0)`, leaves.
const PLACEHOLDER: &str = "N)";

/// A console screen with each uid written `N`, in the same number of cells.
/// The console draws into fixed places, a table column or a line inside a
/// pane's border, so the number, the `)` and the padding after them fill
/// the same cells whatever the uid is: those cells get `N)` and padding, or
/// as much of `N)` as fits where the screen cut the line.
pub fn console_uids(screen: &str) -> String {
    screen
        .lines()
        .map(|line| format!("{}\n", console_line(line)))
        .collect()
}

fn console_line(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut at = 0;
    while let Some(&c) = chars.get(at) {
        let Some(number) = uid_number_at(&chars, at) else {
            out.push(c);
            at += 1;
            continue;
        };
        let mut end = number;
        while chars.get(end).is_some_and(char::is_ascii_digit) {
            end += 1;
        }
        if chars.get(end) == Some(&')') {
            end += 1;
        }
        while chars.get(end) == Some(&' ') {
            end += 1;
        }
        out.push_str("uid ");
        out.extend(
            PLACEHOLDER
                .chars()
                .chain(std::iter::repeat(' '))
                .take(end - number),
        );
        at = end;
    }
    out
}

/// Where the number starts when `uid ` and a digit begin at `at`.
fn uid_number_at(chars: &[char], at: usize) -> Option<usize> {
    let number = at + 4;
    let word = chars.get(at..number)?;
    (word == ['u', 'i', 'd', ' '] && chars.get(number)?.is_ascii_digit()).then_some(number)
}

/// A command-line table with each uid written `N`, laid out
/// again by the command line's own table function. A column there is as
/// wide as its widest cell, so N's width moves every column after it; the
/// table is read back by the header's columns first, and a row that does
/// not line up with its header fails the test here.
pub fn table_uids(table: &str) -> String {
    let mut lines = table.lines();
    let header = lines.next().unwrap_or_default();
    let starts = column_starts(header);
    let headers = cells(header, &starts);
    let rows: Vec<Vec<String>> = lines
        .map(|line| {
            cells(line, &starts)
                .iter()
                .map(|cell| table_cell(cell))
                .collect()
        })
        .collect();
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    latchkey_tui::cli::output::table(&headers, &rows)
}

/// Where each header starts: the first, and each after two spaces.
fn column_starts(header: &str) -> Vec<usize> {
    let chars: Vec<char> = header.chars().collect();
    let mut starts = vec![0];
    for (at, window) in chars.windows(3).enumerate() {
        if matches!(window, [' ', ' ', c] if *c != ' ') {
            starts.push(at + 2);
        }
    }
    starts
}

/// `line` cut where the columns start, each cell without its padding.
fn cells(line: &str, starts: &[usize]) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut cells = Vec::new();
    for (i, &start) in starts.iter().enumerate() {
        let end = starts
            .get(i + 1)
            .copied()
            .unwrap_or(chars.len())
            .min(chars.len());
        let cell: String = chars.get(start..end).unwrap_or_default().iter().collect();
        let lined_up = start == 0
            || start >= chars.len()
            || (chars.get(start.saturating_sub(2)..start) == Some(&[' ', ' '][..])
                && chars.get(start) != Some(&' '));
        assert!(
            lined_up,
            "column {i} of this row does not start under its header:\n{line}"
        );
        cells.push(cell.trim_end().to_owned());
    }
    cells
}

fn table_cell(cell: &str) -> String {
    match cell.split_once("uid ") {
        Some((before, after)) if after.starts_with(|c: char| c.is_ascii_digit()) => {
            let rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
            format!("{before}uid N{rest}")
        }
        _ => cell.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use latchkey_protocol::{AuditEventView, AuditPage, LoginCodeView, Response, Source, UserView};
    use latchkey_tui::console::access::AccessView;
    use latchkey_tui::console::audit::AuditView;
    use latchkey_tui::console::loaded::Loaded;
    use latchkey_tui::console::{audit, buffer_text, user_detail};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use time::macros::datetime;

    use super::*;

    const UIDS: [u32; 4] = [0, 7, 1000, 65534];

    fn actor(uid: u32) -> String {
        format!("admin-socket (uid {uid})")
    }

    fn event(uid: u32) -> AuditEventView {
        AuditEventView {
            id: 1,
            at: datetime!(2026-11-23 08:00 UTC),
            event: "login_code_created".to_owned(),
            actor: actor(uid),
            subject: Some("grace.hopper".to_owned()),
            ip: None,
            user_agent: None,
            details: vec![("user".to_owned(), "grace.hopper".to_owned())],
        }
    }

    fn draw(render: impl FnOnce(&mut ratatui::Frame)) -> String {
        let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
        terminal.draw(render).unwrap();
        buffer_text(terminal.backend().buffer())
    }

    /// A user's detail as the console draws it when `uid` made their login
    /// code: the code's line ends at the pane's edge with uid 0 and is cut
    /// there with longer ones.
    fn user_detail(uid: u32) -> String {
        let at = datetime!(2026-11-23 08:00 UTC);
        let user = UserView {
            id: "u-1".to_owned(),
            username: "grace.hopper".to_owned(),
            email: None,
            email_verified: false,
            first_name: "Grace".to_owned(),
            last_name: "Hopper".to_owned(),
            display_name: "Grace Hopper".to_owned(),
            is_admin: false,
            disabled: false,
            source: Source::Local,
            passkey_count: 0,
            groups: Vec::new(),
            created_at: at,
            updated_at: at,
        };
        let mut access = AccessView::new("u-1");
        access.set_codes(Loaded::Ready(vec![LoginCodeView {
            id: "lc-1".to_owned(),
            created_at: at,
            expires_at: datetime!(2026-11-23 20:00 UTC),
            created_by: actor(uid),
        }]));
        access.audit = Loaded::Ready(vec![event(uid)]);
        draw(|frame| user_detail::render(&user, false, &access, frame, frame.area()))
    }

    fn audit_screen(uid: u32) -> String {
        let mut view = AuditView::default();
        view.set(vec![event(uid)]);
        draw(|frame| audit::render(&view, frame, frame.area()))
    }

    fn audit_table(uid: u32) -> String {
        let page = AuditPage {
            events: vec![event(uid)],
        };
        latchkey_tui::cli::output::render(&Response::Audit { page }, None).human
    }

    #[test]
    fn console_screens_read_the_same_for_every_uid() {
        for screen in [user_detail, audit_screen] {
            let as_root = console_uids(&screen(0));
            assert!(!as_root.contains("uid 0"), "{as_root}");
            for uid in UIDS {
                let raw = screen(uid);
                assert_eq!(console_uids(&raw), as_root, "uid {uid}:\n{raw}");
                // Only the number changed: every line keeps its width.
                let widths =
                    |text: &str| text.lines().map(|l| l.chars().count()).collect::<Vec<_>>();
                assert_eq!(widths(&console_uids(&raw)), widths(&raw));
            }
        }
    }

    #[test]
    fn a_uid_cut_at_the_pane_edge_is_hidden_too() {
        let root = user_detail(0);
        let cut = user_detail(1000);
        assert!(root.contains("by admin-socket (uid 0)│"), "{root}");
        assert!(cut.contains("by admin-socket (uid 10│"), "{cut}");
        let redacted = console_uids(&cut);
        assert!(redacted.contains("by admin-socket (uid N)│"), "{redacted}");
    }

    #[test]
    fn command_line_tables_read_the_same_for_every_uid_and_stay_aligned() {
        let as_root = table_uids(&audit_table(0));
        for uid in UIDS {
            assert_eq!(table_uids(&audit_table(uid)), as_root, "uid {uid}");
        }
        let header = as_root.lines().next().unwrap();
        let row = as_root.lines().nth(1).unwrap();
        assert_eq!(
            header.find("SUBJECT"),
            row.find("grace.hopper"),
            "{as_root}"
        );
        assert!(
            row.contains("admin-socket (uid N)  grace.hopper"),
            "{as_root}"
        );
    }

    #[test]
    #[should_panic(expected = "does not start under its header")]
    fn a_row_out_of_line_with_its_header_fails() {
        let table = audit_table(1000);
        let shifted = table.replacen("\n2026", "\n 2026", 1);
        table_uids(&shifted);
    }
}
