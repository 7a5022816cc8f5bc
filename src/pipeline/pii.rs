//! `[pii]`: personal data obfuscated before anything is derived from it.
//!
//! Auth0's log streams can mask or hash six kinds of personal data; the API
//! poller gets everything in the clear, and a SIEM often must not hold it.
//! This module does the same on the agent's side, with Auth0's table of
//! event field names per data name ([`DataName::field_names`]):
//!
//! - A member whose key is one of the configured field names is obfuscated
//!   at any depth of the event (`data.user_name`, `details.body.email`,
//!   `details.request.auth.user.email`, …). Only strings change: a string
//!   value, each string of an array, each string inside an object (an OIDC
//!   `address` is an object). Numbers, booleans and `null` are left as they
//!   are, and so is the empty string (it holds nothing personal, and the
//!   mapping drops it as Elastic does).
//! - It runs on the parsed event **before** the mapping
//!   ([`Obfuscator::obfuscate`]), so every derived field (`user.name`,
//!   `user.email`, `user.domain`, `related.user`, …) comes from the
//!   obfuscated value: a hashed or masked email has no `@`, hence no domain.
//! - `event.original`, and the Auth0 envelope other outputs may send, is
//!   [`Obfuscator::original`]: the event parsed, obfuscated (and its
//!   addresses truncated) and written again as compact JSON.
//! - `ip = "truncate"` zeroes IPv4 addresses to /24 and IPv6 to /48 in
//!   `source.ip` and in every `ip` or `client_ip` member, **after** the
//!   GeoIP and ASN lookups used the full address
//!   ([`Obfuscator::truncate_mapped`], [`Obfuscator::source_ip`]).
//!
//! Methods: `mask` (every character becomes `*`), `xxhash` (XXH64, seed 0,
//! 16 lower-case hex digits: ours, not claimed equal to Auth0's output) and
//! `hmac-sha256` (HMAC-SHA-256 under the `key_file` key, the first 32 hex
//! digits). The hashes are deterministic: the same value gives the same
//! output across restarts and agents (with the same key), so searches and
//! joins still work. An unkeyed hash of an email is reversible with a
//! dictionary; the keyed one is not without the key.
//!
//! An HMAC costs about 0.2 µs, several per event (management events carry
//! names and emails at several depths), so recent results are kept in a
//! small memo ([`memo`]): users and administrators recur in a stream. It
//! is memory only and never shown (`Debug` omits it).

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ring::hmac;

use super::decode::{self, LogEvent};
use super::json::{self, Value};
use super::names;
use crate::secret::Secret;

/// Auth0's six PII data names (`pii_config.log_fields`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataName {
    /// `first_name`
    FirstName,
    /// `last_name`
    LastName,
    /// `email`
    Email,
    /// `phone`
    Phone,
    /// `address`
    Address,
    /// `username`
    Username,
}

/// How a value is obfuscated.
#[derive(Clone, PartialEq, Eq)]
pub enum Method {
    /// Every character becomes `*`.
    Mask,
    /// XXH64 (seed 0) of the UTF-8 bytes, 16 lower-case hex digits.
    Xxhash,
    /// HMAC-SHA-256 under this key, the first 32 lower-case hex digits.
    HmacSha256(Secret<Vec<u8>>),
}

/// What happens to IP addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpMode {
    /// Left as they are.
    Keep,
    /// IPv4 zeroed to /24, IPv6 to /48, after the GeoIP/ASN lookups.
    Truncate,
}

/// A validated `[pii]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The data names to obfuscate; empty = none.
    pub fields: Vec<DataName>,
    /// How.
    pub method: Method,
    /// `ip`.
    pub ip: IpMode,
}

/// A [`Config`] ready to run: the key schedule computed once.
#[derive(Debug)]
pub struct Obfuscator {
    /// One bit per [`DataName`] configured.
    names: u8,
    method: Compiled,
    truncate_ips: bool,
    /// Recent HMAC results, for `hmac-sha256` (a [`Secret`]: its keys are
    /// clear personal data).
    hmac_memo: Secret<memo::Memo>,
}

