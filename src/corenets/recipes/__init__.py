"""Named experiments: one YAML file per recipe in this folder, read and checked like any config file."""

from __future__ import annotations

from importlib import resources

from ..config import RunConfig, from_dict, parse_yaml
from ..errors import ConfigError
from ..options import suggest


def recipe_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files(__name__).iterdir() if p.name.endswith(".yaml"))


def _raw(name: str) -> dict:
    """The recipe's YAML, read with the config loader's rules (no anchors or aliases, bounded nesting)."""
    raw = parse_yaml(resources.files(__name__).joinpath(f"{name}.yaml").read_text(encoding="utf-8"), f"recipe {name}")
    return raw or {}


def load_recipe(name: str) -> RunConfig:
    names = recipe_names()
    if name not in names:
        raise ConfigError(f"unknown recipe {name[:100]!r}; {suggest(name, names)}choose one of: {', '.join(names)}")
    raw = _raw(name)
    if isinstance(raw, dict):
        raw["name"] = name  # the recipe's name names its run folders
    return from_dict(raw)


def describe() -> list[tuple[str, str]]:
    """(name, one-line description) for every recipe."""
    return [(name, str(_raw(name).get("description", "")).strip()) for name in recipe_names()]
