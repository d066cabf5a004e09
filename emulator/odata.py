"""A small OData v4 query-option engine: ``$filter``, ``$select``, ``$expand``, ``$orderby`` for events.

Enough for what the add-on and Graph SDKs send (graph-reference D.3): comparisons (``eq ne gt ge lt le``), ``and`` /
``or`` / ``not``, parentheses, ``contains`` / ``startswith`` / ``endswith`` / ``tolower`` / ``toupper``, property paths
(``start/dateTime``) and lambdas ``any`` / ``all`` such as ``singleValueExtendedProperties/Any(ep: ep/id eq '…' and
ep/value eq '…')``. String comparisons are case-insensitive (Exchange); extended property ids compare in their
normalised form (type, GUID, ``Name`` keyword case-insensitive, the name case-sensitive). Anything else is answered
``400 ErrorInvalidUrlQueryFilter`` "The query filter contains one or more invalid nodes." like Outlook.
"""

import re

from .errors import GraphError
from .events import normalize_property_id

_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:\d{2})?)
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<name>[A-Za-z_@$][\w.@]*)
    | (?P<punct>[(),:/])
    )""",
    re.VERBOSE,
)
COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
FUNCTIONS = {"contains", "startswith", "endswith", "tolower", "toupper"}


def invalid_filter(detail=None):
    message = "The query filter contains one or more invalid nodes."
    return GraphError(400, "ErrorInvalidUrlQueryFilter", message + (f" ({detail})" if detail else ""))


def tokenize(text):
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise invalid_filter(f"unexpected text at {position}")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "string":
            value = value[1:-1].replace("''", "'")
        tokens.append((kind, value))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent; produces nested tuples evaluated by :func:`evaluate`."""

    def __init__(self, text):
        self.tokens, self.index = tokenize(text), 0

    def peek(self, offset=0):
        index = self.index + offset
        return self.tokens[index] if index < len(self.tokens) else (None, None)

    def take(self, kind=None, value=None):
        token = self.peek()
        if token[0] is None or (kind and token[0] != kind) or (value and str(token[1]).lower() != value):
            raise invalid_filter(f"expected {value or kind}, found {token[1]!r}")
        self.index += 1
        return token

    def parse(self):
        node = self.expression()
        if self.peek()[0] is not None:
            raise invalid_filter(f"unexpected {self.peek()[1]!r}")
        return node

    def expression(self):
        node = self.conjunction()
        while self._keyword("or"):
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self):
        node = self.negation()
        while self._keyword("and"):
            node = ("and", node, self.negation())
        return node

    def negation(self):
        if self._keyword("not"):
            return ("not", self.negation())
        return self.comparison()

    def _keyword(self, word):
        kind, value = self.peek()
        if kind == "name" and value.lower() == word:
            self.index += 1
            return True
        return False

    def comparison(self):
        left = self.operand()
        kind, value = self.peek()
        if kind == "name" and value.lower() in COMPARISONS:
            self.index += 1
            return ("cmp", value.lower(), left, self.operand())
        return left

    def operand(self):
        kind, value = self.peek()
        if kind == "punct" and value == "(":
            self.take()
            node = self.expression()
            self.take("punct", ")")
            return node
        if kind in ("string", "datetime"):
            self.index += 1
            return ("lit", value)
        if kind == "number":
            self.index += 1
            return ("lit", float(value) if "." in value else int(value))
        if kind == "name":
            return self.name_operand(value)
        raise invalid_filter(f"unexpected {value!r}")

    def name_operand(self, value):
        lowered = value.lower()
        if lowered in ("true", "false", "null"):
            self.index += 1
            return ("lit", {"true": True, "false": False, "null": None}[lowered])
        if lowered in FUNCTIONS and self.peek(1) == ("punct", "("):
            self.index += 2
            args = [self.expression()]
            while self.peek() == ("punct", ","):
                self.take()
                args.append(self.expression())
            self.take("punct", ")")
            return ("call", lowered, args)
        return self.path()

    def path(self):
        segments = [self.take("name")[1]]
        while self.peek() == ("punct", "/"):
            self.take()
            name = self.take("name")[1]
            if name.lower() in ("any", "all") and self.peek() == ("punct", "("):
                return self.lambda_(segments, name.lower())
            segments.append(name)
        return ("path", segments)

    def lambda_(self, segments, kind):
        self.take("punct", "(")
        variable = self.take("name")[1]
        self.take("punct", ":")
        body = self.expression()
        self.take("punct", ")")
        return ("lambda", kind, segments, variable, body)


def parse_filter(text):
    if not text or not text.strip():
        raise invalid_filter("empty filter")
    return _Parser(text).parse()


