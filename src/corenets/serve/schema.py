"""The OpenAPI description of POST /predict: its request bodies (the input kind's own body model) and answers.

The route reads the raw request itself (so the body limit, the multipart limits and the pixel checks come before
any parsing); this module only describes it, precisely enough for Schemathesis to fuzz it from /openapi.json
(tests/serve/test_schema_fuzz.py): every body it may send, every status it may get, and each answer's shape.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field


class Refusal(BaseModel):
    """Every refusal (4xx) and every unexpected failure (500)."""

    model_config = ConfigDict(extra="forbid")
    error: str = Field(description="what was wrong and how to fix it, in one line")


class ClassProbability(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    class_: str = Field(alias="class")
    probability: float = Field(ge=0, le=1)


class Classified(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str
    top_k: list[ClassProbability]
    probabilities: list[float] = Field(description="one per class, in the order of `classes`")
    input: Optional[str] = Field(None, description="the uploaded file's name (file uploads)")


class Valued(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: float = Field(description="in the user's units (a forecast: a price)")
    input: Optional[str] = None


class Answer(BaseModel):
    """One prediction per input, in the order sent."""

    model_config = ConfigDict(extra="forbid")
    task: Literal["binary", "multiclass", "regression"]
    classes: Optional[list[str]] = Field(None, description="classifiers only")
    predictions: Union[list[Classified], list[Valued]]


STATUSES = {400: "the body is not valid JSON, or is nested too deeply",
            413: "the body, an image, or a count (texts, rows, prices, pixels) is over a server limit",
            415: "a content type or a file this model does not read",
            422: "the content does not fit the model (missing columns, empty text, non-numbers, ...)",
            500: "a bug: the server goes on serving"}


def responses() -> dict[int | str, dict[str, Any]]:
    """The `responses` of POST /predict."""
    out: dict[int | str, dict[str, Any]] = {200: {"model": Answer, "description": "the predictions"}}
    out.update({code: {"model": Refusal, "description": why} for code, why in STATUSES.items()})
    return out


def request_body(body_model: type[BaseModel] | None, files_doc: str) -> dict[str, Any]:
    """The requestBody of POST /predict: JSON as the kind's body model says, and/or multipart files in field `file`."""
    content: dict[str, Any] = {}
    if body_model is not None:
        content["application/json"] = {"schema": _inlined(body_model.model_json_schema())}
    content["multipart/form-data"] = {"schema": {  # every kind reads files: images, a CSV, or a text file
        "type": "object", "required": ["file"], "description": files_doc,
        "properties": {"file": {"type": "array", "minItems": 1, "items": {"type": "string", "format": "binary"}}}}}
    return {"required": True, "content": content}


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its $defs written in place of each reference (a table row's model), so it stands alone
    inside the OpenAPI document, where "#/$defs/..." would point at the document's root."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)
