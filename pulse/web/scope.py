"""A person's city scope, applied where rows are read, the way row-level security would be.

The rule, in one place: in a request of `pulse serve`, the rows a read may return are those of
the cities of the person the request acts for: the signed-in person (an admin: every city), or
the person an endpoint that proves its caller another way (Slack's signed requests) says it
acts for (`act_for`). Signed out, that is no city at all. Outside a request (the commands, the
jobs, the server's own background work) it is every city: whoever runs them has the data folder.

The data access layer asks `current()` and filters inside its queries (`Scope.sql`) or on the
rows it returns (`Scope.only`), so a route cannot see another city's rows by forgetting a check:
it never gets them. Where it is applied:
- `posters/store.py`: `PostStore.get`, `find`, `audit` and the row `change` updates;
- `dashboards/web/app.py::_cities`: the cities every dashboard page and download is drawn from.

Work a request hands to another thread runs outside the request (every city): hand it the
scope (`current()`) and filter with it there.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

_ACTING = "pulse_scope"
"""Where `act_for` keeps the scope for the rest of a request (on `flask.g`)."""


@dataclass(frozen=True)
class Scope:
    cities: frozenset[str] | None
    """The cities whose rows may be read; None: every city."""

    @classmethod
    def of(cls, user) -> Scope:
        """The scope of a person (`pulse.people.User`), or of nobody (None)."""
        if user is None:
            return NOTHING
        if user.is_admin:
            return EVERY
        return cls(frozenset(user.cities))

    def allows(self, city: str) -> bool:
        return self.cities is None or city in self.cities

    def only(self, items: Iterable[T], city: Callable[[T], str] = lambda item: item.city) -> list[T]:
        """Those of `items` whose city (`city(item)`) is in scope, in the order given."""
        return list(items) if self.cities is None else [item for item in items if city(item) in self.cities]

    def sql(self, column: str = "city") -> tuple[str, list[str]]:
        """A SQL condition on `column` and its parameters: `city IN (?, ?)`, or always true/false."""
        if self.cities is None:
            return "1 = 1", []
        if not self.cities:
            return "1 = 0", []
        ordered = sorted(self.cities)
        return f"{column} IN ({', '.join('?' * len(ordered))})", ordered


EVERY = Scope(None)
NOTHING = Scope(frozenset())


def _flask():
    # Only a process that imported Flask can be in a request; the commands never load it for this.
    return sys.modules.get("flask")


def current() -> Scope:
    """The scope of this moment: of the person this request acts for, else (outside a request) every city."""
    flask = _flask()
    if flask is None or not flask.has_request_context():
        return EVERY
    acting = flask.g.get(_ACTING)
    if acting is not None:
        return acting
    return Scope.of(flask.g.get("user"))


def act_for(user) -> None:
    """For the rest of this request, read as `user` (a person an endpoint identified by a
    signature rather than a session). Outside a request: nothing to do."""
    flask = _flask()
    if flask is not None and flask.has_request_context():
        setattr(flask.g, _ACTING, Scope.of(user))
