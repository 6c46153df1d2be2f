"""The request path's shortcuts change nothing but the time taken."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from connexion.json_schema import Draft4RequestValidator
from jsonschema import Draft4Validator, ValidationError

from troubleticket.api.compiled import validator_for
from troubleticket.api.encoding import FastJsonifier
from troubleticket.api.offload import read
from troubleticket.store.mongo import MongoStore
from troubleticket.store.sqlite import SqliteStore


def thread_of(inline: bool) -> int:
    async def run() -> int:
        return await read(threading.get_ident, inline=inline)

    return asyncio.run(run())


def test_an_inline_read_runs_on_the_event_loop_and_any_other_in_a_worker_thread() -> None:
    assert thread_of(inline=True) == threading.get_ident()
    assert thread_of(inline=False) != threading.get_ident()


def test_only_the_in_process_store_reads_inline() -> None:
    assert SqliteStore.inline_reads is True
    assert MongoStore.inline_reads is False


DOCS = [
    {"id": "1", "note": [{"text": 'Störung ☎️ \u2028 "quoted"'}], "n": 1.5, "ok": True},
    {"big": 10**30, "neg": -(10**25), "nested": [[{"x": None}]]},
    [],
    "text",
]


@pytest.mark.parametrize("doc", DOCS, ids=["unicode", "beyond 64 bits", "empty list", "string"])
def test_responses_encode_to_the_same_json_as_the_standard_library(doc: object) -> None:
    encoded = FastJsonifier().dumps(doc)
    assert encoded.endswith(b"\n")
    assert json.loads(encoded) == doc  # integers beyond 64 bits included, exactly


SCHEMA = {
    "type": "object",
    "properties": {"limit": {"type": "integer", "minimum": 0}, "at": {"format": "date-time"}},
    "required": ["limit"],
}


def test_a_schema_gets_one_validator_built_once_per_class() -> None:
    first = validator_for(SCHEMA)
    assert validator_for(SCHEMA) is first
    assert validator_for(dict(SCHEMA)) is not first  # another schema object: its own
    assert validator_for(SCHEMA, Draft4RequestValidator) is not first


@pytest.mark.parametrize(
    "value",
    [{"limit": 3}, {"limit": -1}, {"limit": "3"}, {}, {"limit": 1, "at": "yesterday"}],
)
def test_a_kept_validator_gives_the_verdict_and_message_of_a_fresh_one(value: object) -> None:
    fresh = Draft4Validator(SCHEMA, format_checker=Draft4Validator.FORMAT_CHECKER)

    def verdict(validator: object) -> str | None:
        try:
            validator.validate(value)  # type: ignore[attr-defined]
        except ValidationError as exc:
            return exc.message
        return None

    assert verdict(validator_for(SCHEMA)) == verdict(fresh)
