//! Request bodies as the reference reads them: JSON or form-encoded, size-limited, and
//! validated field by field with Django REST framework's messages.

use actix_web::HttpRequest;
use actix_web::http::header;
use actix_web::web::{self, BytesMut};
use futures_util::StreamExt;
use serde_json::{Map, Value};

use super::error::{ApiError, FieldErrors};

/// The fields of a request body, before validation.
#[derive(Debug, Default)]
pub struct Fields(Map<String, Value>);

/// Reads at most `limit` bytes; a larger body is refused without reading it all.
pub async fn read(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Fields, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::BodyTooLarge);
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|err| ApiError::JsonParse(err.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::BodyTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    parse(req.headers().get(header::CONTENT_TYPE), &body).await
}

/// An empty body is a body with every field missing, whatever its content type. A body
/// without a content type is `text/plain`, as WSGI servers (and so the reference) see it.
/// Public for the fuzz target (`fuzz/fuzz_targets/request_body.rs`).
pub async fn parse(
    content_type: Option<&header::HeaderValue>,
    body: &[u8],
) -> Result<Fields, ApiError> {
    if body.is_empty() {
        return Ok(Fields::default());
    }
    let full = content_type.map_or_else(
        || "text/plain".to_owned(),
        |value| String::from_utf8_lossy(value.as_bytes()).into_owned(),
    );
    let essence = full
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Fields(map)),
            Ok(other) => Err(not_a_dictionary(&other)),
            Err(err) => Err(ApiError::JsonParse(err.to_string())),
        },
        "application/x-www-form-urlencoded" => {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
                .map_err(|err| ApiError::JsonParse(err.to_string()))?;
            // Like Django's QueryDict, the last value of a repeated key wins.
            Ok(Fields(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            ))
        }
        "multipart/form-data" => multipart(&full, body).await,
        _ => Err(ApiError::UnsupportedMediaType(full)),
    }
}

/// `multipart/form-data` as Django reads it: each part's `name` is a field, the last of a
/// repeated name wins; a file part (with a `filename`) is never a string.
async fn multipart(content_type: &str, body: &[u8]) -> Result<Fields, ApiError> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| ApiError::MultipartParse("Invalid boundary in multipart: None".into()))?;
    let body = web::Bytes::copy_from_slice(body);
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut parts = multer::Multipart::new(stream, boundary);
    let mut fields = Map::new();
    loop {
        let part = match parts.next_field().await {
            Ok(Some(part)) => part,
            Ok(None) => return Ok(Fields(fields)),
            Err(err) => return Err(ApiError::MultipartParse(err.to_string())),
        };
        let Some(name) = part.name().map(str::to_owned) else {
            continue;
        };
        let is_file = part.file_name().is_some();
        let content = part
            .bytes()
            .await
            .map_err(|err| ApiError::MultipartParse(err.to_string()))?;
        let value = if is_file {
            Value::Object(Map::new())
        } else {
            Value::String(String::from_utf8_lossy(&content).into_owned())
        };
        fields.insert(name, value);
    }
}

fn not_a_dictionary(value: &Value) -> ApiError {
    let message = match value {
        Value::Null => "No data provided".to_owned(),
        other => format!(
            "Invalid data. Expected a dictionary, but got {}.",
            python_type(other)
        ),
    };
    let mut errors = FieldErrors::new();
    errors.insert(
        "non_field_errors".into(),
        Value::Array(vec![Value::String(message)]),
    );
    ApiError::Fields(errors)
}

fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "list",
        Value::String(_) => "str",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::Bool(_) => "bool",
        Value::Null => "NoneType",
        Value::Object(_) => "dict",
    }
}

impl Fields {
    /// DRF `CharField`s (trimmed, not blank), all checked, errors in declaration order.
    pub fn strings<const N: usize>(&self, names: [&str; N]) -> Result<[String; N], ApiError> {
        let mut errors = FieldErrors::new();
        let values = names.map(|name| match char_field(self.0.get(name)) {
            Ok(value) => value,
            Err(message) => {
                errors.insert(
                    name.to_owned(),
                    Value::Array(vec![Value::String(message.into())]),
                );
                String::new()
            }
        });
        if errors.is_empty() {
            Ok(values)
        } else {
            Err(ApiError::Fields(errors))
        }
    }
}

impl Fields {
    /// Whether the body has the field at all (whatever its value).
    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// A DRF `BooleanField(required=False)`: absent is `default`.
    pub fn boolean(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        let parsed = match self.0.get(name) {
            None => return Ok(default),
            Some(Value::Bool(value)) => Some(*value),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(1) => Some(true),
                Some(0) => Some(false),
                _ => None,
            },
            Some(Value::String(text)) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" | "t" | "y" => Some(true),
                "false" | "0" | "no" | "off" | "f" | "n" => Some(false),
                _ => None,
            },
            Some(_) => None,
        };
        parsed.ok_or_else(|| {
            let mut errors = FieldErrors::new();
            errors.insert(
                name.to_owned(),
                Value::Array(vec![Value::String("Must be a valid boolean.".into())]),
            );
            ApiError::Fields(errors)
        })
    }
}

fn char_field(value: Option<&Value>) -> Result<String, &'static str> {
    let text = match value {
        None => return Err("This field is required."),
        Some(Value::Null) => return Err("This field may not be null."),
        Some(Value::String(text)) => text.trim().to_owned(),
        Some(Value::Number(number)) => number.to_string(),
        Some(_) => return Err("Not a valid string."),
    };
    if text.is_empty() {
        Err("This field may not be blank.")
    } else if text.contains('\0') {
        // DRF's ProhibitNullCharactersValidator; PostgreSQL could not store one anyway.
        Err("Null characters are not allowed.")
    } else {
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn char_fields_follow_drf() {
        assert_eq!(char_field(None), Err("This field is required."));
        assert_eq!(
            char_field(Some(&json!(null))),
            Err("This field may not be null.")
        );
        assert_eq!(
            char_field(Some(&json!("  "))),
            Err("This field may not be blank.")
        );
        assert_eq!(char_field(Some(&json!(" x "))), Ok("x".into()));
        assert_eq!(char_field(Some(&json!(5))), Ok("5".into()));
        assert_eq!(char_field(Some(&json!(["a"]))), Err("Not a valid string."));
        assert_eq!(char_field(Some(&json!(true))), Err("Not a valid string."));
        assert_eq!(
            char_field(Some(&json!("a\u{0}b"))),
            Err("Null characters are not allowed.")
        );
    }
}
