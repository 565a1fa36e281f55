"""The OpenAPI description is served, and stays true: every route described, every described
path served by the handler and methods it names, Status exactly the fields its record (wire.py) gives,
and what the server answers fits the schemas (here and in test_fuzz.py)."""

from __future__ import annotations

import json
import re

import jsonschema
import msgspec
import pytest

from jupyter_fujita import handlers
from jupyter_fujita.handlers import OPENAPI, NotFoundHandler
from jupyter_fujita.supervisor import Supervisor

API = ("fujita", "api")
SPEC = json.loads(OPENAPI.read_text())
METHODS = ("get", "post", "delete", "put", "patch")
EXAMPLE_PARAMETERS = {"name": "django", "action": "migrate"}


def validator(schema: dict) -> jsonschema.Draft202012Validator:
    """A validator for a schema of the description; its `$ref`s resolve within SPEC."""
    return jsonschema.Draft202012Validator({**schema, "components": SPEC["components"]})


def route_of(path: str) -> type:
    """The handler class the server's routing gives a path under fujita/api."""
    for pattern, handler in handlers.handlers():
        if re.fullmatch(pattern, "fujita/api" + path):
            return handler
    raise AssertionError(f"no route for {path}")


def implemented_methods(handler: type) -> set[str]:
    return {m for m in METHODS if getattr(handler, m) is not getattr(NotFoundHandler, m)}


def test_the_description_is_openapi_3_1_and_its_references_resolve():
    assert SPEC["openapi"].startswith("3.1.")
    refs = re.findall(r'"\$ref": "#/components/schemas/(\w+)"', OPENAPI.read_text())
    assert refs and set(refs) <= set(SPEC["components"]["schemas"])
    for schema in SPEC["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_every_described_path_is_served_with_the_methods_it_names():
    for path, operations in SPEC["paths"].items():
        concrete = re.sub(r"\{(\w+)\}", lambda m: EXAMPLE_PARAMETERS[m[1]], path)
        handler = route_of(concrete)
        assert handler is not NotFoundHandler, path
        assert set(operations) == implemented_methods(handler), path


def test_every_route_is_described():
    described = {
        route_of(re.sub(r"\{(\w+)\}", lambda m: EXAMPLE_PARAMETERS[m[1]], p)) for p in SPEC["paths"]
    }
    for _, handler in handlers.handlers():
        assert handler is NotFoundHandler or handler in described, handler.__name__


def test_status_has_exactly_the_described_fields(tmp_path):
    from jupyter_fujita.project import DjangoProject
    from jupyter_fujita.replay import ReplayCache

    supervisor = Supervisor("django", DjangoProject(tmp_path), ReplayCache())
    status = msgspec.to_builtins(supervisor.status())
    schema = SPEC["components"]["schemas"]["Status"]
    assert set(status) == set(schema["properties"]) == set(schema["required"])
    validator(schema).validate(status)


@pytest.fixture
def jp_server_config(django_port):
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_fujita": True}},
        "Fujita": {"address": f"127.0.0.1:{django_port}", "stop_timeout": 3.0},
    }


async def test_the_description_is_served_and_what_the_server_answers_fits_it(jp_fetch):
    served = await jp_fetch(*API, "openapi.json")
    assert json.loads(served.body) == SPEC
    for parts, schema in [
        (("processes",), SPEC["paths"]["/processes"]["get"]),
        (("processes", "django"), SPEC["paths"]["/processes/{name}"]["get"]),
        (("processes", "django", "log"), SPEC["paths"]["/processes/{name}/log"]["get"]),
    ]:
        answer = json.loads((await jp_fetch(*API, *parts)).body)
        validator(schema["responses"]["200"]["content"]["application/json"]["schema"]).validate(
            answer
        )
    stopped = await jp_fetch(*API, "processes", "all", "stop", method="POST", body=b"")
    schema = SPEC["paths"]["/processes/all/stop"]["post"]["responses"]["200"]["content"]
    validator(schema["application/json"]["schema"]).validate(json.loads(stopped.body))
