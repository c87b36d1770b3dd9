"""What a cached document is said to hold (app/graphql/documents.py: document_bytes) against
what it really holds (tracemalloc): never less, and within a small factor, for documents of
bare fields, aliased arguments, comments, strings and fragments; and a tree of picks likewise.
The caches' byte bounds are only as good as these estimates."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from graphql import parse

from app.caches import text_bytes
from app.graphql.documents import document_bytes
from app.repositories.json_reads.objects import Pick, picks_bytes

SHAPES = {
    "bare fields": "{ " + " ".join(f"f{i}" for i in range(4900)) + " }",
    "aliased fields with arguments": "{ "
    + " ".join(f'a{i}: student(netid: "f{i:06d}") {{ netid }}' for i in range(600))
    + " }",
    "comments": "{ a }\n" + "# a comment line\n" * 4000,
    "one long string": '{ a(x: "' + "y" * 60_000 + '") }',
    "a block string": '{ a(x: """' + "y\n" * 30_000 + '""") }',
    "fragments": " ".join(
        f"fragment F{i} on Student {{ netid firstName plans {{ planId name }} }}"
        for i in range(300)
    ),
    "variables and directives": "query Q("
    + " ".join(f"$b{i}: Boolean!" for i in range(400))
    + ") { "
    + " ".join(f"f{i}: netid @include(if: $b{i})" for i in range(400))
    + " }",
}


def _held(make: Callable[[], Any]) -> tuple[Any, int]:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        made = make()
        gc.collect()
        return made, tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("shape", SHAPES)
def test_a_documents_estimate_covers_what_it_holds(shape):
    query = SHAPES[shape]
    document, held = _held(lambda: parse(query))
    held += text_bytes(query)  # the cache's key: the text itself
    estimate = document_bytes(query, document)
    assert held <= estimate <= 4 * held, (shape, held, estimate)


def test_a_trees_estimate_covers_its_picks():
    names = [f"field{i}" for i in range(20)]

    def tree() -> tuple[Pick, ...]:  # as the planner's Collector builds them: none shared
        def level(depth: int) -> tuple[Pick, ...]:
            return tuple(Pick(n, n, level(depth - 1) if depth else ()) for n in names)

        return level(2)

    picks, held = _held(tree)
    estimate = picks_bytes(picks)
    assert held <= estimate <= 2 * held, (held, estimate)
