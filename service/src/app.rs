//! The routes and what they answer. The `/` document and `/configs` are
//! rendered ahead of requests (at start, and `/configs` again when the
//! mounted secret files change), so a request costs a route match and a few
//! header inserts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock};

use bytes::Bytes;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Version};
use serde_json::{json, Map, Value};

use crate::config::{Config, Shown};
use crate::metrics::{ProcessInfo, Route, METRICS};
use crate::secrets::SecretFiles;

pub const SERVICE_NAME: &str = "webapp";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Source revision, stamped in by the image build (`WEBAPP_REVISION`).
pub const REVISION: &str = match option_env!("WEBAPP_REVISION") {
    Some(revision) => revision,
    None => "unknown",
};

const JSON: &str = "application/json";
const HTML: &str = "text/html; charset=utf-8";
const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Sent with every response the service produces, the API set of the OWASP
/// REST Security Cheat Sheet: nothing the service answers may be cached,
/// sniffed into another type, framed (CSP `frame-ancestors`, which
/// supersedes `X-Frame-Options` in every current browser), or fetched over
/// plain HTTP once a browser has seen it over TLS (the load balancer
/// terminates TLS). Cross-origin reads of these JSON and text bodies are
/// already refused by browsers' opaque-response blocking, which `nosniff`
/// makes strict. Each header costs every response a few hundred
/// instructions, so the list holds only what protects an API.
const SECURITY_HEADERS: [(HeaderName, HeaderValue); 4] = [
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    ),
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    (
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    ),
];

/// Added to the HTML page, the one document a browser renders: it may use
/// its inline style and nothing else, leaks no referrer, shares no browsing
/// context with the pages that open it, and is not framed even by browsers
/// that predate CSP `frame-ancestors`.
const DOCUMENT_HEADERS: [(HeaderName, HeaderValue); 5] = [
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    ),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    ),
    (
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    ),
];

const HEALTHY: &[u8] = br#"{"status":"ok"}"#;
const READY: &[u8] = br#"{"status":"ready"}"#;
const NOT_READY: &[u8] = br#"{"status":"not ready"}"#;
const BAD_HOST: &[u8] =
    br#"{"error":{"status":400,"message":"an HTTP/1.1 request needs exactly one Host header, of the form host[:port]"}}"#;
const NOT_FOUND: &[u8] = br#"{"error":{"status":404,"message":"no such resource"}}"#;
const METHOD_NOT_ALLOWED: &[u8] =
    br#"{"error":{"status":405,"message":"method not allowed; use GET or HEAD"}}"#;

/// The headers of each kind of response, built once and cloned per
/// response: a clone copies a few words per header, inserting hashes each.
#[derive(Debug)]
struct HeaderTemplates {
    json: HeaderMap,
    index_json: HeaderMap,
    index_html: HeaderMap,
    prometheus: HeaderMap,
}

impl HeaderTemplates {
    fn new() -> HeaderTemplates {
        let build = |content_type: &'static str, vary: bool| {
            let mut headers = HeaderMap::with_capacity(SECURITY_HEADERS.len() + 2);
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            for (name, value) in SECURITY_HEADERS {
                headers.insert(name, value);
            }
            if vary {
                headers.insert(header::VARY, HeaderValue::from_static("Accept"));
            }
            headers
        };
        let mut index_html = build(HTML, true);
        for (name, value) in DOCUMENT_HEADERS {
            index_html.insert(name, value);
        }
        HeaderTemplates {
            json: build(JSON, false),
            index_json: build(JSON, true),
            index_html,
            prometheus: build(PROMETHEUS, false),
        }
    }
}

/// Shared state of the running service.
#[derive(Debug)]
pub struct App {
    headers: HeaderTemplates,
    index_json: Bytes,
    index_html: Bytes,
    /// Only `/configs` reads it, so no other route takes the lock.
    configs_json: RwLock<Bytes>,
    /// What `/configs` is rendered from, kept to render it again.
    config: Config,
    environment: String,
    start_time_unix: f64,
    ready: AtomicBool,
    draining: AtomicBool,
}

impl App {
    pub fn new(config: &Config, start_time_unix: f64) -> App {
        App {
            headers: HeaderTemplates::new(),
            index_json: Bytes::from(render_index_json(config)),
            index_html: Bytes::from(render_index_html(config)),
            configs_json: RwLock::new(Bytes::from(render_configs(config))),
            config: config.clone(),
            environment: config.environment.clone(),
            start_time_unix,
            ready: AtomicBool::new(false),
            draining: AtomicBool::new(false),
        }
    }

