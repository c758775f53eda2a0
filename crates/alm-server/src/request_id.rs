//! Every request gets an id: in the tracing span, in the `X-Request-Id` response header, and
//! on the error page a person sees, so a report can be matched with the server's log.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The id of the request being answered (a request extension).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub const HEADER: &str = "x-request-id";

/// Gives the request its id and names it in the response.
pub async fn assign(mut req: Request, next: Next) -> Response {
    // Random, not from the clock: it names one request, nothing is ordered by it.
    let id = uuid::Uuid::new_v4().simple().to_string();
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(req).await;
    response.headers_mut().insert(
        HEADER,
        HeaderValue::from_str(&id).expect("hex is a header value"),
    );
    response
}
