"""The Zipkin v2 span schema the interop tests validate against (zipkin2-span.schema.json, beside
this file), so that the suite runs from a clone with nothing next to it.

Both the collector in support.py and check_encoder_fixtures.py load it from here: one schema, one
loader. ZIPKIN_SPEC may point at another JSON Schema draft 4 file (for example a newer one).
"""
import json
import os

import jsonschema

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zipkin2-span.schema.json")


def schema_path() -> str:
    return os.environ.get("ZIPKIN_SPEC") or SCHEMA_PATH


def list_of_spans_validator(path: str = "") -> jsonschema.Draft4Validator:
    with open(path or schema_path()) as f:
        schema = json.load(f)
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