    /// Shows a new read of the secret files in `/configs`.
    pub fn secrets_changed(&self, secrets: &SecretFiles) {
        let config = Config {
            secrets: Some(secrets.clone()),
            ..self.config.clone()
        };
        let body = Bytes::from(render_configs(&config));
        *self
            .configs_json
            .write()
            .unwrap_or_else(PoisonError::into_inner) = body;
    }

    /// Marks start-up done: `/readyz` answers 200 from now on.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// Marks the drain begun: `/readyz` answers 503 and every response asks
    /// the client to close its connection, so keep-alive clients move to
    /// other replicas before this one stops accepting.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
        self.ready.store(false, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Answers a request; the body of the request is never read.
    pub fn respond<B>(&self, request: &Request<B>) -> (Route, Response<Bytes>) {
        let route = match request.uri().path() {
            "/" => Route::Index,
            "/configs" => Route::Configs,
            "/healthz" => Route::Healthz,
            "/readyz" => Route::Readyz,
            "/metrics" => Route::Metrics,
            _ => Route::Unmatched,
        };
        let mut response = if !has_valid_host(request) {
            reply(
                StatusCode::BAD_REQUEST,
                &self.headers.json,
                Bytes::from_static(BAD_HOST),
            )
        } else if route == Route::Unmatched {
            reply(
                StatusCode::NOT_FOUND,
                &self.headers.json,
                Bytes::from_static(NOT_FOUND),
            )
        } else if !matches!(*request.method(), Method::GET | Method::HEAD) {
            let mut response = reply(
                StatusCode::METHOD_NOT_ALLOWED,
                &self.headers.json,
                Bytes::from_static(METHOD_NOT_ALLOWED),
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            response
        } else {
            self.answer(route, request)
        };
        if self.draining.load(Ordering::Relaxed) {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        (route, response)
    }

    fn answer<B>(&self, route: Route, request: &Request<B>) -> Response<Bytes> {
        let headers = &self.headers;
        match route {
            Route::Index if prefers_html(request.headers().get(header::ACCEPT)) => {
                reply(StatusCode::OK, &headers.index_html, self.index_html.clone())
            }
            Route::Index => reply(StatusCode::OK, &headers.index_json, self.index_json.clone()),
            Route::Configs => {
                let body = self
                    .configs_json
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                reply(StatusCode::OK, &headers.json, body)
            }
            Route::Healthz => reply(StatusCode::OK, &headers.json, Bytes::from_static(HEALTHY)),
            Route::Readyz if self.is_ready() => {
                reply(StatusCode::OK, &headers.json, Bytes::from_static(READY))
            }
            Route::Readyz => reply(
                StatusCode::SERVICE_UNAVAILABLE,
                &headers.json,
                Bytes::from_static(NOT_READY),
            ),
            Route::Metrics => {
                let text = METRICS.render(&ProcessInfo {
                    version: VERSION,
                    revision: REVISION,
                    environment: &self.environment,
                    ready: self.is_ready(),
                    start_time_unix: self.start_time_unix,
                });
                reply(StatusCode::OK, &headers.prometheus, Bytes::from(text))
            }
            Route::Unmatched => reply(
                StatusCode::NOT_FOUND,
                &headers.json,
                Bytes::from_static(NOT_FOUND),
            ),
        }
    }
}

/// RFC 9112 section 3.2: a server answers 400 to an HTTP/1.1 request without
/// a Host header, to any request with more than one, and to one whose value
/// is not `uri-host [":" port]`. HTTP/1.0 predates Host and may omit it.
fn has_valid_host<B>(request: &Request<B>) -> bool {
    let headers = request.headers();
    // RFC 9112 asks clients to send Host as the first field, and when no
    // field name is repeated it is the only one: the usual request needs
    // no lookup (which costs about 70 instructions).
    let host = match headers.iter().next() {
        Some((name, value)) if name == header::HOST && headers.len() == headers.keys_len() => value,
        _ => {
            let mut hosts = headers.get_all(header::HOST).iter();
            match (hosts.next(), hosts.next()) {
                (None, _) => return request.version() < Version::HTTP_11,
                (Some(host), None) => host,
                (Some(_), Some(_)) => return false,
            }
        }
    };
    is_host_value(host.as_bytes())
}

/// Bytes of a `reg-name` (RFC 3986: unreserved, sub-delims and the `%` of
/// percent-encoding), which also covers an IPv4 address; with `:` they make
/// up an IP literal's inside. A table keeps the check to a load per byte.
const REG_NAME: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = matches!(
            byte as u8,
            b'a'..=b'z'
                | b'A'..=b'Z'
                | b'0'..=b'9'
                | b'-'
                | b'.'
                | b'_'
                | b'~'
                | b'%'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
        );
        byte += 1;
    }
    table
};

/// Whether `value` is `uri-host [":" port]`: a reg-name or IPv4 address, or
/// an IP literal in brackets, then optionally a colon and digits. One pass
/// over the usual value (a name or address), a few instructions a byte.
fn is_host_value(value: &[u8]) -> bool {
    let mut bytes = value.iter();
    if value.first() == Some(&b'[') {
        bytes.next();
        let mut inside = 0;
        loop {
            match bytes.next() {
                Some(b']') if inside > 0 => break,
                Some(&b) if b == b':' || REG_NAME[usize::from(b)] => inside += 1,
                _ => return false,
            }
        }
        return match bytes.next() {
            None => true,
            Some(b':') => bytes.all(u8::is_ascii_digit),
            Some(_) => false,
        };
    }
    while let Some(&b) = bytes.next() {
        if !REG_NAME[usize::from(b)] {
            return b == b':' && bytes.all(u8::is_ascii_digit);
        }
    }
    true
}

fn reply(status: StatusCode, headers: &HeaderMap, body: Bytes) -> Response<Bytes> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers.clone();
    response
}

