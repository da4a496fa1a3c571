"""What tests share that is not a fixture: records, configs, servers (fixtures live in conftest.py files and tests/fakes)."""