enum Compiled {
    Mask,
    Xxhash,
    HmacSha256(hmac::Key),
}

/// Longest hex output: HMAC-SHA-256 truncated to 32 digits.
const HMAC_HEX_DIGITS: usize = 32;

/// IPv4 addresses keep this many leading bits.
const IPV4_PREFIX_OCTETS: usize = 3;
/// IPv6 addresses keep this many leading 16-bit segments (/48).
const IPV6_PREFIX_SEGMENTS: usize = 3;

impl DataName {
    /// Every data name, in Auth0's order.
    pub const ALL: [DataName; 6] = [
        DataName::FirstName,
        DataName::LastName,
        DataName::Email,
        DataName::Phone,
        DataName::Address,
        DataName::Username,
    ];

    /// Auth0's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DataName::FirstName => "first_name",
            DataName::LastName => "last_name",
            DataName::Email => "email",
            DataName::Phone => "phone",
            DataName::Address => "address",
            DataName::Username => "username",
        }
    }

    /// The data name spelled `name`, if any.
    pub fn from_name(name: &str) -> Option<DataName> {
        names::find(&DataName::ALL, DataName::as_str, name)
    }

    /// Every name, comma-separated, for error messages.
    pub fn names() -> String {
        names::list(&DataName::ALL, DataName::as_str)
    }

    /// The event field names this data name covers (Auth0's table).
    pub fn field_names(self) -> &'static [&'static str] {
        match self {
            DataName::FirstName => &["first_name", "given_name", "name"],
            DataName::LastName => &["last_name", "family_name", "name"],
            DataName::Email => &["email"],
            DataName::Phone => &[
                "phone",
                "phone_number",
                "old_phone_number",
                "new_phone_number",
            ],
            DataName::Address => &["address"],
            DataName::Username => &["username", "user_name"],
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The data names whose field names include `key`, as bits (a `match` the
/// compiler turns into length and byte comparisons: the walk asks it of
/// every key of every event).
fn names_of_key(key: &str) -> u8 {
    let bit = DataName::bit;
    match key {
        "first_name" | "given_name" => bit(DataName::FirstName),
        "last_name" | "family_name" => bit(DataName::LastName),
        "name" => bit(DataName::FirstName) | bit(DataName::LastName),
        "email" => bit(DataName::Email),
        "phone" | "phone_number" | "old_phone_number" | "new_phone_number" => bit(DataName::Phone),
        "address" => bit(DataName::Address),
        "username" | "user_name" => bit(DataName::Username),
        _ => 0,
    }
}

/// Keys whose string values are IP addresses truncated by `ip = "truncate"`.
fn is_ip_key(key: &str) -> bool {
    matches!(key, "ip" | "client_ip")
}

impl Method {
    /// The config spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Method::Mask => "mask",
            Method::Xxhash => "xxhash",
            Method::HmacSha256(_) => "hmac-sha256",
        }
    }
}

impl std::fmt::Debug for Method {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a `Secret`; the name is enough.
        formatter.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Compiled::Mask => "mask",
            Compiled::Xxhash => "xxhash",
            Compiled::HmacSha256(_) => "hmac-sha256",
        })
    }
}

impl Config {
    /// No obfuscation, addresses kept.
    pub fn off() -> Config {
        Config {
            fields: Vec::new(),
            method: Method::Mask,
            ip: IpMode::Keep,
        }
    }
}

impl Obfuscator {
    /// Compiles `config`.
    pub fn new(config: &Config) -> Obfuscator {
        Obfuscator {
            names: config.fields.iter().fold(0, |bits, data| bits | data.bit()),
            method: match &config.method {
                Method::Mask => Compiled::Mask,
                Method::Xxhash => Compiled::Xxhash,
                Method::HmacSha256(key) => {
                    Compiled::HmacSha256(hmac::Key::new(hmac::HMAC_SHA256, key.expose()))
                }
            },
            truncate_ips: config.ip == IpMode::Truncate,
            hmac_memo: Secret::new(memo::Memo::new()),
        }
    }

