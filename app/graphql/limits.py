"""Limits on by default (depth, aliases, tokens), with parsed and validated documents cached.

One extension does both parse and validation so the cache key is the query text: the same text
parses to the same document and validates to the same errors, whoever sends it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse, specified_rules, validate
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

CACHE_SIZE = 512
Prepare = Callable[[GraphQLSchema, str], tuple[DocumentNode, list[GraphQLError]]]


def _rules(max_depth: int, max_aliases: int) -> tuple[Any, ...]:
    depth = QueryDepthLimiter(max_depth=max_depth).validation_rules
    aliases = MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules
    return (*specified_rules, MaybeNullValidationRule, OneOfInputValidationRule, *depth, *aliases)


class DocumentCache(SchemaExtension):
    """Parse with a token limit and validate with the limit rules, each at most once per text."""

    _prepare: Prepare

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.query:
            try:
                ec.graphql_document, errors = self._prepare(ec.schema._schema, ec.query)
                ec.pre_execution_errors = list(errors)
            except GraphQLError:
                ec.parse_options = {**ec.parse_options, "max_tokens": self.max_tokens}
        yield

    max_tokens: int = 0


def document_cache(max_depth: int, max_aliases: int, max_tokens: int) -> type[DocumentCache]:
    rules = _rules(max_depth, max_aliases)

    @lru_cache(maxsize=CACHE_SIZE)
    def prepare(schema: GraphQLSchema, query: str) -> tuple[DocumentNode, list[GraphQLError]]:
        document = parse(query, max_tokens=max_tokens)
        return document, validate(schema, document, rules)

    return type(
        "DocumentCache",
        (DocumentCache,),
        {"_prepare": staticmethod(prepare), "max_tokens": max_tokens},
    )


def schema_extensions(
    max_depth: int, max_aliases: int, max_tokens: int
) -> list[type[DocumentCache]]:
    return [document_cache(max_depth, max_aliases, max_tokens)]
