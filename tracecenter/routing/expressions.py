"""Skill expressions: which agents a queue, a workflow step or a piece of work may go to. Pure Python.

Administrators write them on pages, so they are parsed by a small grammar here, never evaluated as
Python, and a mistake is refused with the character where it is:

    role == "contact_tracer" and languages.es >= 3
    teams has task.team or certifications has "interpreter"
    task.jurisdiction within jurisdiction and not (state == "training")
    languages[task.language] >= 3

A name is an agent attribute (`languages.es`: the agent's Spanish proficiency, 1 to 5); `task.` reads
the work item's attributes instead. Operators: `==`, `!=`, `<`, `<=`, `>`, `>=`; `has` (a list holds a
value, a mapping has a key); `in` (a value is in a list); `within` (a jurisdiction path lies at or
under another: "/ma/boston/" within "/ma/"); `and`, `or`, `not` and parentheses. A missing attribute is
no value: every comparison with it is false (`!=` true), so an agent without a Spanish rating never
matches `languages.es >= 3`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

MAX_LENGTH = 1000
MAX_DEPTH = 20

Attributes = Mapping[str, Any]
Evaluator = Callable[[Attributes, Attributes], Any]


class ExpressionError(ValueError):
    """An expression that cannot be read; the message names the character where it goes wrong."""

    def __init__(self, reason: str, position: int) -> None:
        super().__init__(f"At character {position + 1}: {reason}")
        self.reason = reason
        self.position = position


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>-?\d+(?:\.\d+)?)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,|\.)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = frozenset({"and", "or", "not", "has", "in", "within", "true", "false"})
_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">=", "has", "in", "within"})


@dataclasses.dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # number, string, op, word, keyword, end
    text: str
    position: int


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            break
        found = _TOKEN.match(text, position)
        if found is None or found.end() == position:
            shown = text[position]
            if shown in "\"'":
                raise ExpressionError("this quoted text is never closed.", position)
            raise ExpressionError(f"{shown!r} is not part of an expression.", position)
        kind = found.lastgroup or ""
        value = found.group(kind)
        start = found.start(kind)
        if kind == "word" and value.lower() in _KEYWORDS:
            kind, value = "keyword", value.lower()
        tokens.append(_Token(kind, value, start))
        position = found.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0
        self.task_paths: set[tuple[str, ...]] = set()
        self.agent_paths: set[tuple[str, ...]] = set()

    @property
    def token(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def expect(self, text: str) -> None:
        if self.token.text != text or self.token.kind not in ("op", "keyword"):
            raise ExpressionError(f"expected {text!r}, found {self._shown()}.", self.token.position)
        self.take()

    def _shown(self) -> str:
        return "the end" if self.token.kind == "end" else repr(self.token.text)

    def parse(self) -> Evaluator:
        if not self.text.strip():
            raise ExpressionError("the expression is empty.", 0)
        evaluator = self.disjunction(0)
        if self.token.kind != "end":
            raise ExpressionError(f"expected 'and', 'or' or the end, found {self._shown()}.", self.token.position)
        return evaluator

    def _deeper(self, depth: int) -> int:
        if depth >= MAX_DEPTH:
            raise ExpressionError(f"nested more than {MAX_DEPTH} deep.", self.token.position)
        return depth + 1

    def disjunction(self, depth: int) -> Evaluator:
        parts = [self.conjunction(depth)]
        while self.token.kind == "keyword" and self.token.text == "or":
            self.take()
            parts.append(self.conjunction(depth))
        if len(parts) == 1:
            return parts[0]
        return lambda agent, task: any(bool(p(agent, task)) for p in parts)

    def conjunction(self, depth: int) -> Evaluator:
        parts = [self.negation(depth)]
        while self.token.kind == "keyword" and self.token.text == "and":
            self.take()
            parts.append(self.negation(depth))
        if len(parts) == 1:
            return parts[0]
        return lambda agent, task: all(bool(p(agent, task)) for p in parts)

    def negation(self, depth: int) -> Evaluator:
        if self.token.kind == "keyword" and self.token.text == "not":
            self.take()
            inner = self.negation(self._deeper(depth))
            return lambda agent, task: not inner(agent, task)
        return self.comparison(depth)

    def comparison(self, depth: int) -> Evaluator:
        if self.token.kind == "op" and self.token.text == "(":
            self.take()
            inner = self.disjunction(self._deeper(depth))
            self.expect(")")
            return inner
        left = self.operand(depth)
        if self.token.kind not in ("op", "keyword") or self.token.text not in _COMPARISONS:
            raise ExpressionError(
                f"expected a comparison (==, !=, <, <=, >, >=, has, in, within), found {self._shown()}.", self.token.position
            )
        operator = self.take().text
        right = self.operand(depth)
        test = _OPERATORS[operator]
        return lambda agent, task: test(left(agent, task), right(agent, task))

    def operand(self, depth: int) -> Evaluator:
        token = self.token
        if token.kind == "number":
            self.take()
            number: float = float(token.text) if "." in token.text else int(token.text)
            return lambda agent, task: number
        if token.kind == "string":
            self.take()
            text = _unquote(token.text)
            return lambda agent, task: text
        if token.kind == "keyword" and token.text in ("true", "false"):
            self.take()
            flag = token.text == "true"
            return lambda agent, task: flag
        if token.kind == "op" and token.text == "[":
            return self.list_literal(depth)
        if token.kind == "word":
            return self.path(depth)
        raise ExpressionError(f"expected a name, a number, a quoted text or a list, found {self._shown()}.", token.position)

    def list_literal(self, depth: int) -> Evaluator:
        self.expect("[")
        items: list[Evaluator] = []
        if not (self.token.kind == "op" and self.token.text == "]"):
            items.append(self.operand(self._deeper(depth)))
            while self.token.kind == "op" and self.token.text == ",":
                self.take()
                items.append(self.operand(self._deeper(depth)))
        self.expect("]")
        return lambda agent, task: [item(agent, task) for item in items]

    def path(self, depth: int) -> Evaluator:
        first = self.take()
        on_task = first.text == "task"
        steps: list[str | Evaluator] = [] if on_task else [first.text]
        static: list[str] = [] if on_task else [first.text]
        if on_task and not (self.token.kind == "op" and self.token.text == "."):
            raise ExpressionError("'task' is followed by the attribute of the work to read, as in task.language.", first.position)
        while self.token.kind == "op" and self.token.text in (".", "["):
            if self.take().text == ".":
                name = self.take()
                if name.kind not in ("word", "keyword"):
                    raise ExpressionError(f"expected an attribute name after '.', found {name.text!r}.", name.position)
                steps.append(name.text)
                static.append(name.text)
            else:
                steps.append(self.operand(self._deeper(depth)))
                self.expect("]")
        (self.task_paths if on_task else self.agent_paths).add(tuple(static))
        return _reader(on_task, tuple(steps))


def _reader(on_task: bool, steps: tuple[str | Evaluator, ...]) -> Evaluator:
    def read(agent: Attributes, task: Attributes) -> Any:
        value: Any = task if on_task else agent
        for step in steps:
            key = step if isinstance(step, str) else step(agent, task)
            if isinstance(value, Mapping):
                value = value.get(key) if isinstance(key, str | int) else None
            else:
                return None
            if value is None:
                return None
        return value

    return read


def _ordered(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
            return False
        if isinstance(a, int | float) and isinstance(b, int | float):
            return test(a, b)
        if isinstance(a, str) and isinstance(b, str):
            return test(a, b)
        return False

    return compare


def _has(container: Any, value: Any) -> bool:
    if value is None:
        return False
    if isinstance(container, Mapping):
        return isinstance(value, str | int) and value in container
    if isinstance(container, Sequence | set | frozenset) and not isinstance(container, str):
        return value in container
    return False


def _within(inner: Any, outer: Any) -> bool:
    if not isinstance(inner, str) or not isinstance(outer, str) or not outer:
        return False
    if not outer.endswith("/"):
        outer += "/"
    return (inner if inner.endswith("/") else inner + "/").startswith(outer)


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a is not None and a == b,
    "!=": lambda a, b: a is None or a != b,
    "<": _ordered(lambda a, b: a < b),
    "<=": _ordered(lambda a, b: a <= b),
    ">": _ordered(lambda a, b: a > b),
    ">=": _ordered(lambda a, b: a >= b),
    "has": _has,
    "in": lambda a, b: _has(b, a),
    "within": _within,
}


@dataclasses.dataclass(frozen=True)
class Expression:
    """A parsed skill expression. `matches(agent, task)`; `task_paths`: the task attributes it reads (the
    engine caches its answer per agent kind and those values only)."""

    text: str
    task_paths: frozenset[tuple[str, ...]]
    agent_paths: frozenset[tuple[str, ...]]
    _evaluate: Evaluator = dataclasses.field(repr=False, compare=False)

    def matches(self, agent: Attributes, task: Attributes | None = None) -> bool:
        return bool(self._evaluate(agent, task or {}))

    def task_key(self, task: Attributes) -> tuple[Any, ...]:
        """The values of the task attributes this expression reads (hashable), for caching its answers."""
        return tuple(frozen_value(_read_path(task, path)) for path in sorted(self.task_paths))


def _read_path(data: Attributes, path: tuple[str, ...]) -> Any:
    value: Any = data
    for step in path:
        value = value.get(step) if isinstance(value, Mapping) else None
    return value


def frozen_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), frozen_value(v)) for k, v in value.items()))
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(sorted((frozen_value(v) for v in value), key=repr))
    return value


def parse(text: str) -> Expression:
    """Parse a skill expression; ExpressionError says what is wrong and at which character."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"an expression is at most {MAX_LENGTH} characters long.", MAX_LENGTH)
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in text):
        position = next(i for i, ch in enumerate(text) if ord(ch) < 32 and ch not in "\t\n\r")
        raise ExpressionError("a control character is not part of an expression.", position)
    parser = _Parser(text)
    evaluate = parser.parse()
    return Expression(text.strip(), frozenset(parser.task_paths), frozenset(parser.agent_paths), evaluate)


ANYONE = parse("true == true")