def _resolve(segments, item, scope):
    if segments[0] in scope:
        value, rest = scope[segments[0]], segments[1:]
    else:
        value, rest = item, segments
    for segment in rest:
        if not isinstance(value, dict):
            return None
        value = next((v for k, v in value.items() if k.lower() == segment.lower()), None)
    return value


def _as_text(value):
    return value.lower() if isinstance(value, str) else value


def _compare(op, left, right):
    if isinstance(left, str) and isinstance(right, str):
        left_id, right_id = normalize_property_id(left), normalize_property_id(right)
        if left_id and right_id:
            left, right = left_id, right_id
        else:
            left, right = left.lower(), right.lower()
    if op == "eq":
        return left == right
    if op == "ne":
        return left != right
    if left is None or right is None:
        return False
    try:
        return {"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[op]
    except TypeError:
        return False


def evaluate(node, item, scope=None):
    scope = scope or {}
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "path":
        return _resolve(node[1], item, scope)
    if kind == "and":
        return bool(evaluate(node[1], item, scope)) and bool(evaluate(node[2], item, scope))
    if kind == "or":
        return bool(evaluate(node[1], item, scope)) or bool(evaluate(node[2], item, scope))
    if kind == "not":
        return not evaluate(node[1], item, scope)
    if kind == "cmp":
        return _compare(node[1], evaluate(node[2], item, scope), evaluate(node[3], item, scope))
    if kind == "call":
        return _call(node[1], [evaluate(arg, item, scope) for arg in node[2]])
    if kind == "lambda":
        _, mode, segments, variable, body = node
        collection = _resolve(segments, item, scope) or []
        if not isinstance(collection, list):
            return False
        results = (bool(evaluate(body, item, dict(scope, **{variable: element}))) for element in collection)
        return any(results) if mode == "any" else all(results)
    raise invalid_filter(f"unsupported node {kind}")


def _call(name, args):
    if name in ("tolower", "toupper"):
        value = args[0] if args else None
        return (
            value.lower()
            if isinstance(value, str) and name == "tolower"
            else value.upper()
            if isinstance(value, str)
            else value
        )
    if len(args) != 2 or not isinstance(args[0], str) or not isinstance(args[1], str):
        return False
    haystack, needle = args[0].lower(), args[1].lower()
    return {
        "contains": needle in haystack,
        "startswith": haystack.startswith(needle),
        "endswith": haystack.endswith(needle),
    }[name]


def parse_select(text, known):
    if not text:
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    for name in names:
        if name not in known:
            raise GraphError(
                400,
                "BadRequest",
                "Parsing OData Select and Expand failed: Could not find a property "
                f"named '{name}' on type 'microsoft.graph.event'.",
            )
    return names


_EXPAND = re.compile(r"^\s*singleValueExtendedProperties\s*\(\s*\$filter\s*=\s*(.+)\)\s*$", re.IGNORECASE | re.DOTALL)
_IGNORED_EXPANDS = {"attachments", "extensions", "instances", "calendar", "multivalueextendedproperties"}


def parse_expand(text):
    """``$expand`` -> predicate over ``{"id","value"}`` extended properties, or None.

    You cannot list all extended properties of an item (D.3): ``singleValueExtendedProperties`` needs a ``$filter``.
    """
    if not text:
        return None
    predicate = None
    for part in _split_top_level(text):
        name = part.split("(", 1)[0].strip()
        if name.lower() == "singlevalueextendedproperties":
            match = _EXPAND.match(part)
            if not match:
                raise GraphError(
                    400,
                    "ErrorInvalidRequest",
                    "The singleValueExtendedProperties expansion needs a "
                    "$filter on id: you cannot list all extended properties.",
                )
            tree = parse_filter(match.group(1))
            predicate = (lambda node: lambda prop: bool(evaluate(node, prop)))(tree)
        elif name.lower() not in _IGNORED_EXPANDS:
            raise GraphError(
                400,
                "BadRequest",
                "Parsing OData Select and Expand failed: Could not find a property "
                f"named '{name}' on type 'microsoft.graph.event'.",
            )
    return predicate


def _split_top_level(text):
    parts, depth, current = [], 0, []
    for char in text:
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current.append(char)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def parse_orderby(text):
    """``$orderby=start/dateTime desc,subject`` -> ``[(segments, descending)]``."""
    if not text:
        return []
    order = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise GraphError(400, "BadRequest", f"Invalid $orderby clause '{part.strip()}'.")
        order.append((words[0].split("/"), len(words) == 2 and words[1].lower() == "desc"))
    return order


def sort_items(rendered, order):
    for segments, descending in reversed(order):
        rendered.sort(key=lambda data: _sort_key(_resolve(segments, data, {})), reverse=descending)
    return rendered


def _sort_key(value):
    return (value is None, _as_text(value) if not isinstance(value, (dict, list)) else "")
