//! The admin socket under abuse: bad frames, wrong versions, many clients.

use latchkey_protocol::{
    ClientHello, ClientMessage, ErrorCode, Event, MAX_FRAME_BYTES, NewUser, PROTOCOL_VERSION,
    Request, Response, ServerMessage, UserQuery, read_frame, write_frame,
};
use latchkey_tests::TestDaemon;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

async fn raw_hello(t: &TestDaemon, protocol: u32) -> (UnixStream, ServerMessage) {
    let mut stream = UnixStream::connect(t.socket()).await.unwrap();
    let hello = ClientMessage::Hello(ClientHello {
        protocol,
        client: "raw test".into(),
    });
    write_frame(&mut stream, &hello).await.unwrap();
    let answer = read_frame(&mut stream).await.unwrap().unwrap();
    (stream, answer)
}

async fn status(t: &TestDaemon) -> u64 {
    match t.client().await.call(Request::Status).await.unwrap() {
        Response::Status { status } => status.user_count,
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_version_mismatch_is_refused_readably() {
    let t = TestDaemon::start().await;
    let (_stream, answer) = raw_hello(&t, PROTOCOL_VERSION + 1).await;
    let ServerMessage::Rejected { error } = answer else {
        panic!("expected a rejection, got {answer:?}");
    };
    assert_eq!(error.code, ErrorCode::VersionMismatch);
    assert!(error.message.contains("protocol"), "{}", error.message);
}

#[tokio::test]
async fn garbage_frames_are_answered_and_the_connection_goes_on() {
    let t = TestDaemon::start().await;
    let (mut stream, answer) = raw_hello(&t, PROTOCOL_VERSION).await;
    assert!(matches!(answer, ServerMessage::Hello(_)), "{answer:?}");

    let garbage = b"{not json";
    stream
        .write_all(&(garbage.len() as u32).to_be_bytes())
        .await
        .unwrap();
    stream.write_all(garbage).await.unwrap();
    let answer: ServerMessage = read_frame(&mut stream).await.unwrap().unwrap();
    let ServerMessage::Event {
        event: Event::FrameRejected { error },
    } = answer
    else {
        panic!("expected a frame rejection, got {answer:?}");
    };
    assert_eq!(error.code, ErrorCode::BadFrame);

    // Same connection, a good request now.
    let request = ClientMessage::Request {
        id: 5,
        request: Request::Status,
    };
    write_frame(&mut stream, &request).await.unwrap();
    let answer: ServerMessage = read_frame(&mut stream).await.unwrap().unwrap();
    assert!(
        matches!(answer, ServerMessage::Response { id: 5, .. }),
        "{answer:?}"
    );
}

#[tokio::test]
async fn an_oversized_frame_closes_that_connection_only() {
    let t = TestDaemon::start().await;
    let other = t.client().await;
    let (mut stream, _) = raw_hello(&t, PROTOCOL_VERSION).await;
    // Announce a frame far over the limit; the daemon must not wait for
    // (or allocate) it.
    stream
        .write_all(&(MAX_FRAME_BYTES + 1).to_be_bytes())
        .await
        .unwrap();
    let answer: ServerMessage = read_frame(&mut stream).await.unwrap().unwrap();
    let ServerMessage::Event {
        event: Event::FrameRejected { error },
    } = answer
    else {
        panic!("expected a frame rejection, got {answer:?}");
    };
    assert!(error.message.contains("exceeds"), "{}", error.message);
    let end: Option<ServerMessage> = read_frame(&mut stream).await.unwrap();
    assert!(end.is_none(), "the daemon should close the connection");

    // Everyone else is still served.
    assert!(matches!(
        other.call(Request::Status).await.unwrap(),
        Response::Status { .. }
    ));
    assert_eq!(status(&t).await, 0);
}

#[tokio::test]
async fn many_clients_at_once() {
    let t = TestDaemon::start().await;
    let mut tasks = Vec::new();
    for i in 0..32 {
        let client = t.client().await;
        tasks.push(tokio::spawn(async move {
            client
                .call(Request::CreateUser {
                    user: NewUser {
                        username: format!("user{i:02}"),
                        ..NewUser::default()
                    },
                })
                .await
        }));
    }
    for task in tasks {
        assert!(matches!(task.await.unwrap(), Ok(Response::User { .. })));
    }
    assert_eq!(status(&t).await, 32);
    let page = t
        .client()
        .await
        .call(Request::ListUsers {
            query: UserQuery {
                filter: "user1".into(),
                offset: 0,
                limit: 5,
            },
        })
        .await
        .unwrap();
    let Response::Users { page } = page else {
        panic!("{page:?}")
    };
    assert_eq!(page.total, 10);
    let names: Vec<_> = page.users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["user10", "user11", "user12", "user13", "user14"]);
}

#[tokio::test]
async fn subscribers_hear_about_changes_and_new_audit_events() {
    let t = TestDaemon::start().await;
    let watcher = t.client().await;
    let mut events = watcher.take_events().unwrap();
    watcher.call(Request::Subscribe).await.unwrap();
    t.cli(&["user", "create", "--username", "erin"]).await;
    let mut seen = Vec::new();
    while !(seen.contains(&Event::DirectoryChanged)
        && seen
            .iter()
            .any(|e| matches!(e, Event::AuditAppended { .. })))
    {
        let event = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv())
            .await
            .unwrap_or_else(|_| panic!("no more events within 5 s; saw {seen:?}"))
            .expect("connection open");
        seen.push(event);
    }
    let audit = seen
        .iter()
        .find_map(|e| match e {
            Event::AuditAppended { audit } => Some(audit),
            _ => None,
        })
        .unwrap();
    assert_eq!(audit.event, "user_created");
    assert_eq!(audit.subject.as_deref(), Some("erin"));

    // Sign-ins on the web side are pushed too.
    let code = t
        .cli(&["login-code", "create", "erin", "--json"])
        .await
        .json();
    let code = code["code"].as_str().unwrap().to_owned();
    t.daemon
        .idm()
        .sign_in_with_login_code(&latchkey_daemon::idm::Actor::system(), &code, None)
        .unwrap();
    loop {
        let event = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv())
            .await
            .expect("the sign-in is announced")
            .expect("connection open");
        if let Event::AuditAppended { audit } = event
            && audit.event == "login_code_sign_in"
        {
            break;
        }
    }
}

