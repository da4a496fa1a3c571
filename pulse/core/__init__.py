"""The bottom layer: what every other package stands on, and nothing above it.

config (TOML over the sections plugins register), registry (the pluggy hooks every kind
registers through), warehouse (the DuckDB file, its lock and migrations), and one module for
each rule that more than one package needs: locks, sqlite, storage, instants, output, retry,
timezones, egress and the manifest.
"""
