//! Response redaction: every value the proxy has substituted is replaced in
//! the headers and, streaming, in the bodies of every response it forwards
//! afterwards, on any connection (a value stored upstream through one
//! connection cannot be read back in the clear through another).

use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use http_body::{Body, Frame};
use http_body_util::BodyExt as _;
use warrant_redact::{RedactStream, Redactor, RedactorBuilder};
use warrant_secret::SecretValue;

use crate::body::{BoxError, Buffered};

/// The values substituted so far.
#[derive(Default)]
pub(crate) struct Redaction {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    values: Vec<(String, SecretValue)>,
    redactor: Option<Redactor>,
}

impl Redaction {
    /// Adds the values (named) about to be substituted. An error (the
    /// redactor cannot be built) means the request must not be sent.
    pub(crate) fn add<'a>(
        &self,
        values: impl IntoIterator<Item = (&'a str, &'a SecretValue)>,
    ) -> Result<(), String> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut changed = false;
        for (name, value) in values {
            let known = state
                .values
                .iter()
                .any(|(n, v)| n == name && v.len() == value.len() && v.ct_eq(value));
            if !known {
                state.values.push((name.to_owned(), value.duplicate()));
                changed = true;
            }
        }
        if changed {
            let mut builder = RedactorBuilder::new();
            for (name, value) in &state.values {
                builder.add(name, value.expose_secret());
            }
            let redactor = builder.build().map_err(|e| e.to_string())?;
            state.redactor = Some(redactor);
        }
        Ok(())
    }

    /// The redactor, once a value was substituted.
    pub(crate) fn redactor(&self) -> Option<Redactor> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .redactor
            .clone()
    }
}

/// Replaces every value in header values; a value that would not be a valid
/// header after redaction becomes `<redacted>`.
pub(crate) fn redact_headers(redactor: &Redactor, headers: &mut HeaderMap) {
    for value in headers.values_mut() {
        let (out, n) = redactor.redact(value.as_bytes());
        if n > 0 {
            *value =
                HeaderValue::from_bytes(&out).unwrap_or(HeaderValue::from_static("<redacted>"));
        }
    }
}

/// Responses that declare at most this many bytes are redacted whole: they
/// go out as one frame with an exact length (one write, no chunked
/// encoding) instead of a stream whose length redaction changes.
pub(crate) const WHOLE_BODY_LIMIT: u64 = 256 * 1024;

/// Reads a small body in full and replaces every value in it and its trailers.
pub(crate) async fn redact_whole<B>(body: B, redactor: &Redactor) -> Result<Buffered, BoxError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let collected = body.collect().await.map_err(Into::into)?;
    let mut trailers = collected.trailers().cloned();
    if let Some(trailers) = &mut trailers {
        redact_headers(redactor, trailers);
    }
    let data = collected.to_bytes();
    let (out, replaced) = redactor.redact(&data);
    let data = if replaced == 0 {
        data
    } else {
        // The echoed value sat in `data`; the clear copy is dropped with it.
        Bytes::from(out)
    };
    Ok(Buffered::new(Some(data), trailers))
}

/// A response body with every value replaced, streaming: bytes that cannot
/// start a value go out at once, and at most the longest form minus one
/// byte is held back.
pub(crate) struct RedactBody<B> {
    inner: B,
    stream: RedactStream,
    redactor: Redactor,
    trailers: Option<HeaderMap>,
    done: bool,
}

impl<B> RedactBody<B> {
    pub(crate) fn new(inner: B, redactor: Redactor) -> Self {
        Self {
            inner,
            stream: redactor.stream(),
            redactor,
            trailers: None,
            done: false,
        }
    }
}

impl<B> Body for RedactBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if let Some(mut trailers) = this.trailers.take() {
                this.done = true;
                redact_headers(&this.redactor, &mut trailers);
                return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
            }
            if this.done {
                return Poll::Ready(None);
            }
            let mut out = Vec::new();
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => this.stream.push(&data, &mut out),
                    Err(frame) => {
                        this.stream.finish(&mut out);
                        match frame.into_trailers() {
                            Ok(trailers) => this.trailers = Some(trailers),
                            Err(_) => this.done = true,
                        }
                    }
                },
                None => {
                    this.stream.finish(&mut out);
                    this.done = true;
                }
            }
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redaction() -> Redaction {
        let conn = Redaction::default();
        let value = SecretValue::from(b"s3cret-value-123".to_vec());
        conn.add([("api/token", &value)]).unwrap();
        conn.add([("api/token", &value)]).unwrap();
        conn
    }

    #[test]
    fn headers_are_redacted() {
        let redactor = redaction().redactor().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-echo", "Bearer s3cret-value-123".parse().unwrap());
        headers.insert("x-plain", "fine".parse().unwrap());
        redact_headers(&redactor, &mut headers);
        assert_eq!(headers["x-echo"], "Bearer <redacted:api/token>");
        assert_eq!(headers["x-plain"], "fine");
    }

    /// Frames handed out one by one.
    struct Frames(std::collections::VecDeque<Frame<Bytes>>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = BoxError;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
            Poll::Ready(self.0.pop_front().map(Ok))
        }
    }

    #[tokio::test]
    async fn bodies_are_redacted_across_frames() {
        let redactor = redaction().redactor().unwrap();
        let mut trailers = HeaderMap::new();
        trailers.insert("x-t", "s3cret-value-123".parse().unwrap());
        let frames = Frames(
            [
                Frame::data(Bytes::from_static(b"a s3cret-")),
                Frame::data(Bytes::from_static(b"value-123 b czNjcmV0LXZhbHVlLTEyMw==")),
                Frame::trailers(trailers),
            ]
            .into(),
        );
        let collected = RedactBody::new(frames, redactor).collect().await.unwrap();
        assert_eq!(collected.trailers().unwrap()["x-t"], "<redacted:api/token>");
        assert_eq!(
            collected.to_bytes(),
            "a <redacted:api/token> b <redacted:api/token>"
        );
    }
}
