//! The admin socket's framing: any byte stream a peer sends is read frame by frame without a
//! panic or an allocation beyond the frame limit, and every message read back survives a
//! round trip through the writer.
#![no_main]

use latchkey_protocol::{ClientMessage, FrameError, ServerMessage, read_frame, write_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        read_all::<ClientMessage>(data).await;
        read_all::<ServerMessage>(data).await;
    });
});

async fn read_all<T>(mut data: &[u8])
where
    T: serde::de::DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug,
{
    loop {
        match read_frame::<_, T>(&mut data).await {
            Ok(Some(message)) => {
                let mut written = Vec::new();
                write_frame(&mut written, &message)
                    .await
                    .expect("a message that was read can be written");
                let again: T = read_frame(&mut written.as_slice())
                    .await
                    .expect("a written frame reads")
                    .expect("a written frame is not empty");
                assert_eq!(again, message);
            }
            Ok(None) => return,
            // The daemon answers and goes on after a malformed frame; the stream is aligned.
            Err(e @ FrameError::Malformed(_)) => assert!(e.is_recoverable()),
            Err(_) => return,
        }
    }
}
