"""The server's JSON request bodies: one validation layer, with pydantic (which FastAPI ships).

Each input kind builds its body model with `body_model` from the pieces here (`Http.number`, `Http.texts`, ...),
each bounded by a field of the server's `Limits`. The server hands the raw bytes to `parse`: pydantic reads the
JSON in Rust, with a nesting limit, so a body nested 2,000 deep is a 400, not a RecursionError, and an integer
10**400 where a number goes is a 422 ("a finite number"), not an OverflowError. A count over a limit is a 413
whose message names the `corenets serve` flag that raises it. The kind's `http_json` then gets plain values.

Imported only by the kinds' `http_body` (that is, only when serving), so pydantic stays an optional extra.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model
from pydantic_core import PydanticCustomError, from_json

from ..errors import InputError

TOO_MANY = "over_limit"  # the error type of a count over a server limit: HTTP 413
Number = Annotated[float, Field(allow_inf_nan=False)]  # JSON numbers only; 1e400 or 10**400: "a finite number"


def flag(limit: str) -> str:
    """The `corenets serve` option that sets a Limits field: max_texts -> --max-texts."""
    return "--" + limit.replace("_", "-")


def _count_check(limit: str, bound: int, what: str, least: int = 0):
    def check(v: Any) -> Any:
        if isinstance(v, (list, str)):
            n = len(v)
            if n < least:
                raise PydanticCustomError("too_few", "{n} {what}; this model needs at least {least}",
                                          {"n": f"{n:,}", "what": what, "least": f"{least:,}"})
            if n > bound:
                raise PydanticCustomError(TOO_MANY, "{n} {what}, over this server's limit of {bound} per request "
                                                    "(corenets serve {flag})",
                                          {"n": f"{n:,}", "what": what, "bound": f"{bound:,}", "flag": flag(limit)})
        return v
    return BeforeValidator(check)


def bounded_list(item: Any, limits: Any, limit: str, what: str, least: int = 1) -> Any:
    """A JSON array of `item`, `least` to `limits.<limit>` long: a 413 naming the flag beyond it."""
    bound = getattr(limits, limit)
    least = min(least, bound)
    return Annotated[list[item], _count_check(limit, bound, what, least), Field(min_length=least, max_length=bound)]


def bounded_text(limits: Any) -> Any:
    """A string of at most `limits.max_text_chars` characters."""
    bound = limits.max_text_chars
    return Annotated[str, _count_check("max_text_chars", bound, "characters in one text"), Field(max_length=bound)]


def row_model(numeric: list[str], categorical: list[str]) -> type[BaseModel]:
    """One table row: every training column (a number for a numeric one, a category for the others; null is a
    missing value). Other keys are allowed and ignored, so a row read from a wider table can be sent as it is."""
    fields = {f"c{i}": (Union[Number, None], Field(..., alias=str(c))) for i, c in enumerate(numeric)}
    fields.update({f"c{len(numeric) + i}": (Scalar, Field(..., alias=str(c))) for i, c in enumerate(categorical)})
    return create_model("TableRow", __config__=ConfigDict(extra="allow", populate_by_name=False), **fields)


def body_model(name: str, doc: str, **fields: Any) -> type[BaseModel]:
    """A closed JSON object model (unknown keys are refused): fields as create_model takes them."""
    config = ConfigDict(extra="forbid", title=name)
    model = create_model(name, __config__=config, __doc__=doc, **fields)
    return model


def parse(model: type[BaseModel], raw: bytes, hint: str) -> dict[str, Any]:
    """Raw body bytes -> the model's plain values; InputError 400 (not JSON), 413 (over a limit) or 422.

    Parsed by pydantic's JSON reader (Rust, nesting limited), then validated: the count checks run first and look at
    a list's length only, so 600,000 texts are refused without validating each (4x faster than validating the JSON
    in one step, which checks every item before the length)."""
    if not raw:
        raise InputError(f"the body is empty; {hint}", 400)
    try:
        values = from_json(raw)
    except ValueError as e:
        why = str(e)
        if "recursion limit" in why:
            raise InputError(f"the JSON body is nested too deeply ({why}); {hint}", 400) from None
        raise InputError(f"the body is not valid JSON ({why[:160]}); {hint}", 400) from None
    return parse_values(model, values, hint)


def refusal(e: ValidationError, hint: str) -> InputError:
    """The first error of a validation, in one line that names the key and the allowed form."""
    errors = e.errors(include_url=False)
    first = errors[0]
    if first["type"] == "json_invalid":
        why = first["msg"].removeprefix("Invalid JSON: ")
        if "recursion limit" in why:
            return InputError(f"the JSON body is nested too deeply ({why}); {hint}", 400)
        return InputError(f"the body is not valid JSON ({why[:160]}); {hint}", 400)
    where = ".".join(str(p) for p in first["loc"] if not _is_union_branch(p)) or "the body"
    status = 413 if first["type"] == TOO_MANY else 422
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 and status == 422 else ""
    got = first.get("input")
    shown = "" if status == 413 or isinstance(got, (dict, list)) else f" (got {_cut(got)})"
    msg = _JSON_WORDS.get(first["type"], first["msg"])
    return InputError(f"{where}: {msg[:200]}{shown}{more}; {hint}", status)


# pydantic's words for Python values, said as JSON: the body was JSON
_JSON_WORDS = {"dict_type": "Input should be an object", "model_type": "Input should be an object",
               "model_attributes_type": "Input should be an object", "list_type": "Input should be an array"}


def _cut(value: Any, at: int = 40) -> str:
    """repr of a scalar, cut to about `at` characters (an integer 10**400 has 401 digits)."""
    if isinstance(value, int) and value.bit_length() > 128:  # str() of a 5,000-digit int is itself an error
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1:,} digits"
    text = repr(value)
    return text if len(text) <= at else text[:at] + "..."


def _is_union_branch(part: Any) -> bool:
    """pydantic names the branch of a union it tried ('float', 'str', 'list[float]') in the error location."""
    return isinstance(part, str) and (part in ("float", "str", "int", "bool", "none") or "[" in part)


Scalar = Union[Number, str, None]  # a table cell: a number, a category, or null (missing)


def parse_values(model: type[BaseModel], values: Any, hint: str) -> dict[str, Any]:
    """Plain values (an uploaded text file's lines) -> the model's values, refused as parse refuses."""
    try:
        return model.model_validate(values).model_dump(by_alias=True)
    except ValidationError as e:
        raise refusal(e, hint) from None


def text_body(limits: Any) -> type[BaseModel]:
    """The text kind's body: {"text": "a sentence"} or {"texts": [...]}, each text and the count bounded."""
    text = bounded_text(limits)
    model = body_model("TextBody", 'One sentence as "text", or several as "texts".',
                       text=(text | None, None), texts=(bounded_list(text, limits, "max_texts", "texts") | None, None))
    model.model_config["json_schema_extra"] = {"anyOf": [{"required": ["text"]}, {"required": ["texts"]}]}
    model.model_rebuild(force=True)
    model.most_strings = (limits.max_texts + 3, "max_texts", limits.max_texts)  # + the keys and one "text" (serve)
    return model


def text_lines(files: list[tuple[str, bytes]], limits: Any) -> list[str]:
    """The non-blank lines of uploaded text files. A file that is not UTF-8 text (invalid UTF-8, or a NUL byte: an
    image, a PDF) is refused with 415; more than limits.max_texts lines are refused (413) from the bytes, by a regex
    scan in C that stops at the limit, before anything is split."""
    texts = []
    for name, data in files:
        where = data.find(b"\x00")
        try:
            if where < 0:
                texts.append(data.decode("utf-8-sig"))  # a byte-order mark is not part of the first line
                continue
        except UnicodeDecodeError as e:
            where = e.start
        raise InputError(f"{name} is not UTF-8 text (byte 0x{data[where]:02x} at offset {where:,}); send a text file "
                         "saved as UTF-8, one sentence per line", 415)
    found = 0
    for _, data in files:
        for _ in re.finditer(rb"[^\s][^\n]*", data):
            found += 1
            if found > limits.max_texts:
                raise InputError(f"the text files have more than {limits.max_texts:,} lines, over this server's limit "
                                 "of texts per request (corenets serve --max-texts)", 413)
    return [ln for text in texts for ln in text.splitlines() if ln.strip()]
