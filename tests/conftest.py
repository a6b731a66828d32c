"""Suite-wide options. `--reverse` runs the collected tests backwards: a test that only passes after (or before)
another leans on state an earlier test left behind (a cache, an environment variable, a port, a folder)."""

from __future__ import annotations


def pytest_addoption(parser):
    parser.addoption("--reverse", action="store_true", help="run the selected tests in reverse order")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--reverse"):
        items.reverse()
