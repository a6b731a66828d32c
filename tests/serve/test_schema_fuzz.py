"""Schemathesis against /openapi.json, for every input kind's model: no 5xx, and every answer matches the schema.

Each run's POST /predict describes its own request bodies (the kind's pydantic model: JSON, and multipart files)
and its answers (serve/schema.py). Schemathesis generates bodies from that description, valid ones (positive)
and invalid ones (negative), calls the app in-process (ASGI, no network), and checks each answer: not a server
error, a status the schema lists, the content type it names, and a body that matches its schema. Bounded: a fixed
number of examples per operation and mode (EXAMPLES), no example database, no deadline.
"""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("fastapi", reason="serving needs the [serve] extra")
pytest.importorskip("multipart", reason="serving needs the [serve] extra (python-multipart)")
schemathesis = pytest.importorskip("schemathesis", reason="the schema fuzz needs the [dev] extra (schemathesis)")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis import checks as C  # noqa: E402
from tiny_runs import image_run, make_run, series_run, table_run, text_run  # noqa: E402

from corenets.serve import create_app  # noqa: E402

EXAMPLES = 40  # per operation and generation mode: about a second each on a small CPU
# the core routes; a route added through serve.app.EXTENSIONS joins once its schema states its bodies and answers
FUZZED = {"/predict", "/health", "/info"}
CHECKS = [C.not_a_server_error, C.status_code_conformance, C.content_type_conformance, C.response_schema_conformance]


def rows_run(root):
    from corenets.data.bundle import Preprocessing

    return make_run(root, "rows-mlp", "mlp", (3,), "regression", None, Preprocessing(), {"hidden": [4]})


KINDS = {"image": image_run, "text": text_run, "table": table_run, "series": series_run, "rows": rows_run}


@pytest.fixture(scope="module", params=sorted(KINDS))
def api(request, tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's TestClient prefers httpx2 (schemathesis calls through it)
        app = create_app(KINDS[request.param](tmp_path_factory.mktemp(request.param)), max_upload_mb=1)
        return request.param, schemathesis.openapi.from_asgi("/openapi.json", app)


def test_the_schema_describes_each_kinds_json_body(api):
    kind, schema = api
    body = schema.raw_schema["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in body  # every kind reads files: images, a CSV or a text file
    if kind == "image":
        assert "application/json" not in body
        return
    props = body["application/json"]["schema"]["properties"]
    key = {"text": "texts", "table": "rows", "series": "prices", "rows": "rows"}[kind]
    assert props[key]["anyOf" if kind == "text" else "type"] and "$ref" not in str(props)  # stands alone
    if kind == "table":
        assert set(props["rows"]["items"]["required"]) == {"age", "income", "city"}
    if kind == "series":
        assert props["prices"]["minItems"] == 10


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # numbers past float32, on purpose
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_server_errors_and_answers_that_match_the_schema(api, mode):
    kind, schema = api
    statuses: dict[str, set[int]] = {}
    for result in schema.get_all_operations():
        op = result.ok()
        if op.path not in FUZZED or mode is GenerationMode.NEGATIVE and op.method.upper() == "GET":
            continue  # a GET takes no input to get wrong

        @given(case=op.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def call(case):
            response = case.call()
            statuses.setdefault(f"{op.method} {op.path}", set()).add(response.status_code)
            case.validate_response(response, checks=CHECKS)

        call()
    assert "post /predict" in {k.lower() for k in statuses}
    assert all(code < 500 for codes in statuses.values() for code in codes), statuses
