"""Named experiments: one YAML file per recipe in this folder."""

from __future__ import annotations

from importlib import resources

from ..config import RunConfig, from_dict
from ..errors import ConfigError


def recipe_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files(__name__).iterdir() if p.name.endswith(".yaml"))


def load_recipe(name: str) -> RunConfig:
    import yaml

    names = recipe_names()
    if name not in names:
        raise ConfigError(f"unknown recipe '{name}'; choose one of: {', '.join(names)}")
    raw = yaml.safe_load(resources.files(__name__).joinpath(f"{name}.yaml").read_text())
    cfg = from_dict(raw)
    cfg.name = name
    return cfg


def describe() -> list[tuple[str, str]]:
    """(name, one-line description) for every recipe."""
    import yaml

    out = []
    for name in recipe_names():
        raw = yaml.safe_load(resources.files(__name__).joinpath(f"{name}.yaml").read_text()) or {}
        out.append((name, str(raw.get("description", "")).strip()))
    return out