/// Whether the `Accept` header ranks HTML above JSON. Each type takes the
/// quality of its most specific matching range (RFC 9110 §12.5.1); on a tie,
/// or with no header, JSON wins because API clients are the usual callers.
pub fn prefers_html(accept: Option<&HeaderValue>) -> bool {
    let Some(accept) = accept.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    quality(accept, "text", "html") > quality(accept, "application", "json")
}

fn quality(accept: &str, kind: &str, subtype: &str) -> f32 {
    let mut best: Option<(u8, f32)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim();
        let Some((range_kind, range_subtype)) = media.split_once('/') else {
            continue;
        };
        let specificity = match (range_kind, range_subtype) {
            (k, s) if k.eq_ignore_ascii_case(kind) && s.eq_ignore_ascii_case(subtype) => 3,
            (k, "*") if k.eq_ignore_ascii_case(kind) => 2,
            ("*", "*") => 1,
            _ => continue,
        };
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, q));
        }
    }
    best.map_or(0.0, |(_, q)| q)
}

fn render_index_json(config: &Config) -> Vec<u8> {
    let doc = json!({
        "service": SERVICE_NAME,
        "version": VERSION,
        "environment": config.environment,
        "pod": config.pod_name,
        "namespace": config.pod_namespace,
    });
    let mut body = doc.to_string().into_bytes();
    body.push(b'\n');
    body
}

