//! Reading a response body with a bound on its size.

/// The body of `resp`, or `None` when it is longer than `limit` (told by its `Content-Length`,
/// or found while reading: what was read is dropped and the rest is not read).
pub async fn read_body(mut resp: reqwest::Response, limit: usize) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}
