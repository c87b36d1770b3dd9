"""Random read documents over the schema, for the differential test of the two read engines:
aliases, repeated (merged) fields, named and inline fragments, `@skip`/`@include` with literals
and variables, variables for arguments, deep nesting, filters, paging cursors, global ids (of
students, plans, tasks, nothing), hidden students and ids that name nothing; and, in about one
connection in five, the arguments the planner declines (`orderBy`, `last`/`before`,
`not`/`isNull`), so the resolvers' answers to them are compared too."""

from __future__ import annotations

import base64
import itertools
import random
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema, get_named_type, is_object_type

from tests.graphql.planner_world import World

UNPLANNED_ROOTS = ("task", "__schema", "__type")


def global_id(type_name: str, key: object) -> str:
    return base64.b64encode(f"{type_name}:{key}".encode()).decode()


def cursor(kind: str, key: object) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode()


@dataclass
class _Doc:
    variables: dict[str, Any] = field(default_factory=dict)
    definitions: dict[str, str] = field(default_factory=dict)  # name -> GraphQL type
    fragments: list[str] = field(default_factory=list)
    names: itertools.count[int] = field(default_factory=itertools.count)

    def variable(self, type_: str, value: Any) -> str:
        name = f"v{next(self.names)}"
        self.definitions[name] = type_
        self.variables[name] = value
        return f"${name}"


