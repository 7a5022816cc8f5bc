//! A small KQL evaluator for the assets' queries, over ECS documents.
//!
//! Supported subset (anything else is a parse error, so an asset cannot
//! use KQL this test does not understand):
//! - `field : value`, value a quoted string or a bare word: a leaf equal to
//!   it (numbers and booleans compared by their JSON text; an array
//!   matches when one element does). No wildcards inside values.
//! - `field : *`: the field exists (a non-null leaf).
//! - `field : (v1 or v2 …)`: any of the values.
//! - `and`, `or`, `not`, parentheses; `not` binds tightest, then `and`,
//!   then `or` (KQL's precedence). The empty query matches everything.
//!
//! Keyword semantics throughout: exact, case-sensitive, as on the
//! `keyword` fields the assets query.

use serde_json::Value;

/// A parsed query.
#[derive(Debug, Clone)]
pub enum Query {
    All,
    Or(Vec<Query>),
    And(Vec<Query>),
    Not(Box<Query>),
    Exists(String),
    Is(String, Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Colon,
    Star,
    Quoted(String),
    Word(String),
}

/// Parses `text`, or says why not.
pub fn parse(text: &str) -> Result<Query, String> {
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Ok(Query::All);
    }
    let mut position = 0;
    let query = or(&tokens, &mut position)?;
    if position != tokens.len() {
        return Err(format!("unexpected {:?}", tokens[position]));
    }
    Ok(query)
}

/// Every field the query names.
pub fn fields(query: &Query) -> Vec<String> {
    match query {
        Query::All => Vec::new(),
        Query::Or(parts) | Query::And(parts) => parts.iter().flat_map(fields).collect(),
        Query::Not(inner) => fields(inner),
        Query::Exists(field) | Query::Is(field, _) => vec![field.clone()],
    }
}

/// Whether `document` matches.
pub fn matches(query: &Query, document: &Value) -> bool {
    match query {
        Query::All => true,
        Query::Or(parts) => parts.iter().any(|part| matches(part, document)),
        Query::And(parts) => parts.iter().all(|part| matches(part, document)),
        Query::Not(inner) => !matches(inner, document),
        Query::Exists(field) => !leaves(document, field).is_empty(),
        Query::Is(field, values) => leaves(document, field).iter().any(|leaf| {
            let text = match leaf {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            values.contains(&text)
        }),
    }
}

/// The non-null scalar leaves at dotted `path` (through nested objects and
/// arrays; a key may itself hold dots).
fn leaves<'a>(value: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut out = Vec::new();
    collect(value, path, &mut out);
    out
}

