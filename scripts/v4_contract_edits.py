"""The edits that make the converted TMF621 v4.0.0 contract the one the v4 root serves.

``python3 scripts/v4_contract_edits.py CONVERTED SERVED`` reads swagger2openapi's output and writes
the served file; ``edited`` is what the tests compare the committed files with. Each edit is listed,
with its reason, in openapi/README.md ("The v4 contract").
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml

JSON_TYPE = "application/json;charset=utf-8"
MERGE_PATCH = "application/merge-patch+json"
EXTENSION = "Extension (not TMF621): "
LISTENERS = (
    "troubleTicketCreateEvent",
    "troubleTicketAttributeValueChangeEvent",
    "troubleTicketStatusChangeEvent",
    "troubleTicketDeleteEvent",
    "troubleTicketResolvedEvent",
    "troubleTicketInformationRequiredEvent",
)
ERROR = {"$ref": "#/components/schemas/Error"}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON_TYPE: {"schema": ERROR}}}


def edited(converted: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(converted)
    paths = spec["paths"]
    # 1. the server's root, as for v5: a real default instead of the placeholder
    spec["servers"] = [
        {
            "url": "{apiRoot}/tmf-api/troubleTicket/v4",
            "variables": {"apiRoot": {"default": "http://localhost:8080"}},
        }
    ]
    # 2. request bodies: JSON without a required charset parameter; a PATCH also as JSON Merge
    # Patch (the semantics v4's "partial update" has)
    for operations in paths.values():
        for operation in operations.values():
            body = operation.get("requestBody")
            if body is None:
                continue
            content = body["content"]
            content["application/json"] = content.pop(JSON_TYPE)
            if operation["operationId"] == "patchTroubleTicket":
                content[MERGE_PATCH] = copy.deepcopy(content["application/json"])
            # 3. bodies beyond TT_MAX_BODY_BYTES (413) and other media types (415)
            operation["responses"]["413"] = {"$ref": "#/components/responses/413"}
            operation["responses"]["415"] = {"$ref": "#/components/responses/415"}
    spec["components"]["responses"] = {
        "413": _error_response("Request Entity Too Large"),
        "415": _error_response("Unsupported Media Type"),
    }
    # 4. a listener's 201 carries no body (the official EventSubscription there is an artifact)
    for name in LISTENERS:
        created = paths[f"/listener/{name}"]["post"]["responses"]["201"]
        created.pop("content", None)
    # 5. a hub may be given a secret: its deliveries are then signed (Standard Webhooks)
    subscription = spec["components"]["schemas"]["EventSubscriptionInput"]
    subscription["properties"]["secret"] = {
        "type": "string",
        "writeOnly": True,
        "description": EXTENSION
        + "a Standard Webhooks secret (whsec_ and base64, or 24 to 64 bytes of text); "
        "every delivery to this hub is then signed (webhook-id, webhook-timestamp, "
        "webhook-signature). Never returned.",
    }
    return spec


def main(converted_path: str, served_path: str) -> None:
    converted = yaml.safe_load(Path(converted_path).read_text(encoding="utf-8"))
    served = edited(converted)
    text = yaml.safe_dump(served, sort_keys=False, allow_unicode=True, width=100)
    Path(served_path).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
