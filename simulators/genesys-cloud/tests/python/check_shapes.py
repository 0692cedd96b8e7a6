"""Checks simulator JSON against the official Genesys Cloud Python SDK models.

Usage: check_shapes.py SAMPLES.json

SAMPLES.json is a list of {"name": label, "model": SDK model name, "json": object}. Each object is
deserialized with the SDK (ApiClient()._ApiClient__deserialize) and walked field by field against
the model: a JSON key the model does not have is an invented field, a value the SDK turned into
"outdated_sdk_version" is an invented enum value, and a value that did not survive deserialization
is a type mismatch. `to_dict()` must succeed as well. Prints a JSON report; exit status 1 on any
problem.
"""

import json
import re
import sys

try:
    import PureCloudPlatformClientV2 as sdk
except ImportError:  # older package layout
    import purecloudplatformclientv2 as sdk

from datetime import datetime

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
PRIMITIVES = {"str", "int", "bool", "float", "object", "date", "datetime"}


def model_class(name):
    return getattr(sdk.models, name, None) or getattr(sdk, name, None)


def check(obj, value, type_str, path, problems):
    if value is None:
        return
    if type_str.startswith("list["):
        inner = type_str[5:-1]
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        if not isinstance(obj, list) or len(obj) != len(value):
            problems.append(f"{path}: list did not deserialize")
            return
        for i, (o, v) in enumerate(zip(obj, value)):
            check(o, v, inner, f"{path}[{i}]", problems)
        return
    if type_str.startswith("dict("):
        inner = type_str[type_str.index(",") + 1 : -1].strip()
        if not isinstance(value, dict) or not isinstance(obj, dict):
            problems.append(f"{path}: expected an object")
            return
        for k, v in value.items():
            check(obj.get(k), v, inner, f"{path}.{k}", problems)
        return
    if type_str in PRIMITIVES:
        if obj == "outdated_sdk_version":
            problems.append(f"{path}: value {value!r} is not an allowed enum value")
        elif type_str == "datetime":
            if not isinstance(obj, datetime):
                problems.append(f"{path}: {value!r} did not parse as a date-time")
            elif not ISO_MS.match(str(value)):
                problems.append(f"{path}: {value!r} is not ISO-8601 with millis and Z")
        elif type_str in ("str", "int", "bool", "float") and obj != value:
            problems.append(f"{path}: {value!r} deserialized as {obj!r}")
        return
    cls = model_class(type_str)
    if cls is None:
        problems.append(f"{path}: unknown model {type_str}")
        return
    if not isinstance(value, dict):
        problems.append(f"{path}: expected an object for {type_str}")
        return
    if obj is None:
        problems.append(f"{path}: {type_str} did not deserialize")
        return
    reverse = {json_key: attr for attr, json_key in obj.attribute_map.items()}
    for key, v in value.items():
        attr = reverse.get(key)
        if attr is None:
            problems.append(f"{path}.{key}: field not in {type_str}")
            continue
        check(getattr(obj, attr), v, obj.swagger_types[attr], f"{path}.{key}", problems)


def main():
    with open(sys.argv[1]) as f:
        samples = json.load(f)
    client = sdk.ApiClient()
    report = {"checked": 0, "problems": []}
    for s in samples:
        name, model, value = s["name"], s["model"], s["json"]
        problems = []
        try:
            obj = client._ApiClient__deserialize(value, model)
            obj.to_dict()
            check(obj, value, model, model, problems)
        except Exception as e:  # the SDK raises on hard failures
            problems.append(f"{model}: deserialization failed: {e!r}")
        report["checked"] += 1
        report["problems"].extend(f"[{name}] {p}" for p in problems)
    print(json.dumps(report, indent=1))
    sys.exit(1 if report["problems"] else 0)


if __name__ == "__main__":
    main()
