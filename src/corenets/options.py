"""Type and range checks for user-given values: config fields and builder options alike.

`coerce(value, type, key)` returns the value as the type or raises a ConfigError naming
the key, the value (cut to about 200 characters) and what is allowed. A range rides on
the type: ``Annotated[int, Range(ge=1)]``. Imports nothing from corenets but errors, so
config, data and models can all use it without importing each other.
"""

from __future__ import annotations

import inspect
import math
import reprlib
import types
import typing
from typing import Annotated, Any, Literal

from .errors import ConfigError

INT64 = 2**63 - 1  # torch and NumPy hold integers in 64 bits; a larger one is an OverflowError deep inside
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = 200
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 8
_REPR.maxlevel = 3


def shown(value: Any, limit: int = 200) -> str:
    """repr(value) bounded in size and in work: a huge or deeply nested value is never expanded in full."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _num(b: float) -> str:
    """A bound as a person reads it: 2,147,483,647 rather than 2.14748e+09; 1e-08 stays as it is."""
    return f"{int(b):,}" if float(b).is_integer() and abs(b) < 1e15 else f"{b:g}"


class Range:
    """Bounds for a number, or for each number of a list: ``Annotated[float, Range(gt=0)]``."""

    def __init__(self, ge: float | None = None, gt: float | None = None, le: float | None = None,
                 lt: float | None = None, why: str = ""):
        self.ge, self.gt, self.le, self.lt, self.why = ge, gt, le, lt, why

    def __repr__(self) -> str:
        parts = [f"{op} {_num(b)}" for op, b in ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt))
                 if b is not None]
        return " and ".join(p for p in parts if p) + (f" ({self.why})" if self.why else "")

    def contains(self, v: float) -> bool:
        return ((self.ge is None or v >= self.ge) and (self.gt is None or v > self.gt)
                and (self.le is None or v <= self.le) and (self.lt is None or v < self.lt))

    def check(self, value: Any, key: str, given: Any = None) -> Any:
        """Raise ConfigError unless every number in `value` is inside; the message shows `given` (as typed)."""
        items = value if isinstance(value, (list, tuple)) else [value]
        for v in items:
            if isinstance(v, (int, float)) and not isinstance(v, bool) and not self.contains(v):
                raise ConfigError(f"{key}={shown(value if given is None else given)} is out of range; allowed: {self!r}")
        return value


# names other libraries use for an option corenets spells differently: offered when difflib finds nothing close
ALIASES = {"learning_rate": "lr", "patience": "early_stopping", "clipnorm": "grad_clip", "clip_grad_norm": "grad_clip",
           "max_norm": "grad_clip", "l2": "weight_decay", "decay": "weight_decay", "num_epochs": "epochs",
           "units": "hidden_size", "num_layers": "layers", "hidden_layers": "hidden", "embedding_dim": "embed_dim",
           "scheduler": "schedule", "lr_schedule": "schedule", "smoothing": "label_smoothing"}


def suggest(word: Any, choices: Any, prefix: str = "") -> str:
    """"did you mean 'x'? " for the choice closest to a mistyped `word` (difflib), or "" when none is close."""
    import difflib

    text, names = str(word)[:100], [str(c) for c in choices]
    found = difflib.get_close_matches(text, names, n=1, cutoff=0.6)
    if not found:  # a different case or separator (Quickstart, fashion-mnist), or another library's name
        fold = {n.lower().replace("-", "_"): n for n in names}
        key = text.lower().replace("-", "_")
        found = [fold[key]] if key in fold else [ALIASES[key]] if ALIASES.get(key) in names else []
    return f"did you mean {prefix + found[0]!r}? " if found else ""


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return _type_name(typing.get_args(tp)[0])
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return f"a list of {_type_name(args[0])}" if args else "a list"
    if tp is type(None):
        return "null"
    if tp is float:
        return "float (a finite number)"
    return getattr(tp, "__name__", str(tp))


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Return `value` as type `tp`, or raise ConfigError naming the key, the value and the type or range.

    Strict: "3" is not an int and "yes" not a bool; two conveniences stay: a number where a list of numbers
    is expected means a list of one (`--set model.hidden=64`), and a string a float can read is that float
    (YAML 1.1 reads 1e-3, without a dot, as a string). Floats must be finite; ints must fit in 64 bits.
    """
    if tp is Any or tp is inspect.Parameter.empty:
        return value
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Annotated:
        return _coerce_ranged(value, args, key)
    bad = ConfigError(f"{key}={shown(value)} is not valid; expected {_type_name(tp)}")
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
        raise bad
    if origin in (typing.Union, types.UnionType):
        return _coerce_union(value, args, key, bad)
    if origin in (list, tuple):
        return _coerce_sequence(value, origin, args, key, bad)
    if origin is dict:
        if not isinstance(value, dict):
            raise bad
        return value
    return _coerce_scalar(value, tp, key, bad)


