//! Management API events (`sapi`, `mgmt_api_read`, `fapi`, …): the
//! request and response Auth0 records in `details.request` /
//! `details.response`, mapped to ECS.
//!
//! `method` → `http.request.method` (upper case), `path` → `url.path`,
//! `query` → `url.query` (only a string; Auth0 usually sends an object,
//! which stays in `auth0.logs.data.details`), `response.statusCode` →
//! `http.response.status_code`, `userAgent` (the full string) is what
//! `user_agent.*` is parsed from (unless the parser names no client in it
//! and Auth0's summary does), `ip` is `source.ip` when the event's own
//! `ip` is missing or not an address, and `auth.user.{user_id,email,name}`
//! is the acting administrator (see [`users`](super::users)). The values
//! stay in `details` as well: this only adds fields.

use std::borrow::Cow;
use std::net::IpAddr;

use super::coerce::to_long;
use super::json::{Value, Writer};

/// What `details.request` and `details.response` carry.
#[derive(Debug, Default)]
pub(crate) struct Request<'a> {
    /// `details.request.method`, upper-cased.
    pub method: Option<String>,
    /// `details.request.path`.
    pub path: Option<Cow<'a, str>>,
    /// `details.request.query`, when a string.
    pub query: Option<Cow<'a, str>>,
    /// `details.request.userAgent`: the full user-agent string.
    pub user_agent: Option<Cow<'a, str>>,
    /// `details.request.ip`, when an address (parsed, and as sent).
    pub ip: Option<(IpAddr, Cow<'a, str>)>,
    /// `details.request.auth.user`.
    pub actor: Actor<'a>,
    /// `details.response.statusCode`.
    pub status_code: Option<i64>,
}

/// The administrator (or machine user) who made a Management API request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Actor<'a> {
    /// `user_id`.
    pub id: Option<Cow<'a, str>>,
    /// `email`.
    pub email: Option<Cow<'a, str>>,
    /// `name`.
    pub name: Option<Cow<'a, str>>,
}

/// A non-empty string member.
fn text<'a>(value: Option<&Value<'a>>) -> Option<Cow<'a, str>> {
    match value? {
        Value::String(text) if !text.trim().is_empty() => Some(text.clone()),
        _ => None,
    }
}

impl<'a> Request<'a> {
    /// Reads `details.request`.
    pub fn read_request(&mut self, request: &Value<'a>) {
        if !matches!(request, Value::Object(_)) {
            return;
        }
        self.method = text(request.get("method")).map(|method| method.trim().to_ascii_uppercase());
        self.path = text(request.get("path"));
        self.query = text(request.get("query"));
        self.user_agent = text(request.get("userAgent"));
        self.ip = text(request.get("ip")).and_then(|ip| {
            let address = ip.trim().parse::<IpAddr>().ok()?;
            let ip = match ip {
                Cow::Borrowed(ip) => Cow::Borrowed(ip.trim()),
                Cow::Owned(ip) => Cow::Owned(ip.trim().to_owned()),
            };
            Some((address, ip))
        });
        if let Some(user) = request.get("auth").and_then(|auth| auth.get("user")) {
            self.actor = Actor {
                id: text(user.get("user_id")),
                email: text(user.get("email")),
                name: text(user.get("name")),
            };
        }
    }

    /// Reads `details.response`; a status that is not a number is a note.
    pub fn read_response(&mut self, response: &Value<'a>, notes: &mut Vec<String>) {
        let Some(status) = response
            .get("statusCode")
            .filter(|status| !status.is_null())
        else {
            return;
        };
        match to_long(status) {
            Some(code) => self.status_code = Some(code),
            None => notes.push(format!(
                "`details.response.statusCode` `{status}` is not a number"
            )),
        }
    }

    /// `"http":{…}`, when there is a method or a status.
    #[inline]
    pub fn write_http(&self, writer: &mut Writer<'_>) {
        if self.method.is_some() || self.status_code.is_some() {
            object_out_of_line(writer, "http", |http| {
                if let Some(method) = &self.method {
                    http.object("request", |request| request.str("method", method));
                }
                if let Some(code) = self.status_code {
                    http.object("response", |response| response.i64("status_code", code));
                }
            });
        }
    }