/// The socket's mode is the first gate; the daemon's peer check is the second, for when the
/// mode was loosened (a careless chmod, a shared directory). Another Unix user running the
/// real `latchkey` reaches the socket and is told why it is refused; the daemon keeps serving.
/// Switching users needs root; as any other user this test cannot make another uid's process
/// and says so (the peer rule itself is unit-tested in `admin::server`).
#[tokio::test]
async fn another_unix_user_is_refused_and_the_daemon_keeps_serving() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if latchkey_tests::process::current_uid() != 0 {
        eprintln!("skipped: only root can run a client as another uid");
        return;
    }
    let t = TestDaemon::start().await;
    t.cli(&["user", "create", "--username", "alice"]).await;
    let socket = t.socket();
    for dir in [t.dir.path(), socket.parent().unwrap()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();

    let nobody = 65534;
    let socket_arg = socket.display().to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_latchkey-under-test"))
            .args(["--socket", &socket_arg, "user", "list", "--json"])
            .uid(nobody)
            .gid(nobody)
            .env_clear()
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(!stdout.contains("alice"), "{stdout}");
    assert!(
        stderr.contains("uid 65534 may not use this socket")
            && stderr.contains("as the user that runs latchkeyd"),
        "{stderr}"
    );

    // The same user as the daemon still gets in, on a new connection.
    assert_eq!(status(&t).await, 1);
}

/// With `admin_group`, a member of that group who is not the daemon's user (nobody, whose
/// primary group is nogroup) administers through the socket, which is 0660 and the group's,
/// in a directory the daemon made 0750 for the group. Needs root, to run as another uid.
#[tokio::test]
async fn a_member_of_the_admin_group_may_use_the_socket() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::process::CommandExt;
    if latchkey_tests::process::current_uid() != 0 {
        eprintln!("skipped: only root can run a client as another uid");
        return;
    }
    let Ok(Some(nogroup)) = nix_group("nogroup") else {
        panic!("Debian has the group nogroup (gid 65534)");
    };
    let run = tempfile::tempdir().unwrap();
    std::fs::set_permissions(run.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = run.path().join("latchkey/latchkey.sock");
    let socket_for_config = socket.clone();
    let t = TestDaemon::start_with(move |config| {
        config.socket = socket_for_config;
        config.admin_group = Some("nogroup".to_owned());
    })
    .await;
    assert_eq!(t.socket(), socket);
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(meta.gid(), nogroup);

    let as_user = |uid: u32, gid: u32| {
        let socket_arg = socket.display().to_string();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_latchkey-under-test"))
                .args(["--socket", &socket_arg, "user", "create", "--username"])
                .arg(format!("made-by-{uid}"))
                .args(["--json"])
                .uid(uid)
                .gid(gid)
                .env_clear()
                .output()
                .unwrap()
        })
    };
    let out = as_user(65534, nogroup).await.unwrap();
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = t.cli(&["user", "list", "--json"]).await;
    assert!(listed.stdout.contains("made-by-65534"), "{listed:?}");

    // A uid outside the group cannot even open the socket.
    let out = as_user(65533, 65533).await.unwrap();
    assert!(!out.status.success());
    let listed = t.cli(&["user", "list", "--json"]).await;
    assert!(!listed.stdout.contains("made-by-65533"), "{listed:?}");
}

/// The gid of the group `name`, from /etc/group.
fn nix_group(name: &str) -> Result<Option<u32>, std::io::Error> {
    let groups = std::fs::read_to_string("/etc/group")?;
    Ok(groups.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next() == Some(name))
            .then(|| fields.nth(1).and_then(|gid| gid.parse().ok()))
            .flatten()
    }))
}
