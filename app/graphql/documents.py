"""Documents as the process prepares them: parsed with the token limit, measured against the
limits (app/graphql/limits.py), validated, each at most once per text while it stays in a
bounded cache (app/caches.py) shared by Strawberry's execution, the planner, the doors' checks
and `studentgraph persisted add`; and the size bound (GRAPHQL_MAX_DOCUMENT_BYTES) every door
applies before any of that: lexing is pure Python, a cost per character, comments and string
literals included (a megabyte of comments held the event loop 0.5-1.1 s).

A parse failure is remembered too (a document sent again is not lexed again). What a parsed
document holds is far more than its text: graphql-core keeps every token (comments included) in
a linked list that each node's location reaches, and a node or two per token. `document_bytes`
estimates it from the text and the tokens; the constants were measured with tracemalloc
(tests/graphql/test_documents.py checks the estimate stays above what is really held, and
within a small factor of it, for documents of many fields, aliases, comments and strings)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    NoSchemaIntrospectionCustomRule,
    TokenKind,
    parse,
    specified_rules,
    validate,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from app.caches import BoundedCache, text_bytes
from app.errors import DocumentTooLarge
from app.graphql.limits import Limits, Prepare, limit_errors, measure

MIB = 1024 * 1024
# What one token keeps alive once parsed (the token, and the nodes, names and locations made of
# it; measured at up to ~610 bytes for a document of bare fields), and one comment (the token
# and its text: ~270 for a 16-character line). Estimates run 1-2x what tracemalloc measures.
TOKEN_BYTES = 650
COMMENT_BYTES = 300
# One validation error (its message, nodes, source and locations: measured ~9.4 KB; validation
# stops at 100 of them).
ERROR_BYTES = 10 * 1024
DOCUMENTS: BoundedCache[Any, Any] = BoundedCache(
    "graphql_documents", max_entries=512, max_bytes=16 * MIB
)


def refuse_large_document(text: str, maximum: int, *, stored: bool = False) -> None:
    """`DocumentTooLarge` for a document of more than `maximum` bytes (UTF-8), checked before
    it is parsed or hashed: lexing costs CPU per character, comments and strings included."""
    if len(text) <= maximum // 4:
        return  # at most 4 bytes a character: no need to encode
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > maximum:
        raise DocumentTooLarge(size, maximum, stored=stored)


def document_bytes(query: str, document: DocumentNode) -> int:
    """Approximate bytes a parsed document keeps alive: its text (held by its source, and again
    in token values), and each token with the nodes made of it. Linear in the tokens."""
    comments = tokens = 0
    token = document.loc.start_token if document.loc else None
    while token is not None:
        if token.kind is TokenKind.COMMENT:
            comments += 1
        else:
            tokens += 1
        token = token.next
    return 2 * text_bytes(query) + TOKEN_BYTES * tokens + COMMENT_BYTES * comments


def _prepared_bytes(query: str, prepared: Any) -> int:
    if isinstance(prepared, GraphQLError):
        return 2 * text_bytes(query) + ERROR_BYTES
    document, errors = prepared
    return document_bytes(query, document) + ERROR_BYTES * len(errors)


class DocumentCache(SchemaExtension):
    """Parse with the token limit, check the limits, validate, each at most once per text."""

    _prepare: Prepare
    max_tokens: int = 0

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.query:
            try:
                ec.graphql_document, errors = self._prepare(ec.schema._schema, ec.query)
                ec.pre_execution_errors = list(errors)
            except GraphQLError:
                ec.parse_options = {**ec.parse_options, "max_tokens": self.max_tokens}
        yield


def _rules(limits: Limits) -> tuple[Any, ...]:
    rules: tuple[Any, ...] = (*specified_rules, MaybeNullValidationRule, OneOfInputValidationRule)
    if not limits.introspection:
        rules += (NoSchemaIntrospectionCustomRule,)
    return rules


def document_cache(limits: Limits) -> type[DocumentCache]:
    rules = _rules(limits)

    def prepared(schema: GraphQLSchema, query: str) -> Any:
        try:
            document = parse(query, max_tokens=limits.max_tokens)
        except GraphQLError as exc:
            return exc
        errors = limit_errors(measure(document), limits)
        if errors:
            return document, errors
        suggestions = not limits.suggestions
        return document, validate(schema, document, rules, hide_suggestions=suggestions)

    def prepare(schema: GraphQLSchema, query: str) -> tuple[DocumentNode, list[GraphQLError]]:
        key = (limits, schema, query)
        found = DOCUMENTS.get(key)
        if found is None:
            value = prepared(schema, query)
            found = DOCUMENTS.put(key, value, _prepared_bytes(query, value))
        if isinstance(found, GraphQLError):
            raise found.with_traceback(None)  # raised afresh: no traceback grows on it
        return found  # type: ignore[no-any-return]

    return type(
        "DocumentCache",
        (DocumentCache,),
        {"_prepare": staticmethod(prepare), "max_tokens": limits.max_tokens},
    )


def schema_extensions(limits: Limits) -> list[type[DocumentCache]]:
    return [document_cache(limits)]
