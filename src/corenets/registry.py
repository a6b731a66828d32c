"""A registry is a dict plus a decorator (STYLE.md rule 5).

Registered builders are plain functions whose keyword arguments, with type
annotations and defaults, are the options a recipe or ``--set`` may give. That
keeps the valid keys and their types in one place: the signature.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Generic, Iterator, TypeVar

from .errors import ConfigError
from .options import suggest

T = TypeVar("T", bound=Callable[..., Any])


def import_submodules(package: str, path: list[str], skip: tuple[str, ...] = ()) -> None:
    """Import every module of a package, so each registers its builders. Loaders import lazily, so it is cheap."""
    import importlib
    import pkgutil

    for mod in pkgutil.iter_modules(path):
        if mod.name not in skip:
            importlib.import_module(f"{package}.{mod.name}")


class Registry(Generic[T]):
    """Names to builders. Duplicates and unknown names are errors that list the choices."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._info: dict[str, dict[str, Any]] = {}

    def register(self, name: str | None = None, **info: Any) -> Callable[[T], T]:
        """`info`: declarations other modules read, e.g. a model's ``reads`` (the input forms, see compat.py)."""

        def deco(fn: T) -> T:
            key = name or fn.__name__
            if key in self._items:
                raise ConfigError(f"{self.kind} '{key}' is registered twice")
            self._items[key] = fn
            self._info[key] = dict(info)
            return fn

        return deco

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise ConfigError(
                f"unknown {self.kind} '{name}'; {suggest(name, self._items)}choose one of: {', '.join(sorted(self._items))}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def names(self) -> list[str]:
        return sorted(self._items)

    def options(self, name: str, skip: int = 0) -> dict[str, inspect.Parameter]:
        """The keyword options of a builder, skipping its first `skip` positional inputs."""
        params = list(inspect.signature(self.get(name)).parameters.values())[skip:]
        return {p.name: p for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD}

    def info(self, name: str) -> dict[str, Any]:
        """What `name` declared when it registered (empty when nothing)."""
        self.get(name)  # an unknown name is an error that lists the choices
        return self._info[name]

    def describe(self, name: str) -> str:
        doc = inspect.getdoc(self.get(name)) or ""
        return doc.splitlines()[0] if doc else ""
