//! Request bodies: buffered up to [`BODY_LIMIT`] so placeholders can be
//! found and replaced, streamed beyond that while still watching for
//! placeholders aimed at the wrong host.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use zeroize::Zeroizing;

use crate::ProxyEvent;
use crate::server::Shared;
use crate::substitute::wiped_bytes;
use crate::target::{Target, endpoint_allowed};

/// Bodies up to this size are buffered; bigger ones are streamed.
pub(crate) const BODY_LIMIT: usize = 16 << 20;

/// Errors inside bodies.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every body the proxy sends, either way.
pub(crate) type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

/// A body of `text` (for the proxy's own answers).
pub(crate) fn text(text: String) -> ProxyBody {
    Buffered::new(Some(Bytes::from(text)), None).boxed_unsync()
}

/// An empty body.
pub(crate) fn empty() -> ProxyBody {
    Buffered::new(None, None).boxed_unsync()
}

/// A request body as read by [`read`].
pub(crate) enum ReadBody {
    /// No body at all.
    Empty,
    /// The whole body (at most [`BODY_LIMIT`] bytes) and its trailers.
    Full(Zeroizing<Vec<u8>>, Option<HeaderMap>),
    /// A body too big to buffer: what was read so far, and the rest.
    Stream(Zeroizing<Vec<u8>>, Incoming),
}

/// Reads `body` whole if it is at most [`BODY_LIMIT`] bytes.
pub(crate) async fn read(mut body: Incoming) -> Result<ReadBody, hyper::Error> {
    if body.is_end_stream() {
        return Ok(ReadBody::Empty);
    }
    let hint = body.size_hint();
    if hint.lower() > BODY_LIMIT as u64 {
        return Ok(ReadBody::Stream(Zeroizing::new(Vec::new()), body));
    }
    // Reserve up front: a grown buffer leaves unwiped copies behind.
    let expected = hint.exact().unwrap_or(64 * 1024).min(BODY_LIMIT as u64);
    let mut buf = Zeroizing::new(Vec::with_capacity(usize::try_from(expected).unwrap_or(0)));
    let mut trailers = None;
    while let Some(frame) = body.frame().await {
        match frame?.into_data() {
            Ok(data) => {
                if buf.len() + data.len() > buf.capacity() {
                    let mut bigger =
                        Zeroizing::new(Vec::with_capacity((buf.len() + data.len()) * 2));
                    bigger.extend_from_slice(&buf);
                    buf = bigger;
                }
                buf.extend_from_slice(&data);
                if buf.len() > BODY_LIMIT {
                    return Ok(ReadBody::Stream(buf, body));
                }
            }
            Err(frame) => trailers = frame.into_trailers().ok(),
        }
    }
    Ok(ReadBody::Full(buf, trailers))
}

/// A body held in memory; the data is wiped when hyper drops it.
pub(crate) struct Buffered {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl Buffered {
    pub(crate) fn new(data: Option<Bytes>, trailers: Option<HeaderMap>) -> Self {
        Self {
            data: data.filter(|d| !d.is_empty()),
            trailers,
        }
    }

    pub(crate) fn wiped(data: Zeroizing<Vec<u8>>, trailers: Option<HeaderMap>) -> Self {
        Self::new(Some(wiped_bytes(data)), trailers)
    }
}

impl Body for Buffered {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

/// Who sent a streamed body, for the event if it is cut off.
pub(crate) struct Origin {
    pub(crate) target: Arc<Target>,
    pub(crate) method: String,
    pub(crate) path: String,
}

/// A streamed request body: passes bytes on untouched, but cuts the body off
/// (an error, so the upstream request is aborted) at the first placeholder
/// for a secret not allowed to the target, and reports it.
pub(crate) struct ScanBody {
    first: Option<Bytes>,
    inner: Incoming,
    /// The last `longest - 1` bytes seen, so a placeholder split across chunks is found.
    carry: Zeroizing<Vec<u8>>,
    shared: Arc<Shared>,
    origin: Origin,
    failed: bool,
}

impl ScanBody {
    /// `prefix` has been read (and checked) already; it goes out first.
    pub(crate) fn new(
        prefix: Zeroizing<Vec<u8>>,
        inner: Incoming,
        shared: Arc<Shared>,
        origin: Origin,
    ) -> Self {
        let keep = shared.placeholders.longest().saturating_sub(1);
        let carry = Zeroizing::new(prefix[prefix.len().saturating_sub(keep)..].to_vec());
        Self {
            first: Some(wiped_bytes(prefix)).filter(|b| !b.is_empty()),
            inner,
            carry,
            shared,
            origin,
            failed: false,
        }
    }

    /// The names of secrets in `chunk` (after the carry) that may not go to the target.
    fn misdirected(&mut self, chunk: &[u8]) -> Vec<String> {
        let placeholders = &self.shared.placeholders;
        let mut window = Zeroizing::new(Vec::with_capacity(self.carry.len() + chunk.len()));
        window.extend_from_slice(&self.carry);
        window.extend_from_slice(chunk);
        let mut names: Vec<String> = Vec::new();
        for (i, _, _) in placeholders.find(&window) {
            let secret = placeholders.secret(i);
            if !endpoint_allowed(secret, &self.origin.target) && !names.contains(&secret.name) {
                names.push(secret.name.clone());
            }
        }
        let keep = placeholders.longest().saturating_sub(1);
        self.carry.clear();
        self.carry
            .extend_from_slice(&window[window.len().saturating_sub(keep)..]);
        names
    }
}

impl Body for ScanBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.failed {
            return Poll::Ready(None);
        }
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        let frame = match ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
            None => return Poll::Ready(None),
            Some(Err(e)) => return Poll::Ready(Some(Err(Box::new(e)))),
            Some(Ok(frame)) => frame,
        };
        if let Some(data) = frame.data_ref() {
            let names = self.misdirected(data);
            if !names.is_empty() {
                self.failed = true;
                let reason = format!(
                    "the request body carries a placeholder for {} which may not be sent to {}",
                    names.join(", "),
                    self.origin.target.host
                );
                (self.shared.events)(ProxyEvent::Blocked {
                    host: self.origin.target.host.clone(),
                    method: self.origin.method.clone(),
                    path: self.origin.path.clone(),
                    secrets: names,
                    reason: reason.clone(),
                });
                return Poll::Ready(Some(Err(reason.into())));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = self.inner.size_hint();
        let first = self.first.as_ref().map_or(0, |b| b.len() as u64);
        hint.set_lower(hint.lower() + first);
        if let Some(upper) = hint.upper() {
            hint.set_upper(upper + first);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn buffered_yields_data_then_trailers() {
        let mut trailers = HeaderMap::new();
        trailers.insert("x-t", "1".parse().unwrap());
        let body = Buffered::wiped(Zeroizing::new(b"abc".to_vec()), Some(trailers));
        assert_eq!(body.size_hint().exact(), Some(3));
        let collected = body.collect().await.unwrap();
        assert_eq!(collected.trailers().unwrap()["x-t"], "1");
        assert_eq!(collected.to_bytes(), "abc");
        let empty = Buffered::new(Some(Bytes::new()), None);
        assert!(empty.is_end_stream());
    }
}
