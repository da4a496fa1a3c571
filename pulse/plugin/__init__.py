"""Pulse as a plugin of the platform: `check` compares plugin.json with its schema and with the
code (the registry's routes, commands, channel hosts, jobs; the types the metrics read; the
types Pulse emits), `bundle` builds the wheel and its marketplace entry. The top layer beside
the demo: it reads every package below, and only the CLI reads it."""
