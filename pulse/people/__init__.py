"""People: who may sign in to Pulse's web pages, with which role, and for which cities
(`store.py`), one SQLite file beside the warehouse."""

from pulse.people.store import (
    MIN_PASSWORD_LENGTH, ROLES, People, PeopleError, User, normalise_email,
)

__all__ = ["MIN_PASSWORD_LENGTH", "ROLES", "People", "PeopleError", "User", "normalise_email"]
