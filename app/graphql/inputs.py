"""Variables checked against the operation's declared types before graphql-core coerces them, in
one pass linear in their size (issue 19): graphql-core renders the whole value again for each
problem it finds, so a variable holding an input object of 10,000 unknown keys (about 100 KB)
held the event loop 13.9 s, and it coerces every item of a list however long.

Refused, naming the first problem's place (`$filter.not.netid.in[1000]`): a key that is not a
field of its input type (so never more keys than fields), input objects nested deeper than
MAX_INPUT_DEPTH, a list longer than MAX_LIST_ITEMS, a list or object where a built-in scalar
or an enum is expected, and a federation representation (`_Any`) of more fields than
MAX_REPRESENTATION_FIELDS. Anything else (a wrong scalar, a missing required field) is left to
graphql-core, which reports it in time linear in the value. Literal arguments need no such pass:
the token limit bounds them, and validation reports each problem without rendering the whole."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    get_nullable_type,
    specified_scalar_types,
    type_from_ast,
)

from app.errors import Invalid, Problem

# The longest list the schema takes is an `in` filter's (app/graphql/types/filters.py,
# MAX_IN_VALUES); `setDplans` takes at most 100 D-plans, which its service checks first.
MAX_LIST_ITEMS = 1000
# Input objects within input objects: a filter's `not` may nest (`{not: {not: {netid: ...}}}`).
MAX_INPUT_DEPTH = 10
# Federation's `_Any` (GRAPHQL_FEDERATION), a scalar that takes an object: a representation of
# an entity, its `__typename` and its key (app/graphql/federation.py checks the rest).
REPRESENTATION = "_Any"
MAX_REPRESENTATION_FIELDS = 2


def check_variables(
    schema: GraphQLSchema, operation: OperationDefinitionNode, variables: Mapping[str, Any]
) -> None:
    """`Invalid` (BAD_USER_INPUT) naming the first variable value that breaks a rule above."""
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        declared = type_from_ast(schema, definition.type)
        if name in variables and declared is not None:
            _walk(declared, variables[name], f"${name}", 0)  # type: ignore[arg-type]


def _refuse(path: str, what: str) -> Invalid:
    return Invalid(f"variable {path} {what}", [Problem(path, what)])


def _walk(declared: GraphQLInputType, value: Any, path: str, depth: int) -> None:
    kind = get_nullable_type(declared)
    if value is None:
        return
    if isinstance(kind, GraphQLList):
        if not isinstance(value, list):
            _walk(kind.of_type, value, path, depth)  # one value stands for a list of it
            return
        if len(value) > MAX_LIST_ITEMS:
            raise _refuse(path, f"has {len(value)} items; at most {MAX_LIST_ITEMS} are taken")
        for index, item in enumerate(value):
            _walk(kind.of_type, item, f"{path}[{index}]", depth)
    elif isinstance(kind, GraphQLInputObjectType):
        _input_object(kind, value, path, depth)
    elif getattr(kind, "name", None) == REPRESENTATION:
        _representation(value, path)
    elif _is_plain(kind) and isinstance(value, list | dict):
        shape = "a list" if isinstance(value, list) else "an object"
        raise _refuse(path, f"is {shape} where a {kind.name} is expected")


def _input_object(kind: GraphQLInputObjectType, value: Any, path: str, depth: int) -> None:
    if not isinstance(value, dict):
        return  # graphql-core names it
    if depth >= MAX_INPUT_DEPTH:
        raise _refuse(path, f"nests input objects deeper than {MAX_INPUT_DEPTH}")
    fields = kind.fields
    if len(value) > len(fields):
        raise _refuse(path, f"has {len(value)} keys; {kind.name} has {len(fields)} fields")
    for key, item in value.items():
        field = fields.get(key)
        if field is None:
            raise _refuse(f"{path}.{key}"[:200], f"is not a field of {kind.name}")
        _walk(field.type, item, f"{path}.{key}", depth + 1)


def _representation(value: Any, path: str) -> None:
    if isinstance(value, dict) and len(value) > MAX_REPRESENTATION_FIELDS:
        what = f"has {len(value)} fields; a representation has `__typename` and its key"
        raise _refuse(path, what)


def _is_plain(kind: Any) -> bool:
    """A type whose values are never lists or objects: an enum or a built-in scalar (a custom
    scalar, such as JSON, may take either)."""
    if isinstance(kind, GraphQLEnumType):
        return True
    return isinstance(kind, GraphQLScalarType) and kind.name in specified_scalar_types
