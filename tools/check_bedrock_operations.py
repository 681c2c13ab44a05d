#!/usr/bin/env python3
"""Compare regionguard/data/bedrock_runtime_operations.json with botocore's Bedrock Runtime model.

Every operation of the installed botocore's ``bedrock-runtime`` service model
must have one row, with the same request line; a row without an operation is
stale. For an operation without a row, the script prints what the model's
documentation says about permissions ("This operation requires permission
for the ... action"), to be checked on the operation's API reference page
and written into a row by hand. Exit 0 when every operation has its row,
1 otherwise.

Usage: .venv/bin/python tools/check_bedrock_operations.py
"""

from __future__ import annotations

import json
import re
import sys
from importlib import resources

import botocore.session

DATA = "bedrock_runtime_operations.json"
_TAG = re.compile(r"<[^>]+>")
_PERMISSION = re.compile(r"[^.]*requires? permissions? [^.]*\.")


def main() -> int:
    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    rows = json.loads(resources.files("regionguard.data").joinpath(DATA).read_text("utf-8"))
    by_name = {row["operation"]: row for row in rows["operations"]}
    problems = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        line = f"{http['method']} {http['requestUri']}"
        row = by_name.pop(name, None)
        if row is None:
            doc = " ".join(_TAG.sub(" ", model.operation_model(name).documentation).split())
            said = " ".join(m.strip() for m in _PERMISSION.findall(doc)) or "(no permission named)"
            problems.append(f"{name} ({line}) has no row; its documentation says: {said}")
        elif row["http"] != line:
            problems.append(
                f"{name}: the row's request line {row['http']!r} is {line!r} in botocore"
            )
    problems.extend(f"{name}: a row for an operation botocore does not have" for name in by_name)
    version = model.api_version
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print(f"{len(model.operation_names)} operations of bedrock-runtime {version} have their rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
