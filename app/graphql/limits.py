"""Limits on by default, each costing time linear in the document: tokens (while parsing), depth,
aliases, repeats of one response key, and cost (connections weighted by `first`). Documents are
parsed, checked against these and validated once per text by app/graphql/documents.py.

Depth and aliases mean what Strawberry's `QueryDepthLimiter` and `MaxAliasesLimiter` meant (a
fragment counts each time it is spread), but a fragment is measured once and its measure reused,
so a document of fragments that spread each other twice costs what it weighs, not 2^n. A response
key selected many times in one selection set is refused before validation: graphql-core's
OverlappingFieldsCanBeMerged compares such fields pairwise. Every limit is checked before
graphql-core validates the document, so a hostile document costs no validation at all.

Cost is computed in app/graphql/costs.py.

What this and app/graphql/documents.py lean on beyond Strawberry's and graphql-core's documented
API, and why (each is checked by tests/graphql/test_library_internals.py, which fails loudly on
an upgrade that changes it): Strawberry's two validation rules of its own
(`MaybeNullValidationRule`, `OneOfInputValidationRule`, which its `validate_document` adds to
the specified rules: we validate ourselves, with `hide_suggestions`, so we add them too);
`strawberry.Schema._schema`, the graphql-core schema a Strawberry schema wraps (no public
accessor exists); and the extension's `execution_context` fields `query`, `graphql_document`,
`pre_execution_errors` and `parse_options`, which is how a `SchemaExtension` replaces parsing
and validation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
)

from app.config import Settings

CACHE_SIZE = 512
MIB = 1024 * 1024
PAGE_DEFAULT = 20  # a connection's page when neither is given (app.graphql.schema)
GRAPHQL_INT_MAX = 2**31 - 1  # a larger `first` is not an Int: coercing it reports that
Prepare = Callable[[GraphQLSchema, str], tuple[DocumentNode, list[GraphQLError]]]


@dataclass(frozen=True)
class Limits:
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    max_cost: int = 25000
    max_repeats: int = 10  # one response key in one selection set
    introspection: bool = True
    suggestions: bool = True


def limits_from(settings: Settings) -> Limits:
    """The settings' limits; production also hides introspection (unless
    GRAPHQL_INTROSPECTION=true) and "Did you mean ...?" suggestions."""
    production = settings.environment == "production"
    introspection = settings.graphql_introspection
    # One keyword a setting.
    return Limits(
        max_depth=settings.graphql_max_depth,
        max_aliases=settings.graphql_max_aliases,
        max_tokens=settings.graphql_max_tokens,
        max_cost=settings.graphql_max_cost,
        max_repeats=settings.graphql_max_repeats,
        introspection=not production if introspection is None else introspection,
        suggestions=not production,
    )


@dataclass
class Measure:
    """What a document weighs, found in one pass (fragments measured once)."""

    depths: dict[str, int] = field(default_factory=dict)  # operation name -> depth
    aliases: int = 0
    repeats: tuple[str, int] = ("", 0)  # the most repeated response key, and how often
    visited: int = 0  # selections looked at: linear in the document (tests assert it)


class _Walk:
    def __init__(self, document: DocumentNode) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.measure = Measure()
        self._memo: dict[str, tuple[int, int, dict[str, int]]] = {}

    def selections(self, node: Any) -> tuple[int, int, dict[str, int]]:
        """(depth, aliases, response keys of this level with fragments inlined) of a selection
        set; deeper levels record their own repeats."""
        depth, aliases = 0, 0
        keys: dict[str, int] = {}
        for selection in node.selection_set.selections:
            self.measure.visited += 1
            if isinstance(selection, FieldNode):
                key = (selection.alias or selection.name).value
                keys[key] = keys.get(key, 0) + 1
                aliases += 1 if selection.alias else 0
                if selection.selection_set is not None:
                    inner, inner_aliases, inner_keys = self.selections(selection)
                    self._note(inner_keys)
                    aliases += inner_aliases
                    if not selection.name.value.startswith("__"):
                        depth = max(depth, 1 + inner)
            else:
                inner, inner_aliases, inner_keys = self._fragment(selection)
                depth, aliases = max(depth, inner), aliases + inner_aliases
                for key, count in inner_keys.items():
                    keys[key] = keys.get(key, 0) + count
        return depth, aliases, keys

    def _fragment(self, node: Any) -> tuple[int, int, dict[str, int]]:
        if isinstance(node, InlineFragmentNode):
            return self.selections(node)
        assert isinstance(node, FragmentSpreadNode)
        name = node.name.value
        if name not in self._memo:
            fragment = self.fragments.get(name)
            self._memo[name] = (0, 0, {})  # a cycle counts nothing (validation reports it)
            if fragment is not None:
                self._memo[name] = self.selections(fragment)
        return self._memo[name]

    def _note(self, keys: dict[str, int]) -> None:
        for key, count in keys.items():
            if count > self.measure.repeats[1]:
                self.measure.repeats = (key, count)


def measure(document: DocumentNode) -> Measure:
    walk = _Walk(document)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            depth, aliases, keys = walk.selections(definition)
            walk._note(keys)
            name = definition.name.value if definition.name else "anonymous"
            walk.measure.depths[name] = depth
            walk.measure.aliases += aliases
    return walk.measure


def limit_errors(found: Measure, limits: Limits) -> list[GraphQLError]:
    errors = [
        GraphQLError(f"'{name}' exceeds maximum operation depth of {limits.max_depth}")
        for name, depth in found.depths.items()
        if depth > limits.max_depth
    ]
    if found.aliases > limits.max_aliases:
        errors.append(GraphQLError(f"{found.aliases} aliases found. Allowed: {limits.max_aliases}"))
    key, count = found.repeats
    if count > limits.max_repeats:
        errors.append(
            GraphQLError(
                f"'{key}' is selected {count} times in one selection set. "
                f"Allowed: {limits.max_repeats}"
            )
        )
    return errors


def operation_of(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    """The operation a request runs, chosen as graphql-core chooses it (None: a request error)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == name), None)


def prepared_operation(
    prepare: Prepare, schema: GraphQLSchema, query: str, operation_name: str | None
) -> tuple[DocumentNode, OperationDefinitionNode | None] | None:
    """The prepared (parsed, limited, validated) document and the operation a request names
    (None when it names none); None when the document has errors of its own."""
    try:
        document, errors = prepare(schema, query)
    except GraphQLError:
        return None
    if errors:
        return None
    return document, operation_of(document, operation_name)