fn collect<'a>(value: &'a Value, path: &str, out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| collect(item, path, out)),
        Value::Object(object) if !path.is_empty() => {
            for (key, child) in object {
                if path == key {
                    collect(child, "", out);
                } else if let Some(rest) = path
                    .strip_prefix(key.as_str())
                    .and_then(|rest| rest.strip_prefix('.'))
                {
                    collect(child, rest, out);
                }
            }
        }
        Value::Null | Value::Object(_) => {}
        scalar if path.is_empty() => out.push(scalar),
        _ => {}
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&next) = chars.peek() {
        match next {
            ' ' | '\t' | '\n' => {
                chars.next();
            }
            '(' | ')' | ':' | '*' => {
                chars.next();
                tokens.push(match next {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    ':' => Token::Colon,
                    _ => Token::Star,
                });
            }
            '"' => {
                chars.next();
                let mut quoted = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => quoted.extend(chars.next()),
                        Some(other) => quoted.push(other),
                        None => return Err("unterminated quote".to_owned()),
                    }
                }
                tokens.push(Token::Quoted(quoted));
            }
            _ => {
                let mut word = String::new();
                while let Some(&next) = chars.peek() {
                    if " \t\n():*\"".contains(next) {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                if word.contains(['<', '>', '{', '}', '\\']) {
                    return Err(format!("`{word}` is outside the supported subset"));
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

fn keyword(tokens: &[Token], position: usize, word: &str) -> bool {
    matches!(tokens.get(position), Some(Token::Word(found)) if found.eq_ignore_ascii_case(word))
}

fn or(tokens: &[Token], position: &mut usize) -> Result<Query, String> {
    let mut parts = vec![and(tokens, position)?];
    while keyword(tokens, *position, "or") {
        *position += 1;
        parts.push(and(tokens, position)?);
    }
    Ok(if parts.len() == 1 {
        parts.remove(0)
    } else {
        Query::Or(parts)
    })
}

fn and(tokens: &[Token], position: &mut usize) -> Result<Query, String> {
    let mut parts = vec![not(tokens, position)?];
    while keyword(tokens, *position, "and") {
        *position += 1;
        parts.push(not(tokens, position)?);
    }
    Ok(if parts.len() == 1 {
        parts.remove(0)
    } else {
        Query::And(parts)
    })
}

fn not(tokens: &[Token], position: &mut usize) -> Result<Query, String> {
    if keyword(tokens, *position, "not") {
        *position += 1;
        return Ok(Query::Not(Box::new(not(tokens, position)?)));
    }
    match tokens.get(*position) {
        Some(Token::Open) => {
            *position += 1;
            let inner = or(tokens, position)?;
            expect(tokens, position, &Token::Close)?;
            Ok(inner)
        }
        Some(Token::Word(field)) => {
            let field = field.clone();
            *position += 1;
            expect(tokens, position, &Token::Colon)?;
            value(tokens, position, field)
        }
        other => Err(format!("expected a field, found {other:?}")),
    }
}

fn value(tokens: &[Token], position: &mut usize, field: String) -> Result<Query, String> {
    match tokens.get(*position) {
        Some(Token::Star) => {
            *position += 1;
            Ok(Query::Exists(field))
        }
        Some(Token::Open) => {
            *position += 1;
            let mut values = vec![single(tokens, position)?];
            while keyword(tokens, *position, "or") {
                *position += 1;
                values.push(single(tokens, position)?);
            }
            expect(tokens, position, &Token::Close)?;
            Ok(Query::Is(field, values))
        }
        _ => Ok(Query::Is(field, vec![single(tokens, position)?])),
    }
}

fn single(tokens: &[Token], position: &mut usize) -> Result<String, String> {
    match tokens.get(*position) {
        Some(Token::Quoted(text) | Token::Word(text)) => {
            *position += 1;
            Ok(text.clone())
        }
        other => Err(format!("expected a value, found {other:?}")),
    }
}

fn expect(tokens: &[Token], position: &mut usize, token: &Token) -> Result<(), String> {
    if tokens.get(*position) == Some(token) {
        *position += 1;
        Ok(())
    } else {
        Err(format!(
            "expected {token:?}, found {:?}",
            tokens.get(*position)
        ))
    }
}

#[test]
fn the_subset_evaluates_as_kql_does() {
    let document = serde_json::json!({
        "event": {"outcome": "failure", "category": ["authentication", "intrusion_detection"]},
        "http": {"response": {"status_code": 403}},
        "tags": ["a"],
    });
    for (query, expected) in [
        ("", true),
        ("event.outcome : \"failure\"", true),
        ("event.outcome : success", false),
        ("event.category : \"intrusion_detection\"", true),
        ("http.response.status_code : 403", true),
        ("error.message : *", false),
        ("tags : (\"b\" or \"a\")", true),
        ("not event.outcome : failure or tags : a", true),
        ("not (event.outcome : failure and tags : a)", false),
        ("event.outcome : failure and not tags : a", false),
    ] {
        assert_eq!(
            matches(&parse(query).unwrap(), &document),
            expected,
            "{query}"
        );
    }
    assert!(parse("event.outcome : fail*").is_err());
    assert!(parse("http.response.status_code >= 400").is_err());
}