    /// Whether anything is changed at all (else every method is a no-op
    /// and [`Obfuscator::original`] is the event as received).
    pub fn is_active(&self) -> bool {
        self.names != 0 || self.truncate_ips
    }

    /// Obfuscates the configured fields of a parsed event, at any depth,
    /// before the mapping derives anything from them. Addresses are left
    /// for [`Obfuscator::truncate_mapped`]: the lookups need them whole.
    pub fn obfuscate(&self, log: &mut LogEvent<'_>) {
        if self.names != 0 {
            self.walk_members(&mut log.data, true, false);
        }
    }

    /// Truncates the addresses in `ip`/`client_ip` members of the mapped
    /// `auth0.logs.data` members (after the lookups; `source.ip` is
    /// [`Obfuscator::source_ip`]).
    pub fn truncate_mapped(&self, members: &mut [(Cow<'_, str>, Value<'_>)]) {
        if self.truncate_ips {
            self.walk_members(members, false, true);
        }
    }

    /// The text written to `source.ip`: as sent, or truncated.
    pub fn source_ip<'t>(&self, address: IpAddr, text: &'t str) -> Cow<'t, str> {
        if self.truncate_ips {
            Cow::Owned(truncate(address).to_string())
        } else {
            Cow::Borrowed(text)
        }
    }

    /// The event as an output may show it: the bytes as received when
    /// nothing is obfuscated, else the event parsed, obfuscated, its
    /// addresses truncated, and written as compact JSON (same shape:
    /// envelope or bare log). This is exactly what `event.original` holds.
    ///
    /// An event the parser cannot read in full keeps what the salvage
    /// could read (`log_id`, `type`, `date`, …), obfuscated; `None` when
    /// even that fails (the pipeline refuses such an event: it becomes no
    /// document).
    pub fn original<'b>(&self, bytes: &'b [u8]) -> Option<Cow<'b, str>> {
        if !self.is_active() {
            return Some(String::from_utf8_lossy(bytes));
        }
        match json::parse(bytes) {
            Ok(mut value) => Some(Cow::Owned(self.original_of(&mut value))),
            Err(_) => {
                // What the pipeline maps of such an event: the repaired
                // text (lone surrogates, huge numbers, deep nesting), else
                // the probe's log_id, type and date.
                if let Some(repair) = super::salvage::repair(bytes) {
                    if let Ok(mut value) = json::parse(repair.text.as_bytes()) {
                        return Some(Cow::Owned(self.original_of(&mut value)));
                    }
                }
                let mut log = decode::salvage(bytes)?;
                self.obfuscate(&mut log);
                let data = Value::Object(log.data);
                let value = match log.envelope_id {
                    Some(id) => Value::Object(vec![
                        (Cow::Borrowed("log_id"), Value::String(id)),
                        (Cow::Borrowed("data"), data),
                    ]),
                    None => data,
                };
                let mut out = String::new();
                self.write_original(&mut out, &value);
                Some(Cow::Owned(out))
            }
        }
    }

    /// Obfuscates a whole parsed event in place (addresses kept, for the
    /// lookups) and returns its [`Obfuscator::original`] text, addresses
    /// truncated: one parse serves the mapping and `event.original`.
    pub fn original_of(&self, value: &mut Value<'_>) -> String {
        if self.names != 0 {
            self.walk(value, true, false);
        }
        let mut out = String::with_capacity(1024);
        self.write_original(&mut out, value);
        out
    }

    /// Writes `value` as JSON, truncating addresses under `ip` keys when
    /// `ip = "truncate"` (the value itself is left whole).
    fn write_original(&self, out: &mut String, value: &Value<'_>) {
        if self.truncate_ips {
            write_truncating(out, value);
        } else {
            json::write_value(out, value);
        }
    }

    fn walk(&self, value: &mut Value<'_>, pii: bool, ips: bool) {
        match value {
            Value::Object(members) => self.walk_members(members, pii, ips),
            Value::Array(elements) => {
                for element in elements {
                    self.walk(element, pii, ips);
                }
            }
            _ => {}
        }
    }

    fn walk_members(&self, members: &mut [(Cow<'_, str>, Value<'_>)], pii: bool, ips: bool) {
        for (key, value) in members {
            if pii && names_of_key(key) & self.names != 0 {
                self.hide_strings(value);
            } else if ips && is_ip_key(key) {
                truncate_strings(value);
            } else {
                self.walk(value, pii, ips);
            }
        }
    }

    /// Obfuscates every non-empty string in `value`.
    fn hide_strings(&self, value: &mut Value<'_>) {
        match value {
            Value::String(text) if !text.is_empty() => {
                *text = Cow::Owned(self.hide(text));
            }
            Value::Array(elements) => {
                for element in elements {
                    self.hide_strings(element);
                }
            }
            Value::Object(members) => {
                for (_, member) in members {
                    self.hide_strings(member);
                }
            }
            _ => {}
        }
    }

    /// One value, obfuscated.
    fn hide(&self, text: &str) -> String {
        match &self.method {
            Compiled::Mask => "*".repeat(text.chars().count()),
            Compiled::Xxhash => {
                let hash = xxhash_rust::xxh64::xxh64(text.as_bytes(), 0);
                let mut out = String::with_capacity(16);
                push_hex(&mut out, &hash.to_be_bytes());
                out
            }
            Compiled::HmacSha256(key) => {
                let tag = self.hmac_memo.expose().tag(text.as_bytes(), |value| {
                    let mut tag = memo::Tag::default();
                    let signed = hmac::sign(key, value);
                    tag.copy_from_slice(&signed.as_ref()[..HMAC_HEX_DIGITS / 2]);
                    tag
                });
                let mut out = String::with_capacity(HMAC_HEX_DIGITS);
                push_hex(&mut out, &tag);
                out
            }
        }
    }
}