class DocumentGenerator:
    def __init__(self, schema: GraphQLSchema, world: World, seed: int) -> None:
        self.schema = schema
        self.world = world
        self.rng = random.Random(seed)

    def document(self) -> tuple[str, dict[str, Any]]:
        doc = _Doc()
        roots = [self._root(doc) for _ in range(self.rng.choice((1, 1, 1, 2, 3)))]
        header = ""
        if doc.definitions:
            header = "query Q(" + ", ".join(f"${n}: {t}" for n, t in doc.definitions.items()) + ")"
        text = header + "{ " + " ".join(roots) + " }" + "".join(doc.fragments)
        return text, doc.variables

    # --- arguments ------------------------------------------------------------------------------

    def _value(self, doc: _Doc, type_: str, value: Any, literal: str) -> str:
        return doc.variable(type_, value) if self.rng.random() < 0.4 else literal

    def _netid(self) -> str:
        w = self.world
        return self.rng.choice([*w.netids, *w.hidden, "nobody", "w0000%9"])

    def _plan_id(self) -> str:
        w = self.world
        return str(self.rng.choice([*w.plan_ids, *w.hidden_plan_ids, "abc", 99999999]))

    def _filter(self, kind: str) -> str | None:
        r = self.rng
        options = {
            "students": [
                '{netid: {startsWith: "w0000"}}',
                '{netid: {in: ["w000001", "w000007", "nobody"]}}',
                '{name: {startsWith: "hid"}}',
                "{classYear: {gte: 2019, lt: 2030}}",
                "{classYear: {in: []}}",
                '{schoolCode: {eq: "UG"}, netid: {startsWith: "w0000%"}}',
            ],
            "plans": [
                '{studentNetid: {eq: "w000001"}}',
                '{studentNetid: {in: ["w000007", "w000004"]}}',
                '{department: {startsWith: "EC"}}',
                '{type: {eq: "Modified"}, state: {in: ["declared"]}}',
            ],
            "sisTerms": [
                "{currentTermOffset: {gte: -2, lte: 1}}",
                "{currentTermOffset: {in: [0, -1, -4]}}",
                "{year: {eq: 2019}}",
                "{year: {in: [2018]}, currentTermOffset: {lt: 0}}",
            ],
        }[kind]
        return r.choice(options) if r.random() < 0.6 else None

    def _connection_args(self, doc: _Doc, kind: str) -> str:
        r = self.rng
        args = []
        first = r.choice([0, 1, 2, 3, 5, 100, 20, 101] if r.random() < 0.1 else [1, 2, 3, 5])
        if r.random() < 0.8:
            args.append(f"first: {self._value(doc, 'Int!', first, str(first))}")
        if r.random() < 0.4:
            if kind == "students":
                after = cursor("student", r.choice([*self.world.netids, "w000000", "zzz"]))
            else:
                after = cursor("plan", r.choice([*self.world.plan_ids, 0, "x1"]))
            after = r.choice([after, after, after, "garbage", cursor("other", 1)])
            args.append(
                f"after: {self._value(doc, 'String', after, f'{after!r}')}".replace("'", '"')
            )
        found = self._filter(kind)
        if found:
            args.append(f"filter: {found}")
        if r.random() < 0.2:  # arguments the planner leaves to the resolvers
            args = self._resolvers_only(doc, kind, args)
        return f"({', '.join(args)})" if args else ""

    def _resolvers_only(self, doc: _Doc, kind: str, args: list[str]) -> list[str]:
        """`orderBy`, `last`/`before` and `not`/`isNull` filters, for both engines to answer
        alike (the planner declines them; then both answers come from the resolvers)."""
        r = self.rng
        orders = {
            "students": ["NETID_ASC", "NETID_DESC", "LAST_NAME_ASC", "LAST_NAME_DESC"],
            "plans": ["ID_ASC", "ID_DESC", "STUDENT_NETID_ASC", "STUDENT_NETID_DESC"],
        }[kind]
        filters = {
            "students": [
                "{schoolCode: {isNull: true}}",
                '{classYear: {isNull: false}, not: {netid: {startsWith: "w00000"}}}',
                '{not: {name: {startsWith: "hid"}}}',
                "{not: {not: {classYear: {gte: 2019}}}}",
            ],
            "plans": ["{department: {isNull: true}}", '{not: {type: {eq: "Modified"}}}'],
        }[kind]
        roll = r.random()
        if roll < 0.35:
            args = [a for a in args if not a.startswith("first")]
            last = r.choice([0, 1, 2, 5])
            args.append(f"last: {self._value(doc, 'Int', last, str(last))}")
            if r.random() < 0.5:
                key = r.choice(self.world.netids if kind == "students" else self.world.plan_ids)
                before = cursor("student" if kind == "students" else "plan", key)
                args.append(f'before: "{before}"')
        elif roll < 0.7:
            args.append(f"orderBy: {r.choice(orders)}")
        else:
            args = [a for a in args if not a.startswith("filter")]
            args.append(f"filter: {r.choice(filters)}")
        return args

    # --- fields ---------------------------------------------------------------------------------

    def _root(self, doc: _Doc) -> str:
        r = self.rng
        query_type = self.schema.query_type
        assert query_type is not None
        name = r.choice(
            ["student", "student", "students", "students", "plan", "plans", "node", "node"]
            + ["sisTerms", "dplanCodes", "dplanSources", "__typename"]
            + (["task"] if r.random() < 0.05 else [])
        )
        alias = f"r{next(doc.names)}: " if r.random() < 0.5 else ""
        if name == "__typename":
            return alias + name
        if name == "task":
            return f'{alias}task(id: "{"0" * 24}") {{ taskId }}'
        if name == "student":
            netid = self._netid()
            args = f"(netid: {self._value(doc, 'String!', netid, f'{chr(34)}{netid}{chr(34)}')})"
        elif name == "plan":
            plan_id = self._plan_id()
            args = f"(id: {self._value(doc, 'String!', plan_id, f'{chr(34)}{plan_id}{chr(34)}')})"
        elif name in ("students", "plans"):
            args = self._connection_args(doc, name)
        elif name == "node":
            node_id = r.choice(
                [global_id("Student", n) for n in self.world.netids[:3] + self.world.hidden]
                + [global_id("AcademicPlan", p) for p in self.world.plan_ids[:3]]
                + [global_id("AcademicPlan", self.world.hidden_plan_ids[0])]
                + [global_id("Task", "0" * 24), global_id("Nope", 1), "not-an-id"]
            )
            args = f"(id: {self._value(doc, 'ID!', node_id, f'{chr(34)}{node_id}{chr(34)}')})"
            return f"{alias}node{args} {{ {self._node_selection(doc)} }}"
        elif name == "sisTerms":
            found = self._filter("sisTerms")
            args = f"(filter: {found})" if found else ""
        else:
            args = ""
        type_ = get_named_type(query_type.fields[name].type)
        assert isinstance(type_, GraphQLObjectType)
        return f"{alias}{name}{args} {{ {self._selection(doc, type_, r.randint(1, 4))} }}"

    def _node_selection(self, doc: _Doc) -> str:
        parts = ["id"] if self.rng.random() < 0.7 else ["__typename"]
        for type_name in ("Student", "AcademicPlan"):
            if self.rng.random() < 0.8:
                object_type = self.schema.get_type(type_name)
                assert isinstance(object_type, GraphQLObjectType)
                inner = self._selection(doc, object_type, self.rng.randint(1, 3))
                parts.append(self._fragment(doc, type_name, inner))
        if self.rng.random() < 0.3:
            parts.append("... on Node { id }")
        return " ".join(parts)

    def _fragment(self, doc: _Doc, type_name: str, inner: str) -> str:
        if self.rng.random() < 0.5:
            return f"... on {type_name} {{ {inner} }}"
        name = f"F{next(doc.names)}"
        doc.fragments.append(f" fragment {name} on {type_name} {{ {inner} }}")
        return f"...{name}"

    def _directive(self, doc: _Doc) -> str:
        r = self.rng
        roll = r.random()
        if roll < 0.85:
            return ""
        which = r.choice(["include", "skip"])
        value = r.choice([True, False])
        if roll < 0.93:
            return f" @{which}(if: {str(value).lower()})"
        return f" @{which}(if: {doc.variable('Boolean!', value)})"

    def _selection(self, doc: _Doc, type_: GraphQLObjectType, depth: int) -> str:
        r = self.rng
        names = list(type_.fields)
        leaves = [n for n in names if not is_object_type(get_named_type(type_.fields[n].type))]
        chosen = r.sample(names, k=min(len(names), r.randint(1, 6)))
        if not any(n in leaves for n in chosen):
            chosen.append(r.choice(leaves) if leaves else "__typename")
        if r.random() < 0.1:
            chosen.append("__typename")
        parts = []
        for name in chosen:
            sub_type = None if name == "__typename" else get_named_type(type_.fields[name].type)
            alias = f"a{next(doc.names)}: " if r.random() < 0.15 else ""
            if isinstance(sub_type, GraphQLObjectType):
                if depth <= 1:
                    continue
                inner = self._selection(doc, sub_type, depth - 1)
                part = f"{alias}{name}{self._directive(doc)} {{ {inner} }}"
                if r.random() < 0.1:  # the same key again: merged with the first
                    part += f" {alias}{name} {{ {self._selection(doc, sub_type, 1)} }}"
            else:
                part = f"{alias}{name}{self._directive(doc)}"
            parts.append(part)
        if not parts:
            parts.append("__typename")
        text = " ".join(parts)
        if r.random() < 0.15:
            return self._fragment(doc, type_.name, text)
        return text
