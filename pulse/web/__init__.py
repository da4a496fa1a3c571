"""The web shell every feature mounts into: the Flask app factory (`app.py`), sessions, sign-in
and CSRF (`auth.py`), the security log (`security_log.py`), what an extension contributes
(`extension.py`), and the server (`server.py`)."""
