//! Who acted and on whom: `user.*`, `user.target.*` and `related.user`.
//!
//! An event's own user (`user_id`, `user_name`, split as Elastic's grok
//! does) is `user.*`. A Management API event also names the administrator
//! who made the request (`details.request.auth.user`, see
//! [`mgmt`](super::mgmt)); ECS's `user` is who acted, so:
//! - no own user: the actor is `user.*`;
//! - the same person (same `user_id`, else same e-mail or name): the own
//!   user stays, with the actor's e-mail and name filling gaps;
//! - someone else (or no way to tell): the actor is `user.*` and the own
//!   user `user.target.*`.
//!
//! `related.user` holds every id, name and e-mail of both, once each.

use super::json::Writer;
use super::mgmt::Actor;
use super::user_name;

/// One user's ECS fields.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct User<'t> {
    pub domain: Option<&'t str>,
    pub email: Option<&'t str>,
    pub id: Option<&'t str>,
    pub name: Option<&'t str>,
}

/// `user.*` and, when someone else acted on them, `user.target.*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Users<'t> {
    pub user: User<'t>,
    pub target: Option<User<'t>>,
}

impl<'t> User<'t> {
    /// The event's own user, as Elastic maps `user_id` and `user_name`.
    pub fn own(user_id: Option<&'t str>, user_name: Option<&'t str>) -> User<'t> {
        let (name, domain) = user_name.map(user_name::split).unwrap_or((None, None));
        User {
            domain,
            email: user_name.filter(|name| name.find('@').is_some_and(|at| at > 0)),
            id: user_id,
            name,
        }
    }

    /// The actor of a Management API request.
    pub fn actor(actor: &'t Actor<'_>) -> User<'t> {
        User {
            domain: None,
            email: actor.email.as_deref(),
            id: actor.id.as_deref(),
            name: actor.name.as_deref(),
        }
    }

    fn is_empty(&self) -> bool {
        self.id.is_none() && self.name.is_none() && self.email.is_none()
    }

    /// Whether `self` and `other` are surely the same person.
    fn same_as(&self, other: &User<'_>, own_user_name: Option<&str>) -> bool {
        if let (Some(mine), Some(theirs)) = (self.id, other.id) {
            return mine == theirs;
        }
        if let (Some(mine), Some(theirs)) = (self.email, other.email) {
            return mine.eq_ignore_ascii_case(theirs);
        }
        own_user_name.is_some_and(|name| other.name == Some(name) || other.email == Some(name))
    }

    fn write(&self, writer: &mut Writer<'_>) {
        if let Some(domain) = self.domain {
            writer.str("domain", domain);
        }
        if let Some(email) = self.email {
            writer.str("email", email);
        }
        if let Some(id) = self.id {
            writer.str("id", id);
        }
        if let Some(name) = self.name {
            writer.str("name", name);
        }
    }
}

impl<'t> Users<'t> {
    /// Resolves the event's own user (`user_id`, `user_name`) against the
    /// request's `actor`.
    pub fn resolve(
        user_id: Option<&'t str>,
        user_name: Option<&'t str>,
        actor: Option<&'t Actor<'_>>,
    ) -> Users<'t> {
        let own = User::own(user_id, user_name);
        let Some(actor) = actor.map(User::actor).filter(|actor| !actor.is_empty()) else {
            return Users {
                user: own,
                target: None,
            };
        };
        if own.is_empty() {
            return Users {
                user: actor,
                target: None,
            };
        }
        if own.same_as(&actor, user_name) {
            return Users {
                user: User {
                    email: own.email.or(actor.email),
                    name: own.name.or(actor.name),
                    ..own
                },
                target: None,
            };
        }
        Users {
            user: actor,
            target: Some(own),
        }
    }

    /// Writes `"related":{"user":[…]}` when anyone is named: the ids,
    /// names and e-mails of both, once each, in that order (no allocation:
    /// at most six values).
    pub fn write_related(&self, writer: &mut Writer<'_>) {
        let mut related: [&str; 6] = [""; 6];
        let mut count = 0;
        for user in std::iter::once(&self.user).chain(self.target.as_ref()) {
            for value in [user.id, user.name, user.email].into_iter().flatten() {
                if !related[..count].contains(&value) {
                    related[count] = value;
                    count += 1;
                }
            }
        }
        if count > 0 {
            writer.object("related", |writer| {
                writer.str_array("user", &related[..count])
            });
        }
    }

    /// Writes `"user":{…}` when anyone is named.
    pub fn write_user(&self, writer: &mut Writer<'_>) {
        if self.user.is_empty() && self.target.is_none() {
            return;
        }
        writer.object("user", |writer| {
            self.user.write(writer);
            if let Some(target) = &self.target {
                writer.object("target", |writer| target.write(writer));
            }
        });
    }
}
