"""What an operation selects, as `Pick`s: fields collected exactly as graphql-core's executor
collects them (the GraphQL spec's CollectFields): `@skip`/`@include` applied, named and inline
fragments spread in place where their type condition matches, fields of one response key merged,
keys in the order of their first appearance."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_abstract_type,
    is_object_type,
    visit,
)
from graphql.execution import VariableValues, get_directive_values
from graphql.language import DirectiveNode, Visitor

from app.repositories.json_reads import Pick, Unplannable

Grouped = dict[str, list[FieldNode]]


@dataclass(frozen=True)
class Collector:
    """Collects fields for one operation under one set of variable values."""

    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: VariableValues

    def _included(self, node: Any) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include and include.get("if") is False)

    def _applies(self, condition: Any, runtime: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        wanted = self.schema.get_type(condition.name.value)
        if wanted is runtime:
            return True
        return is_abstract_type(wanted) and self.schema.is_sub_type(wanted, runtime)

    def collect(
        self, runtime: GraphQLObjectType, selection_sets: Iterable[SelectionSetNode]
    ) -> Grouped:
        grouped: Grouped = {}
        visited: set[str] = set()
        for selection_set in selection_sets:
            self._visit(runtime, selection_set, grouped, visited)
        return grouped

    def _visit(
        self,
        runtime: GraphQLObjectType,
        selection_set: SelectionSetNode,
        grouped: Grouped,
        visited: set[str],
    ) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if self._included(selection):
                    key = selection.alias.value if selection.alias else selection.name.value
                    grouped.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if self._included(selection) and self._applies(selection.type_condition, runtime):
                    self._visit(runtime, selection.selection_set, grouped, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in visited or not self._included(selection):
                    continue
                visited.add(name)
                fragment = self.fragments.get(name)
                if fragment is not None and self._applies(fragment.type_condition, runtime):
                    self._visit(runtime, fragment.selection_set, grouped, visited)

    def picks(self, parent: GraphQLObjectType, nodes: list[FieldNode]) -> tuple[Pick, ...]:
        """What `nodes` (one response key's fields, of type `parent`) pick of their object."""
        grouped = self.collect(parent, [n.selection_set for n in nodes if n.selection_set])
        return tuple(self._pick(parent, key, fields) for key, fields in grouped.items())

    def _pick(self, parent: GraphQLObjectType, key: str, fields: list[FieldNode]) -> Pick:
        name = fields[0].name.value
        if name == "__typename":
            return Pick(key, name)
        definition = parent.fields.get(name)
        if definition is None:
            raise Unplannable(f"{parent.name}.{name}")
        named = get_named_type(definition.type)
        if is_object_type(named):
            return Pick(key, name, self.picks(named, fields))
        if is_abstract_type(named):
            raise Unplannable(f"{parent.name}.{name} (abstract)")
        return Pick(key, name)


def directive_variables(
    operation: OperationDefinitionNode, fragments: Iterable[Any]
) -> tuple[str, ...]:
    """Variables that `@skip`/`@include` read: their values change what is selected."""
    names: set[str] = set()

    class Directives(Visitor):
        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            if node.name.value in ("skip", "include"):
                for argument in node.arguments or ():
                    if isinstance(argument.value, VariableNode):
                        names.add(argument.value.name.value)

    for definition in (operation, *fragments):
        visit(definition, Directives())
    return tuple(sorted(names))
