"""Which model families can read which data: the one owner of that rule."""

from __future__ import annotations


def check_model_fits(model_name: str, bundle) -> None:
    """Raise ConfigError, naming a model that fits, when `model_name` cannot read `bundle`'s inputs."""