fn render_index_html(config: &Config) -> Vec<u8> {
    let row = |name: &str, value: &str| {
        format!(
            "<tr><th>{}</th><td>{}</td></tr>",
            escape_html(name),
            escape_html(value)
        )
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{name}</title>\
         <style>body{{font-family:sans-serif;margin:2rem}}th{{text-align:left;padding-right:1rem}}</style>\
         </head><body><h1>{name}</h1><table>{}{}{}{}</table></body></html>\n",
        row("version", VERSION),
        row("environment", &config.environment),
        row("pod", &config.pod_name),
        row("namespace", &config.pod_namespace),
        name = SERVICE_NAME,
    )
    .into_bytes()
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn shown_value(shown: &Shown) -> Value {
    match shown {
        Shown::Value(value) => Value::String(value.clone()),
        Shown::Secret { set: true } => Value::String("set".into()),
        Shown::Secret { set: false } => Value::String("not set".into()),
    }
}

fn render_configs(config: &Config) -> Vec<u8> {
    let service: Map<String, Value> = config
        .service_settings()
        .into_iter()
        .map(|(name, value)| (name.to_owned(), Value::String(value)))
        .collect();
    let (secrets, app): (Vec<_>, Vec<_>) = config
        .app
        .iter()
        .partition(|(_, shown)| matches!(shown, Shown::Secret { .. }));
    let to_map = |entries: Vec<(&String, &Shown)>| -> Map<String, Value> {
        entries
            .into_iter()
            .map(|(name, shown)| (name.clone(), shown_value(shown)))
            .collect()
    };
    let files: Map<String, Value> = config
        .config_files
        .iter()
        .map(|(name, shown)| (name.clone(), shown_value(shown)))
        .collect();
    let (secret_files, secret_files_version) = match &config.secrets {
        Some(secrets) => (
            secrets
                .shown()
                .iter()
                .map(|(name, shown)| (name.clone(), shown_value(shown)))
                .collect(),
            secrets.version(),
        ),
        None => (Map::new(), 0),
    };
    let doc = json!({
        "environment": config.environment,
        "pod": { "POD_NAME": config.pod_name, "POD_NAMESPACE": config.pod_namespace },
        "service": service,
        "app": to_map(app),
        "secrets": to_map(secrets),
        "config_files": files,
        "secret_files": secret_files,
        "secret_files_version": secret_files_version,
    });
    let mut body = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    body.push(b'\n');
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn app(vars: &[(&str, &str)]) -> App {
        let config = Config::from_env(
            vars.iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v))),
        )
        .expect("valid config");
        let app = App::new(&config, 0.0);
        app.set_ready();
        app
    }

    fn get(app: &App, method: Method, path: &str, accept: Option<&str>) -> Response<Bytes> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "webapp");
        if let Some(accept) = accept {
            request = request.header(header::ACCEPT, accept);
        }
        app.respond(&request.body(()).expect("request")).1
    }

    fn json_of(response: &Response<Bytes>) -> Value {
        serde_json::from_slice(response.body()).expect("JSON body")
    }

    #[test]
    fn index_names_service_version_environment_and_pod() {
        let app = app(&[("APP_ENV", "staging"), ("POD_NAME", "webapp-7d9-x2")]);
        let response = get(&app, Method::GET, "/", None);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], JSON);
        let body = json_of(&response);
        assert_eq!(body["service"], "webapp");
        assert_eq!(body["version"], VERSION);
        assert_eq!(body["environment"], "staging");
        assert_eq!(body["pod"], "webapp-7d9-x2");
    }

    #[test]
    fn index_is_html_only_when_the_client_prefers_it() {
        let app = app(&[("POD_NAME", "<b>pod</b>")]);
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        let response = get(&app, Method::GET, "/", Some(browser));
        assert_eq!(response.headers()[header::CONTENT_TYPE], HTML);
        let html = String::from_utf8_lossy(response.body());
        assert!(html.contains("&lt;b&gt;pod&lt;/b&gt;"), "{html}");
        for accept in [
            "*/*",
            "application/json",
            "text/html;q=0.5, application/json",
        ] {
            let response = get(&app, Method::GET, "/", Some(accept));
            assert_eq!(response.headers()[header::CONTENT_TYPE], JSON, "{accept}");
        }
    }

    #[test]
    fn configs_show_settings_and_app_values_but_never_secret_values() {
        let app = app(&[
            ("APP_ENV", "production"),
            ("APP_GREETING", "hello"),
            ("APP_DB_PASSWORD", "correct-horse-battery"),
            ("APP_API_TOKEN", ""),
        ]);
        let response = get(&app, Method::GET, "/configs", None);
        let text = String::from_utf8_lossy(response.body()).into_owned();
        assert!(!text.contains("correct-horse-battery"));
        let body = json_of(&response);
        assert_eq!(body["app"]["APP_GREETING"], "hello");
        assert_eq!(body["app"]["APP_ENV"], "production");
        assert_eq!(body["secrets"]["APP_DB_PASSWORD"], "set");
        assert_eq!(body["secrets"]["APP_API_TOKEN"], "not set");
        assert_eq!(body["service"]["SERVICE_DRAIN_SECONDS"], "5");
        assert_eq!(body["service"]["PORT"], "8080");
    }

    #[test]
    fn readiness_follows_start_and_drain_but_liveness_does_not() {
        let app = app(&[]);
        assert_eq!(
            get(&app, Method::GET, "/readyz", None).status(),
            StatusCode::OK
        );
        app.start_draining();
        let response = get(&app, Method::GET, "/readyz", None);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::CONNECTION], "close");
        assert_eq!(
            get(&app, Method::GET, "/healthz", None).status(),
            StatusCode::OK
        );
    }

    #[test]
    fn host_values_follow_the_uri_host_and_port_grammar() {
        for valid in [
            "webapp.example",
            "webapp.example:8080",
            "10.0.3.7:80",
            "[::1]",
            "[fe80::1%25eth0]:443",
            "[v1.x]",
            "",
            "a:",
        ] {
            assert!(is_host_value(valid.as_bytes()), "{valid:?}");
        }
        for invalid in [
            "a b", "a/b", "a:80x", "[::1", "[]", "[::1]x", "a@b", "a:1:2",
        ] {
            assert!(!is_host_value(invalid.as_bytes()), "{invalid:?}");
        }
    }

    #[test]
    fn unknown_paths_and_wrong_methods_are_json_errors_with_security_headers() {
        let app = app(&[]);
        let missing = get(&app, Method::GET, "/admin", None);
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(json_of(&missing)["error"]["status"], 404);
        let post = get(&app, Method::POST, "/configs", None);
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.headers()[header::ALLOW], "GET, HEAD");
        assert_eq!(json_of(&post)["error"]["status"], 405);
        for response in [missing, post, get(&app, Method::GET, "/metrics", None)] {
            for (name, value) in SECURITY_HEADERS {
                assert_eq!(response.headers().get(&name), Some(&value), "{name}");
            }
        }
    }
}