def _coerce_ranged(value: Any, args: tuple, key: str) -> Any:
    """Annotated[T, Range...]: T first, then each range."""
    ranges = [a for a in args[1:] if isinstance(a, Range)]
    try:
        out = coerce(value, args[0], key)
    except ConfigError:
        for r in ranges:  # 10**20 for a seed: say the range rather than "a 64-bit integer"
            r.check(value, key, value)
        raise
    for r in ranges:
        r.check(out, key, value)
    return out


def _coerce_union(value: Any, args: tuple, key: str, bad: ConfigError) -> Any:
    """The first member type that takes the value; None only where the union allows it."""
    if value is None and type(None) in args:
        return None
    for a in args:
        if a is type(None):
            continue
        try:
            return coerce(value, a, key)
        except ConfigError:
            pass
    raise bad


def _coerce_sequence(value: Any, origin: Any, args: tuple, key: str, bad: ConfigError) -> list | tuple:
    """A list or tuple of the item type; a lone number means a list of one (`--set model.hidden=64`)."""
    if isinstance(value, (int, float, str)) and not isinstance(value, bool) and args and args[0] is not str:
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise bad
    item = args[0] if args else Any
    try:
        out = [coerce(v, item, key) for v in value]
    except ConfigError:
        raise bad from None
    return tuple(out) if origin is tuple else out


def _coerce_scalar(value: Any, tp: Any, key: str, bad: ConfigError) -> Any:
    """bool, int (64-bit), float (finite; a string float() reads, as YAML 1.1 leaves 1e-3) and str."""
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if tp is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad
        if abs(value) > INT64:
            raise ConfigError(f"{key}={shown(value)} is out of range; allowed: a 64-bit integer")
        return value
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string; a user means the number
            try:
                value = float(value)
            except ValueError:
                raise bad from None
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise bad
        try:
            value = float(value)
        except OverflowError:  # an int beyond float's range
            raise bad from None
        if not math.isfinite(value):
            raise bad
        return value
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise bad
    return value


def hints(obj: Any) -> dict[str, Any]:
    """The type hints of a function or dataclass, ranges (Annotated) kept; {} when they cannot be resolved."""
    try:
        return typing.get_type_hints(obj, include_extras=True)
    except Exception:  # pragma: no cover - an unresolvable annotation means "anything"
        return {}


def check_options(options: dict[str, Any], builder: Any, params: dict[str, inspect.Parameter], where: str) -> dict[str, Any]:
    """Check a builder's options against its signature: known keys, right types and ranges."""
    found = hints(builder)
    out = {}
    for key, value in options.items():
        if key not in params:
            valid = ", ".join(sorted(params)) or "(none)"
            raise ConfigError(f"unknown option {where}.{str(key)[:60]}; {suggest(key, params, where + '.')}valid keys are: {valid}")
        out[key] = coerce(value, found.get(key, params[key].annotation), f"{where}.{key}")
    return out


__all__ = ["Range", "check_options", "coerce", "hints", "shown", "suggest"]
