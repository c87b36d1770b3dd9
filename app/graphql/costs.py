"""The requested cost of an operation, before anything runs: what it could return, and what it
could make the service store.

Cost (the *requested* cost, before anything runs) is what an operation could return:
* a field of object type: 1 + the cost of its selection;
* a list of objects the schema does not bound: `LIST_SIZE` x (1 + the cost of an item);
* a connection (`students`, `plans`): its page size x (1 + the cost of its selection), its
  `edges` counted once (the size: `first` or `last`, the argument or a variable's value, the
  larger when both are given, else `PAGE_DEFAULT`); + `COUNT_COST` for each `totalCount` it
  selects, + 1 for each value its `filter` lists (`in: [...]`): a count may disclose up to k
  students, and those its filter names (app.domain.disclosures);
* `_entities` (GRAPHQL_FEDERATION): as many objects as it is given references, each 1 + the
  cost of its selection (the representations listed in the argument or a variable's value);
* a mutation field that accepts a task (`setDplans`): what the task stores, 10 per D-plan it
  carries (`app.domain.dplans.task_cost`), + the cost of its selection;
* scalars, enums and `__typename`: 0; fragments count each time they are spread.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
    value_from_ast_untyped,
    visit,
)
from graphql.language import Visitor
from graphql.type import SchemaMetaFieldDef, TypeMetaFieldDef

from app.caches import BoundedCache, text_bytes
from app.domain.dplans import task_cost
from app.graphql.limits import CACHE_SIZE, GRAPHQL_INT_MAX, MIB, PAGE_DEFAULT

NAME_BYTES = 100  # a variable's name in a tuple
LIST_SIZE = 10  # what an unbounded list of objects counts as
PAGE_SIZE_ARGUMENTS = ("first", "last")
# A connection's `totalCount` costs this (DISCLOSURE_COUNT_THRESHOLD, k, by default): a count
# may disclose up to k students (app.domain.disclosures), each at least 1 as a row shown is.
COUNT_FIELD = "totalCount"
COUNT_COST = 5
FILTER_ARGUMENT = "filter"
MAX_FILTER_DEPTH = 32  # deeper filters are refused by the input checks before this runs
# Mutation fields that accept a task, costed by the D-plans they carry (`task_cost`).
TASK_FIELDS = frozenset({"setDplans"})
TASK_ARGUMENT = "dplans"
# A subgraph's `Query._entities` (app/graphql/federation.py), costed by its references.
ENTITIES_FIELD = "_entities"
ENTITIES_ARGUMENT = "representations"
# Costs are reported at most this (JSON's largest safe integer): a product of page sizes can
# exceed what a 64-bit integer, orjson or a JavaScript client holds.
COST_CEILING = 2**53 - 1


class _Cost:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any],
        count_cost: int = COUNT_COST,
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.count_cost = count_cost
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self._memo: dict[str, int] = {}

    def of(self, node: Any, parent: Any) -> int:
        total = 0
        for selection in node.selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                kind = self.schema.get_type(condition.name.value) if condition else parent
                total += self.of(selection, kind)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._spread(selection.name.value)
        return total

    def _spread(self, name: str) -> int:
        if name not in self._memo:
            self._memo[name] = 0  # a cycle counts nothing (validation reports it)
            fragment = self.fragments.get(name)
            if fragment is not None:
                kind = self.schema.get_type(fragment.type_condition.name.value)
                self._memo[name] = self.of(fragment, kind)
        return self._memo[name]

    def _definition(self, node: FieldNode, parent: Any) -> Any:
        name = node.name.value
        if name == "__schema":
            return SchemaMetaFieldDef
        if name == "__type":
            return TypeMetaFieldDef
        fields = getattr(parent, "fields", None)
        return fields.get(name) if fields else None

    def _field(self, node: FieldNode, parent: Any) -> int:
        definition = self._definition(node, parent)
        if definition is None or node.selection_set is None:
            return 0  # a scalar, or a field validation will refuse
        if node.name.value in TASK_FIELDS and getattr(parent, "name", "") == "Mutation":
            return self._task(node) + self.of(node, get_named_type(definition.type))
        named = get_named_type(definition.type)
        inner = 1 + self.of(node, named)
        if node.name.value == ENTITIES_FIELD and getattr(parent, "name", "") == "Query":
            return self._references(node) * inner
        if named.name.endswith("Connection") and "first" in definition.args:
            page = self._first(node, definition) * inner
            counts = self.count_cost * self._selected(node, named, COUNT_FIELD)
            return page + counts + self._filter_values(node)
        in_connection = getattr(parent, "name", "").endswith("Connection")
        if is_list_type(get_nullable_type(definition.type)) and not in_connection:
            return LIST_SIZE * inner
        return inner

    def _selected(
        self, node: Any, parent: Any, name: str, seen: frozenset[str] = frozenset()
    ) -> int:
        """How many times `node`'s own selection (fragments included, not nested fields) selects
        the field `name`."""
        times = 0
        for selection in node.selection_set.selections:
            if isinstance(selection, FieldNode):
                times += selection.name.value == name
            elif isinstance(selection, InlineFragmentNode):
                times += self._selected(selection, parent, name, seen)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    inner = seen | {selection.name.value}
                    times += self._selected(fragment, parent, name, inner)
        return times

    def _filter_values(self, node: FieldNode) -> int:
        """The values a connection's `filter` lists (`in: [...]`), each counted 1: a count whose
        filter names n students may disclose them all (app.domain.disclosures)."""
        for argument in node.arguments or ():
            if argument.name.value == FILTER_ARGUMENT:
                value = argument.value
                if isinstance(value, VariableNode):
                    return _list_items(self.variables.get(value.name.value))
                return _listed_in_literal(value, self.variables)
        return 0

    def _references(self, node: FieldNode) -> int:
        """How many representations `_entities` is given (a single one stands for a list of
        one, as GraphQL coerces it)."""
        for argument in node.arguments or ():
            if argument.name.value != ENTITIES_ARGUMENT:
                continue
            value = argument.value
            if isinstance(value, ListValueNode):
                return len(value.values)
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
                return len(given) if isinstance(given, list) else 1
        return 1

    def _task(self, node: FieldNode) -> int:
        """A field that accepts a task costs what the task stores (`task_cost`): its D-plans,
        counted in the argument as written or in the variable's value."""
        entries: Any = None
        for argument in node.arguments or ():
            if argument.name.value != TASK_ARGUMENT:
                continue
            if isinstance(argument.value, ListValueNode):
                entries = argument.value.values
            elif isinstance(argument.value, VariableNode):
                entries = self.variables.get(argument.value.name.value)
        return task_cost(list(entries) if isinstance(entries, list | tuple) else entries)

    def _first(self, node: FieldNode, definition: Any) -> int:
        sizes = []
        for argument in node.arguments or ():
            if argument.name.value not in PAGE_SIZE_ARGUMENTS:
                continue
            value: Any = None
            if isinstance(argument.value, IntValueNode):
                value = int(argument.value.value)
            elif isinstance(argument.value, VariableNode):
                value = self.variables.get(argument.value.name.value)
            if isinstance(value, int) and not isinstance(value, bool) and value <= GRAPHQL_INT_MAX:
                sizes.append(max(0, value))
        return max(sizes) if sizes else PAGE_DEFAULT


def cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any],
    count_cost: int = COUNT_COST,
) -> int:
    root = schema.get_root_type(operation.operation)
    defaults = {
        d.variable.name.value: value_from_ast_untyped(d.default_value)
        for d in operation.variable_definitions or ()
        if d.default_value is not None
    }
    costed = _Cost(schema, document, {**defaults, **variables}, count_cost)
    return min(costed.of(operation, root), COST_CEILING)


def _first_variables(document: DocumentNode) -> tuple[str, ...]:
    """Variables given as a `first` or `last` argument, as a task's D-plans or `_entities`'
    references, or anywhere in a `filter`: the only ones a cost depends on."""
    names: set[str] = set()
    arguments = (*PAGE_SIZE_ARGUMENTS, TASK_ARGUMENT, ENTITIES_ARGUMENT)

    class Firsts(Visitor):
        def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
            if node.name.value in arguments and isinstance(node.value, VariableNode):
                names.add(node.value.name.value)
            elif node.name.value == FILTER_ARGUMENT:
                visit(node.value, InFilter())

    class InFilter(Visitor):
        def enter_variable(self, node: VariableNode, *_: Any) -> None:
            names.add(node.name.value)

    visit(document, Firsts())
    return tuple(sorted(names))


def _list_items(value: Any, depth: int = 0) -> int:
    """Items of every list inside a variable's value (bounded by the input checks before)."""
    if depth > MAX_FILTER_DEPTH:
        return 0
    if isinstance(value, list):
        return len(value) + sum(_list_items(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return sum(_list_items(v, depth + 1) for v in value.values())
    return 0


def _listed_in_literal(node: Any, variables: Mapping[str, Any], depth: int = 0) -> int:
    """`_list_items` of a literal input value, whose parts may be variables."""
    if depth > MAX_FILTER_DEPTH:
        return 0
    if isinstance(node, VariableNode):
        return _list_items(variables.get(node.name.value), depth)
    if isinstance(node, ListValueNode):
        inner = sum(_listed_in_literal(v, variables, depth + 1) for v in node.values)
        return len(node.values) + inner
    if isinstance(node, ObjectValueNode):
        return sum(_listed_in_literal(f.value, variables, depth + 1) for f in node.fields)
    return 0


def _cost_input(value: Any) -> str:
    """What a cost reads of a variable's value: a page size, or how long a list is (D-plans,
    references) and how many items its lists hold (a filter's values)."""
    if isinstance(value, list):
        return f"[{len(value)} {_list_items(value)}]"
    return f"{{{_list_items(value)}}}" if isinstance(value, dict) else repr(value)


class Costs:
    """Requested costs, remembered per (query, operation, values of its `first` variables)."""

    def __init__(self, schema: GraphQLSchema, count_cost: int = COUNT_COST) -> None:
        self.schema = schema
        self.count_cost = count_cost
        self._firsts: BoundedCache[str, tuple[str, ...]] = BoundedCache(
            "graphql_cost_variables", max_entries=CACHE_SIZE, max_bytes=4 * MIB
        )
        self._costs: BoundedCache[tuple[Any, ...], int] = BoundedCache(
            "graphql_costs", max_entries=2 * CACHE_SIZE, max_bytes=4 * MIB
        )

    def of(
        self,
        query: str,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
    ) -> int:
        firsts = self._firsts.get(query)
        if firsts is None:
            firsts = _first_variables(document)
            self._firsts.put(query, firsts, text_bytes(query) + NAME_BYTES * len(firsts))
        name = operation.name.value if operation.name else None
        key = (query, name, *(_cost_input(variables.get(n)) for n in firsts))
        found = self._costs.get(key)
        if found is None:
            found = cost(self.schema, document, operation, variables, self.count_cost)
            size = sum(text_bytes(part) for part in key if isinstance(part, str))
            self._costs.put(key, found, size)
        return found  # type: ignore[no-any-return]
