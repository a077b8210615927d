//! Length-prefixed JSON framing with a maximum frame size checked before
//! anything is allocated.

use serde::{Serialize, de::DeserializeOwned};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest frame either side accepts: a page of users is a few hundred
/// kilobytes at most, so this leaves room without letting a peer make the
/// other side allocate gigabytes.
pub const MAX_FRAME_BYTES: u32 = 4 * 1024 * 1024;

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    TooLarge { len: u64, max: u32 },
    #[error("malformed frame: {0}")]
    Malformed(#[source] serde_json::Error),
    #[error("connection closed in the middle of a frame")]
    Truncated,
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
}

impl FrameError {
    /// Whether the byte stream is still aligned on a frame boundary, so that
    /// the connection can go on after this error.
    pub fn is_recoverable(&self) -> bool {
        matches!(self, FrameError::Malformed(_))
    }
}

/// Serialises `message` and writes it as one frame.
pub async fn write_frame<W, T>(writer: &mut W, message: &T) -> Result<(), FrameError>
where
    W: AsyncWrite + Unpin,
    T: Serialize,
{
    let body = serde_json::to_vec(message).map_err(FrameError::Malformed)?;
    let len = u32::try_from(body.len())
        .ok()
        .filter(|len| *len <= MAX_FRAME_BYTES)
        .ok_or(FrameError::TooLarge {
            len: body.len() as u64,
            max: MAX_FRAME_BYTES,
        })?;
    let mut buf = Vec::with_capacity(body.len() + 4);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(&body);
    writer.write_all(&buf).await?;
    writer.flush().await?;
    Ok(())
}

/// Reads one frame. `Ok(None)` is a clean end of stream between frames.
///
/// A frame whose body is not valid JSON for `T` is consumed whole before
/// [`FrameError::Malformed`] is returned, so the caller may answer and go on.
pub async fn read_frame<R, T>(reader: &mut R) -> Result<Option<T>, FrameError>
where
    R: AsyncRead + Unpin,
    T: DeserializeOwned,
{
    let mut len_buf = [0u8; 4];
    match reader.read_exact(&mut len_buf).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(len_buf);
    if len > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge {
            len: u64::from(len),
            max: MAX_FRAME_BYTES,
        });
    }
    let mut body = vec![0u8; len as usize];
    reader.read_exact(&mut body).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            FrameError::Truncated
        } else {
            FrameError::Io(e)
        }
    })?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(FrameError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trips_a_frame() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &vec![1, 2, 3]).await.unwrap();
        let mut reader = buf.as_slice();
        let back: Option<Vec<u32>> = read_frame(&mut reader).await.unwrap();
        assert_eq!(back, Some(vec![1, 2, 3]));
        let end: Option<Vec<u32>> = read_frame(&mut reader).await.unwrap();
        assert_eq!(end, None);
    }

    #[tokio::test]
    async fn refuses_oversized_length_before_allocating() {
        let mut buf = (MAX_FRAME_BYTES + 1).to_be_bytes().to_vec();
        buf.extend_from_slice(b"{}");
        let err = read_frame::<_, serde_json::Value>(&mut buf.as_slice())
            .await
            .unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }), "{err}");
        assert!(!err.is_recoverable());
    }

    #[tokio::test]
    async fn garbage_body_is_malformed_and_consumed() {
        let mut buf = 5u32.to_be_bytes().to_vec();
        buf.extend_from_slice(b"nope!");
        write_frame(&mut buf, &7u8).await.unwrap();
        let mut reader = buf.as_slice();
        let err = read_frame::<_, u8>(&mut reader).await.unwrap_err();
        assert!(err.is_recoverable(), "{err}");
        assert_eq!(read_frame::<_, u8>(&mut reader).await.unwrap(), Some(7));
    }

    #[tokio::test]
    async fn short_body_is_truncated() {
        let mut buf = 10u32.to_be_bytes().to_vec();
        buf.extend_from_slice(b"{}");
        let err = read_frame::<_, serde_json::Value>(&mut buf.as_slice())
            .await
            .unwrap_err();
        assert!(matches!(err, FrameError::Truncated), "{err}");
    }
}
