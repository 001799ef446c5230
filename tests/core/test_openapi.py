"""The OpenAPI document is valid, the docs page works without internet, and every documented
endpoint is exercised with a real request whose answer matches the documented schema.

Adding an endpoint means adding a row to CALLS below: the test fails until it is there."""

import importlib
import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from dangjian.core import services
from tests.members.calls_members import MEMBER_CALLS

API = "/api/v1"
PUBLIC = f"{API}/public/"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def spec_document(client=None):
    response = (client or Client()).get(f"{API}/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    return response.json()


def operations(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield method, path, op


def schema_validator(spec, schema):
    """A JSON Schema validator for `schema`, resolving #/components/... against the document."""
    root = dict(schema) | {"components": spec.get("components", {})}
    if spec["openapi"].startswith("3.1"):
        return Draft202012Validator(root)
    from openapi_schema_validator import OAS30Validator

    return OAS30Validator(root)


def assert_valid(spec, schema, instance, what):
    errors = sorted(schema_validator(spec, schema).iter_errors(instance), key=str)
    assert not errors, f"{what} does not match its documented schema: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
    )


# The document --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_openapi_document_is_valid_and_public():
    spec = spec_document()  # no token needed
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] and spec["info"]["version"]
    assert spec["components"]["securitySchemes"]["TokenAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }
    assert all(path.startswith(f"{API}/") for path in spec["paths"])


@pytest.mark.django_db
def test_every_operation_is_described_and_errors_are_documented():
    spec = spec_document()
    ids = []
    for method, path, op in operations(spec):
        where = f"{method.upper()} {path}"
        ids.append(op["operationId"])
        assert op.get("summary"), f"{where} has no summary"
        assert op.get("tags"), f"{where} has no tag"
        responses = op["responses"]
        # Under /public/ (the public desk, no account): no token, so no 401 or 403; limited
        # per address instead (429). Every other operation needs a token.
        public = path.startswith(PUBLIC)
        if public:
            assert not op.get("security"), f"{where} is public: it takes no token"
            assert "401" not in responses and "403" not in responses, where
        else:
            assert op.get("security") == [{"TokenAuth": []}], f"{where} is not token-protected"
        assert any(code.startswith("2") for code in responses), f"{where}: no 2xx answer"
        expected = {"429"} if public else {"401"}
        if "{" in path:
            expected |= {"404", "422"}
        if op.get("parameters") or "requestBody" in op:
            expected.add("422")
        for code in sorted(expected):
            assert code in responses, f"{where} does not document {code}"
        if method != "get":
            for code in ("400", "409") if public else ("400", "403", "404", "409"):
                assert code in responses, f"{where} does not document {code}"
        for code, answer in responses.items():
            if code.startswith(("4", "5")):
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (where, code)
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    error = spec["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message"}
    assert {"code", "message", "field"} <= set(error["properties"])


@pytest.mark.django_db
def test_documented_error_answers_match_the_error_schema(people, tree):
    spec = spec_document()
    error = {"$ref": "#/components/schemas/Error"}
    _token, secret = services.create_api_token(actor=people["bob"], name="t", days=1)
    bob = Client(headers={"Authorization": f"Bearer {secret}"})
    answers = {
        "401": Client().get(f"{API}/me"),
        "404": bob.get(f"{API}/orgs/{tree['branch_a'].pk}"),
        "422": bob.post(f"{API}/orgs", {"code": "x"}, content_type="application/json"),
        "409": bob.post(
            f"{API}/orgs",
            {"parent_id": tree["branch_b"].pk, "code": "B01", "name": "x", "kind": "group"},
            content_type="application/json",
        ),
    }
    for status, response in answers.items():
        assert str(response.status_code) == status, (status, response.content)
        assert_valid(spec, error, response.json(), f"the {status} answer")


# The docs page -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_docs_page_loads_nothing_from_the_internet():
    response = Client().get(f"{API}/docs")
    assert response.status_code == 200
    html = response.content.decode()
    for needle in ("cdn.", "unpkg", "jsdelivr", "cdnjs", "googleapis", "http://", "https://"):
        assert needle not in html, f"the docs page refers to {needle}"
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert asset.startswith("/static/"), asset
        found = finders.find(asset.removeprefix("/static/"))
        assert found, f"{asset} is not among the static files"
        if asset.endswith(".js"):
            with open(found, encoding="utf-8") as fh:
                text = fh.read()
            for needle in ("unpkg.com", "cdn.jsdelivr", "cdnjs."):
                assert needle not in text, f"{asset} loads from {needle}"
    settings_json = re.search(
        r'<script type="application/json" id="swagger-settings">(.*?)</script>', html, re.S
    )
    assert settings_json, "swagger settings block not found"
    swagger = json.loads(settings_json.group(1))
    assert swagger["url"] == f"{API}/openapi.json"
    # Swagger UI's validator badge calls validator.swagger.io: switched off.
    assert swagger.get("validatorUrl", "missing") is None


# Every documented endpoint, for real ---------------------------------------------------------


def _general_branch(ctx):
    if "general_branch" not in ctx:
        ctx["general_branch"] = services.create_organization(
            actor=ctx["admin"],
            parent=ctx["tree"]["town"],
            code="Z01",
            name="城关镇机关党总支",
            kind="general_branch",
        )
    return ctx["general_branch"]


# (method, path) -> function(ctx) giving {"path": {...}, "query": {...}, "body": {...}}.
# Each call must succeed (2xx) when made by oscar, org admin of the town committee.
CALLS = {
    ("get", f"{API}/orgs"): lambda ctx: {
        "query": {
            "root": ctx["tree"]["town"].pk,
            "kind": "branch",
            "status": "active",
            "q": "街",
            "page": 1,
            "page_size": 10,
        }
    },
    ("post", f"{API}/orgs"): lambda ctx: {
        "body": {
            "parent_id": ctx["tree"]["town"].pk,
            "code": "B30",
            "name": "南街社区党支部",
            "kind": "branch",
            "short_name": "南街",
            "unit_type": "community",
            "established_on": "2001-07-01",
            "contact_person": "赵",
            "contact_phone": "0571-1234567",
            "display_order": 2,
        }
    },
    ("get", f"{API}/orgs/{{org_id}}"): lambda ctx: {"path": {"org_id": ctx["tree"]["branch_a"].pk}},
    ("patch", f"{API}/orgs/{{org_id}}"): lambda ctx: {
        "path": {"org_id": ctx["tree"]["branch_a"].pk},
        "body": {"name": "东街社区第一党支部", "contact_phone": "110"},
    },
    ("post", f"{API}/orgs/{{org_id}}/move"): lambda ctx: {
        "path": {"org_id": ctx["tree"]["branch_b"].pk},
        "body": {"parent_id": _general_branch(ctx).pk},
    },
    ("post", f"{API}/orgs/{{org_id}}/dissolve"): lambda ctx: {
        "path": {"org_id": ctx["tree"]["group_a"].pk},
        "body": {"on": "2024-01-31"},
    },
    ("get", f"{API}/me"): lambda ctx: {},
}


def _calls_of(module: str, name: str) -> dict:
    """The CALLS rows another app keeps in its own file; a file not written yet gives none (a
    broken one fails)."""
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return {}
    return getattr(found, name)


CALLS |= MEMBER_CALLS
CALLS |= _calls_of("tests.members.calls_imports", "IMPORT_CALLS")
CALLS |= _calls_of("tests.members.calls_exports", "EXPORT_CALLS")
CALLS |= _calls_of("tests.committees.calls_committees", "COMMITTEE_CALLS")
CALLS |= _calls_of("tests.transfers.calls_transfers", "TRANSFER_CALLS")
CALLS |= _calls_of("tests.dues.calls_dues", "DUES_CALLS")
CALLS |= _calls_of("tests.feedback.calls_feedback", "FEEDBACK_CALLS")
CALLS |= _calls_of("tests.meetings.calls_meetings", "MEETING_CALLS")


def _response_schema(op, status):
    answer = op["responses"].get(str(status))
    assert answer is not None, f"status {status} is not documented"
    return answer["content"]["application/json"]["schema"]


@pytest.mark.django_db
def test_every_documented_endpoint_is_exercised(people, tree, admin):
    spec = spec_document()
    documented = {(method, path) for method, path, _op in operations(spec)}
    missing = sorted(documented - set(CALLS))
    stale = sorted(set(CALLS) - documented)
    assert not missing, (
        f"documented endpoints with no row in CALLS of {__file__}: {missing}; add a call that "
        "succeeds for oscar"
    )
    assert not stale, f"rows in CALLS for endpoints that are not documented: {stale}"

    _token, secret = services.create_api_token(actor=people["oscar"], name="openapi", days=1)
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    ctx = {"tree": tree, "admin": admin, "people": people}
    for method, path, op in operations(spec):
        where = f"{method.upper()} {path} ({op['operationId']})"
        call = CALLS[(method, path)](ctx)
        path_values = call.get("path", {})
        query = call.get("query", {})
        body = call.get("body")

        # The call uses only documented parameters and gives every required one.
        params = {(p["in"], p["name"]): p for p in op.get("parameters", [])}
        for (where_in, name), param in params.items():
            if param.get("required"):
                given = path_values if where_in == "path" else query
                assert name in given, f"{where}: required {where_in} parameter {name} not given"
        for name in path_values:
            assert ("path", name) in params, f"{where}: {name} is not a documented path parameter"
        for name, value in query.items():
            assert ("query", name) in params, f"{where}: {name} is not a documented query param"
            assert_valid(spec, params[("query", name)]["schema"], value, f"{where} query {name}")
        # Uploads are multipart/form-data: their rows give "form" and "files" instead of "body".
        form, files = call.get("form"), call.get("files")
        content = op.get("requestBody", {}).get("content", {})
        if "multipart/form-data" in content:
            assert body is None, f"{where} takes multipart/form-data: give form and files"
            schema = content["multipart/form-data"]["schema"]
            ref = schema.get("$ref", "")
            if ref.startswith("#/components/schemas/"):
                schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
            given = {**(form or {}), **(files or {})}
            for name in schema.get("required", []):
                assert name in given, f"{where}: required form field {name} not given"
            for name in given:
                assert name in schema.get("properties", {}), f"{where}: {name} is not documented"
        elif "requestBody" in op:
            assert form is None and files is None, f"{where} takes no multipart body"
            if op["requestBody"].get("required"):
                assert body is not None, f"{where}: the request body is required"
            body_schema = content["application/json"]["schema"]
            assert_valid(spec, body_schema, body or {}, f"{where} request body")
        else:
            assert body is None and form is None and files is None, (
                f"{where} documents no request body"
            )

        url = path
        for name, value in path_values.items():
            url = url.replace("{" + name + "}", str(value))
        assert "{" not in url, f"{where}: path parameters left in {url}"
        if method == "get":
            response = client.get(url, query)
        elif form is not None or files is not None:
            response = getattr(client, method)(
                url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""),
                {**(form or {}), **(files or {})},
            )
        else:
            response = getattr(client, method)(
                url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""),
                json.dumps(body or {}),
                content_type="application/json",
            )
        assert 200 <= response.status_code < 300, (where, response.status_code, response.content)
        assert str(response.status_code) in op["responses"], (
            f"{where} answered {response.status_code}, which is not documented"
        )
        assert_valid(
            spec, _response_schema(op, response.status_code), response.json(), f"{where} answer"
        )
        if method == "get" and path.endswith(("/orgs", "/members")):
            assert response.json()["count"] >= 1, f"{where}: the call should find something"