    /// `"url":{…}`, when there is a path or a query.
    #[inline]
    pub fn write_url(&self, writer: &mut Writer<'_>) {
        if self.path.is_some() || self.query.is_some() {
            object_out_of_line(writer, "url", |url| {
                if let Some(path) = &self.path {
                    url.str("path", path);
                }
                if let Some(query) = &self.query {
                    url.str("query", query);
                }
            });
        }
    }
}

/// `"key":{…}`, out of line: most events have no request, and the
/// document writer inlines its callees better when the checks above stay
/// small.
#[inline(never)]
fn object_out_of_line(writer: &mut Writer<'_>, key: &str, body: impl FnOnce(&mut Writer<'_>)) {
    writer.object(key, body);
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::pipeline::tests::{assert_error_mentions, check, error_message, map};

    /// A `sapi` event as Auth0 logs it: the summary user agent, the
    /// administrator's own `user_id`, and the request and response.
    fn sapi(own: &str, request: Value) -> String {
        let mut event: Value = serde_json::from_str(&format!(
            r#"{{"log_id":"90020240308043029321000000000000000000000000000000000001","data":{{
            "date":"2024-03-08T04:30:29.321Z","type":"sapi","description":"Create a client",
            "client_id":"a1b2","client_name":"","ip":"203.0.113.7",
            "user_agent":"Firefox 125.0.0 / Ubuntu 0.0.0",
            "details":{{"request":{request},"response":{{"statusCode":201,"body":{{"client_id":"c1"}}}}}},
            {own}
            "log_id":"90020240308043029321000000000000000000000000000000000001"}}}}"#
        ))
        .unwrap();
        event["data"]["isMobile"] = json!(false);
        event.to_string()
    }

    fn request() -> Value {
        json!({
            "method": "post",
            "path": "/api/v2/clients",
            "query": {},
            "body": {"name": "cel_test", "app_type": "non_interactive"},
            "channel": "https://manage.auth0.com/",
            "ip": "2001:db8::5",
            "userAgent": "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
            "auth": {
                "user": {"user_id": "google-oauth2|101", "email": "admin@example.com", "name": "Ada Admin"},
                "strategy": "jwt",
                "credentials": {"jti": "e019"}
            }
        })
    }

    #[test]
    fn request_response_and_the_full_user_agent() {
        let document = map(&sapi(r#""user_id":"google-oauth2|101","#, request()));
        check(
            &document,
            &[
                ("http.request.method", json!("POST")),
                ("http.response.status_code", json!(201)),
                ("url.path", json!("/api/v2/clients")),
                ("url.query", Value::Null),
                (
                    "user_agent.original",
                    json!("Firefox 125.0.0 / Ubuntu 0.0.0"),
                ),
                ("user_agent.name", json!("Firefox")),
                ("user_agent.version", json!("125.0")),
                ("user_agent.os.name", json!("Ubuntu")),
                // The event's own `ip` wins over the request's.
                ("source.ip", json!("203.0.113.7")),
                ("source.geo.city_name", json!("Springfield")),
                // The same person: their own user, gaps filled by the actor.
                ("user.id", json!("google-oauth2|101")),
                ("user.email", json!("admin@example.com")),
                ("user.name", json!("Ada Admin")),
                ("user.target", Value::Null),
                (
                    "related.user",
                    json!(["google-oauth2|101", "Ada Admin", "admin@example.com"]),
                ),
                ("error", Value::Null),
                // Nothing is taken out of `details`.
                ("auth0.logs.data.details.request.method", json!("post")),
                ("auth0.logs.data.details.response.statusCode", json!(201)),
            ],
        );
    }

    #[test]
    fn the_actor_is_the_user_of_an_event_without_one() {
        let mut request = request();
        request["query"] = json!("fields=name&include_fields=true");
        request["method"] = json!("get");
        let event = sapi("", request).replace("\"ip\":\"203.0.113.7\",", "");
        let document = map(&event);
        check(
            &document,
            &[
                ("http.request.method", json!("GET")),
                ("url.query", json!("fields=name&include_fields=true")),
                ("user.id", json!("google-oauth2|101")),
                ("user.email", json!("admin@example.com")),
                ("user.name", json!("Ada Admin")),
                ("user.domain", Value::Null),
                ("user.target", Value::Null),
                // No `ip` of its own: the request's address, with its geo.
                ("source.ip", json!("2001:db8::5")),
                ("source.geo.city_name", json!("Paris")),
                ("network.type", json!("ipv6")),
            ],
        );
    }

    #[test]
    fn an_administrator_acting_on_another_user_is_the_user() {
        let event = sapi(
            r#""user_id":"auth0|victim","user_name":"victim@example.org","#,
            request(),
        )
        .replace("\"ip\":\"203.0.113.7\"", "\"ip\":\"not-an-address\"");
        let document = map(&event);
        check(
            &document,
            &[
                ("user.id", json!("google-oauth2|101")),
                ("user.email", json!("admin@example.com")),
                ("user.name", json!("Ada Admin")),
                ("user.target.id", json!("auth0|victim")),
                ("user.target.name", json!("victim")),
                ("user.target.domain", json!("example.org")),
                ("user.target.email", json!("victim@example.org")),
                (
                    "related.user",
                    json!([
                        "google-oauth2|101",
                        "Ada Admin",
                        "admin@example.com",
                        "auth0|victim",
                        "victim",
                        "victim@example.org"
                    ]),
                ),
                ("source.ip", json!("2001:db8::5")),
            ],
        );
        assert_eq!(
            error_message(&document),
            "`ip` `not-an-address` is not an IP address; source.ip is `details.request.ip`"
        );
    }

    #[test]
    fn a_full_user_agent_naming_nothing_gives_way_to_the_summary() {
        let mut request = request();
        request["userAgent"] = json!("Mozilla/5.0 (X11; Ubuntu) UnknownBrowser/1.0");
        let document = map(&sapi("", request));
        check(
            &document,
            &[
                (
                    "user_agent.original",
                    json!("Firefox 125.0.0 / Ubuntu 0.0.0"),
                ),
                ("user_agent.name", json!("Firefox")),
                ("user_agent.version", json!("125.0.0")),
            ],
        );
    }

    #[test]
    fn odd_shapes_add_nothing_wrong() {
        // Same user by e-mail when there is no id to compare.
        let mut request = request();
        request["auth"]["user"] = json!({"email": "Neo@Example.com"});
        request["method"] = json!(7);
        request["path"] = json!({"a": 1});
        let event = sapi(r#""user_name":"neo@example.com","#, request);
        let document = map(&event.replace("\"statusCode\":201", "\"statusCode\":\"404\""));
        check(
            &document,
            &[
                ("user.name", json!("neo")),
                ("user.email", json!("neo@example.com")),
                ("user.target", Value::Null),
                ("http.request", Value::Null),
                ("http.response.status_code", json!(404)),
                ("url", Value::Null),
            ],
        );
        let bad_status = map(&sapi("", json!({"auth": "x"})).replace("201", "\"soon\""));
        check(
            &bad_status,
            &[
                ("http", Value::Null),
                ("user", Value::Null),
                ("url", Value::Null),
            ],
        );
        assert_error_mentions(&bad_status, &["details.response.statusCode"]);
        // No request at all: a login keeps Elastic's mapping.
        let login = map(
            r#"{"date":"2024-03-08T04:30:29.321Z","type":"s","user_id":"auth0|1","details":{"request":"x"}}"#,
        );
        check(
            &login,
            &[
                ("http", Value::Null),
                ("user.id", json!("auth0|1")),
                ("related.user", json!(["auth0|1"])),
            ],
        );
    }
}
