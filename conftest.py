"""pytest's root: fixture modules that are plugins for every test (not imported by the tests)."""

pytest_plugins = ["tests.fakes.postgres"]
