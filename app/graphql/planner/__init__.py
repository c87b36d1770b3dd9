"""Planned reads: a query whose every root field the planner knows is answered by one SQL
statement returning the JSON of its `data` (`app.repositories.json_reads`), spliced into the
response unparsed, with no field completed by graphql-core.

Anything else returns None and runs through Strawberry's resolvers and the dataloaders, which stay
the general engine: mutations, `task`, introspection, abstract fields, and any operation that would
report an error (bad variables, FORBIDDEN, BAD_USER_INPUT), so every error is the resolvers' own.
What an operation selects is worked out once per document, operation and `@skip`/`@include`
variable values, for at most `MAX_SELECTIONS` combinations of those values per operation (past
them, an operation's selection is worked out anew each time: 30 Boolean variables make a
billion combinations, and a client sending random ones once grew the process 200 KB a request);
the operations in a bounded cache (app/caches.py); the statement once per shape of its arguments
(`json_reads` caches it)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    get_named_type,
)
from graphql.execution import VariableValues, get_argument_values, get_variable_values
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry import relay

from app.auth import Principal
from app.caches import BoundedCache, text_bytes
from app.domain.disclosures import Recipient
from app.errors import DatabaseUnavailable, DomainError, StatementTimeout
from app.graphql.documents import document_bytes
from app.graphql.limits import PAGE_DEFAULT, Prepare, prepared_operation
from app.graphql.planner.selection import Collector, directive_variables
from app.graphql.types.connections import decode_cursor
from app.graphql.types.filters import (
    conditions_of_value,
)
from app.replicas import Replicas
from app.repositories.json_reads import Pick, RootQuery, Unplannable, picks_bytes
from app.services import json_reads as json_reads_service
from app.services.plans import parse_plan_id

PLANNED_ROOTS = frozenset(
    {"student", "students", "plan", "plans", "node", "sisTerms", "dplanCodes", "dplanSources"}
)
NODE_KINDS = {"Student": "student", "AcademicPlan": "plan"}
# Connection arguments and filter operators the planner leaves to the resolvers: a document
# that uses one is answered by them (the planned statement keeps one order and one direction).
RESOLVERS_ONLY_ARGUMENTS = ("orderBy", "last", "before")
RESOLVERS_ONLY_FILTERS = frozenset({"not", "isNull"})
CACHE_ENTRIES = 512
CACHE_BYTES = 16 * 1024 * 1024
MAX_SELECTIONS = 8  # combinations of directive-variable values remembered per operation
# What a root field keeps alive besides its picks and the document's nodes (counted with the
# document).
ROOT_BYTES = 600
log = logging.getLogger(__name__)


class Fallback(Exception):
    """Answer this operation through the resolvers."""


@dataclass
class _Root:
    key: str
    name: str
    nodes: list[FieldNode]
    definition: GraphQLField
    picks: tuple[Pick, ...]
    by_type: dict[str, tuple[Pick, ...]] = field(default_factory=dict)  # node: per runtime type
    remembered: bool = False  # held by its operation (in the planner's cache)


@dataclass
class _Operation:
    """One operation of one document: what it selects, per value of its directive variables
    (at most MAX_SELECTIONS of them), and the approximate bytes all of it holds."""

    key: tuple[str, str | None]
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    directive_variables: tuple[str, ...]
    size: int  # its document, and each selection remembered
    roots: dict[tuple[Any, ...], list[_Root] | None] = field(default_factory=dict)


def _roots_bytes(roots: list[_Root] | None) -> int:
    return sum(ROOT_BYTES + picks_bytes(r.picks) for r in roots or ())


class Planner:
    def __init__(self, schema: GraphQLSchema, prepare: Prepare, max_page_size: int) -> None:
        self.schema = schema
        self.prepare = prepare
        self.max_page_size = max_page_size
        self._operations: BoundedCache[tuple[str, str | None], _Operation | None] = BoundedCache(
            "graphql_planner", max_entries=CACHE_ENTRIES, max_bytes=CACHE_BYTES
        )
        self.answered = 0  # how many operations it answered (tests check it did)

    async def data(
        self,
        engine: AsyncEngine,
        principal: Principal,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        now: datetime,
        recipient: Recipient | None = None,
        replicas: Replicas | None = None,
    ) -> str | None:
        """The JSON text of `data`, or None when the resolvers must answer. What it shows is
        recorded as disclosed to `recipient` by the same statement."""
        try:
            queries = self._queries(query, variables or {}, operation_name)
            text = await json_reads_service.data_json(
                engine,
                principal,
                queries,
                now=now,
                max_page_size=self.max_page_size,
                recipient=recipient,
                replicas=replicas,
            )
        except (StatementTimeout, DatabaseUnavailable):
            raise  # the resolvers would meet the same
        except (Fallback, Unplannable, DomainError, GraphQLError):
            return None
        except Exception:
            # Never an error of its own: the resolvers answer, and report what they meet. The
            # operation is not planned again (SQLite's parser, for one, has a nesting limit that
            # a deep enough selection reaches).
            log.warning("planned read failed; answered by the resolvers", exc_info=True)
            key = (query, operation_name)
            self._operations.put(key, None, text_bytes(query))
            return None
        self.answered += 1
        return text

    def _queries(
        self, query: str, raw: dict[str, Any], operation_name: str | None
    ) -> list[RootQuery]:
        operation = self._operation(query, operation_name)
        values = get_variable_values(
            self.schema, operation.operation.variable_definitions or (), raw
        )
        if not isinstance(values, VariableValues):
            raise Fallback  # the resolvers report each variable's error
        roots = self._roots(operation, values)
        return [self._query(operation, root, values) for root in roots]

    def _operation(self, query: str, operation_name: str | None) -> _Operation:
        key = (query, operation_name)
        found = self._operations.get(key, False)
        if found is False:
            found = self._read_operation(key)
            size = found.size if found is not None else text_bytes(query)
            self._operations.put(key, found, size)
        if found is None:
            raise Fallback
        return found  # type: ignore[no-any-return]

    def _read_operation(self, key: tuple[str, str | None]) -> _Operation | None:
        query, operation_name = key
        prepared = prepared_operation(self.prepare, self.schema, query, operation_name)
        if prepared is None:
            return None
        document, chosen = prepared
        if chosen is None or chosen.operation is not OperationType.QUERY:
            return None
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        variables = directive_variables(chosen, fragments.values())
        # Its nodes keep the whole document alive, whether or not the document cache does.
        return _Operation(key, chosen, fragments, variables, document_bytes(query, document))

    def _roots(self, operation: _Operation, values: VariableValues) -> list[_Root]:
        key = tuple(values.coerced.get(n) for n in operation.directive_variables)
        if key in operation.roots:
            roots = operation.roots[key]
        else:
            try:
                roots = self._collect_roots(operation, values)
            except Unplannable:
                roots = None
            if len(operation.roots) < MAX_SELECTIONS:  # past them: worked out each time
                operation.roots[key] = roots
                for root in roots or ():
                    root.remembered = True
                self._grew(operation, _roots_bytes(roots))
        if roots is None:
            raise Fallback
        return roots

    def _grew(self, operation: _Operation, added: int) -> None:
        """An operation remembered one more thing: the cache is told its new size."""
        operation.size += added
        self._operations.put(operation.key, operation, operation.size)

    def _collect_roots(self, operation: _Operation, values: VariableValues) -> list[_Root]:
        query_type = self.schema.query_type
        assert query_type is not None
        collector = Collector(self.schema, operation.fragments, values)
        roots = []
        for key, nodes in collector.collect(
            query_type, [operation.operation.selection_set]
        ).items():
            name = nodes[0].name.value
            if name == "__typename":
                roots.append(_Root(key, name, nodes, None, ()))  # type: ignore[arg-type]
                continue
            if name not in PLANNED_ROOTS:
                raise Unplannable(f"Query.{name}")
            definition = query_type.fields[name]
            picks = () if name == "node" else collector.picks(_object_of(definition), nodes)
            roots.append(_Root(key, name, nodes, definition, picks))
        return roots

    def _query(self, operation: _Operation, root: _Root, values: VariableValues) -> RootQuery:
        if root.name == "__typename":
            return RootQuery(root.key, "__typename")
        args = get_argument_values(root.definition, root.nodes[0], values)
        name = root.name
        if name == "student":
            return RootQuery(root.key, "student", root.picks, {"netid": args["netid"]})
        if name == "plan":
            return RootQuery(root.key, "plan", root.picks, {"id": parse_plan_id(args["id"])})
        if name in ("students", "plans"):
            return RootQuery(root.key, name, root.picks, _connection_args(name, args))
        if name == "sisTerms":
            conditions = conditions_of_value(args.get("filter"))
            return RootQuery(root.key, name, root.picks, {"conditions": conditions})
        if name == "node":
            return self._node(operation, root, args["id"], values)
        return RootQuery(root.key, name, root.picks)

    def _node(
        self, operation: _Operation, root: _Root, node_id: str, values: VariableValues
    ) -> RootQuery:
        try:
            global_id = relay.GlobalID.from_id(node_id)
        except relay.GlobalIDValueError as exc:
            raise Fallback from exc  # the resolver names the bad id
        if not global_id.node_id.isprintable():
            raise Fallback
        kind = NODE_KINDS.get(global_id.type_name)
        if kind is None:
            if global_id.type_name == "Task":
                raise Fallback
            return RootQuery(root.key, "null")
        picks = root.by_type.get(global_id.type_name)
        if picks is None:
            runtime = self.schema.get_type(global_id.type_name)
            assert isinstance(runtime, GraphQLObjectType)
            collector = Collector(self.schema, operation.fragments, values)
            picks = root.by_type[global_id.type_name] = collector.picks(runtime, root.nodes)
            if root.remembered:  # once per node type (two)
                self._grew(operation, picks_bytes(picks))
        if kind == "student":
            return RootQuery(root.key, kind, picks, {"netid": global_id.node_id})
        return RootQuery(root.key, kind, picks, {"id": parse_plan_id(global_id.node_id)})


def _object_of(definition: GraphQLField) -> GraphQLObjectType:
    named = get_named_type(definition.type)
    if not isinstance(named, GraphQLObjectType):
        raise Unplannable(str(named))
    return named


def _resolvers_only(args: Mapping[str, Any]) -> bool:
    filter_value = args.get("filter") or {}
    operators = {op for sub in filter_value.values() for op in (sub or {})}
    return any(args.get(name) is not None for name in RESOLVERS_ONLY_ARGUMENTS) or bool(
        RESOLVERS_ONLY_FILTERS & (filter_value.keys() | operators)
    )


def _connection_args(name: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """`Query.students`/`plans` arguments as the services take them (see app.graphql.schema)."""
    if _resolvers_only(args):
        raise Fallback
    cursor = args.get("after")
    after_key = decode_cursor("student" if name == "students" else "plan", cursor)
    if name == "plans":
        after: Any = parse_plan_id(after_key) if after_key else None
        conditions = conditions_of_value(args.get("filter"))
    else:
        after, conditions = after_key, conditions_of_value(args.get("filter"))
    return {
        "conditions": conditions,
        "first": PAGE_DEFAULT if args.get("first") is None else args["first"],
        "after": after,
        "has_previous": cursor is not None,
    }