/// [`json::write_value`], with the values of `ip`/`client_ip` members
/// written truncated ([`truncate_strings`] on a copy: they are small).
fn write_truncating(out: &mut String, value: &Value<'_>) {
    match value {
        Value::Object(members) => json::write_object(out, members, |out, key, member| {
            if is_ip_key(key) {
                let mut copy = member.clone();
                truncate_strings(&mut copy);
                json::write_value(out, &copy);
            } else {
                write_truncating(out, member);
            }
        }),
        Value::Array(elements) => json::write_array(out, elements, write_truncating),
        other => json::write_value(out, other),
    }
}

/// Truncates every string in `value` that is an IP address.
fn truncate_strings(value: &mut Value<'_>) {
    match value {
        Value::String(text) => {
            if let Ok(address) = text.trim().parse::<IpAddr>() {
                *text = Cow::Owned(truncate(address).to_string());
            }
        }
        Value::Array(elements) => elements.iter_mut().for_each(truncate_strings),
        Value::Object(members) => members
            .iter_mut()
            .for_each(|(_, member)| truncate_strings(member)),
        _ => {}
    }
}

/// IPv4 → its /24, IPv6 → its /48; an IPv4-mapped IPv6 address keeps its
/// form with the IPv4 part cut to /24.
pub fn truncate(address: IpAddr) -> IpAddr {
    let v4 = |address: Ipv4Addr| {
        let mut octets = address.octets();
        octets[IPV4_PREFIX_OCTETS..].fill(0);
        Ipv4Addr::from(octets)
    };
    match address {
        IpAddr::V4(address) => IpAddr::V4(v4(address)),
        IpAddr::V6(address) => match address.to_ipv4_mapped() {
            Some(mapped) => IpAddr::V6(v4(mapped).to_ipv6_mapped()),
            None => {
                let mut segments = address.segments();
                segments[IPV6_PREFIX_SEGMENTS..].fill(0);
                IpAddr::V6(Ipv6Addr::from(segments))
            }
        },
    }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
}

mod memo;
#[cfg(test)]
mod tests;
