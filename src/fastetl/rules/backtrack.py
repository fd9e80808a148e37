"""A conservative check that a ``pattern`` rule cannot backtrack exponentially.

Python's ``re`` backtracks and has no time limit: ``(a+)+$`` on ``"aaaa…!"`` tries every
way to split the ``a``s between the two quantifiers (2**n).  That takes a quantifier
whose body can match the same text in more than one way: a repeat inside a repeat, or
alternatives that start alike.  :func:`exponential_risk` refuses, when the schema
loads, every pattern where a quantifier that repeats (upper bound above 1) has in its
body

- another quantifier that repeats (possessive ``a++`` and atomic ``(?>…)`` excepted),
  unless the body also has a character that every pass must match (outside any
  quantifier, alternation or optional part) and that the inner quantifier cannot
  match — ``(\\w+\\.)*`` passes: each pass ends at a ``.`` that ``\\w`` never matches;
  ``(a+)+``, ``(\\w+\\s?)*`` and ``(.*,)+`` are refused;
- alternatives (``|``) that can start with the same character (``(a|ab)*`` refused,
  ``(a|b\\d)*`` passes).

The character sets are over-approximated (``\\w``, ``\\d``, ``\\s`` as their ASCII
characters plus every non-ASCII one; case-insensitive sets with both cases;
backreferences as any character), so the check may refuse a safe pattern, never the
reverse for these shapes.  Polynomial backtracking (``\\d+\\d+\\d+x``) is not refused:
its cost is bounded by a power of the value's length, which a ``str`` column's
``width`` bounds.
"""

from __future__ import annotations

import sys
from typing import Any

if sys.version_info >= (3, 11):
    from re import _constants as _c
    from re import _parser as _p
else:  # pragma: no cover - Python 3.10
    import sre_constants as _c
    import sre_parse as _p

_TOP = 0x10FFFF
_ALL = ((0, _TOP),)
_NO = ()
# the ASCII characters of each class; every non-ASCII character is assumed in it too
_CLASS = {
    "CATEGORY_DIGIT": ((48, 57),),
    "CATEGORY_WORD": ((48, 57), (65, 90), (95, 95), (97, 122)),
    "CATEGORY_SPACE": ((9, 13), (28, 32)),
}
_OP = {name: getattr(_c, name, None) for name in (
    "LITERAL", "NOT_LITERAL", "IN", "ANY", "RANGE", "CATEGORY", "NEGATE", "MAX_REPEAT",
    "MIN_REPEAT", "POSSESSIVE_REPEAT", "ATOMIC_GROUP", "SUBPATTERN", "BRANCH", "GROUPREF",
    "GROUPREF_EXISTS", "AT", "ASSERT", "ASSERT_NOT",
)}  # fmt: skip
_REPEATS = (_OP["MAX_REPEAT"], _OP["MIN_REPEAT"])


def _norm(ranges: Any) -> tuple[tuple[int, int], ...]:
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


def _union(*sets: Any) -> tuple[tuple[int, int], ...]:
    return _norm([r for s in sets for r in s])


def _negate(s: Any) -> tuple[tuple[int, int], ...]:
    out, at = [], 0
    for lo, hi in _norm(s):
        if lo > at:
            out.append((at, lo - 1))
        at = hi + 1
    if at <= _TOP:
        out.append((at, _TOP))
    return tuple(out)


def _overlap(a: Any, b: Any) -> bool:
    return any(lo1 <= hi2 and lo2 <= hi1 for lo1, hi1 in a for lo2, hi2 in b)


class _Sets:
    def __init__(self, fold: bool) -> None:
        self.fold = fold  # case-insensitive somewhere: sets hold both cases

    def char(self, op: Any, av: Any) -> tuple[tuple[int, int], ...] | None:
        """The characters one matching item can match; None if it is not one character."""
        if op == _OP["LITERAL"]:
            s: Any = ((av, av),)
        elif op == _OP["NOT_LITERAL"]:
            s = _negate(((av, av),))
        elif op == _OP["ANY"]:
            s = _ALL
        elif op == _OP["IN"]:
            parts, neg = [], False
            for o, a in av:
                if o == _OP["NEGATE"]:
                    neg = True
                elif o == _OP["LITERAL"]:
                    parts.append((a, a))
                elif o == _OP["RANGE"]:
                    parts.append(a)
                elif o == _OP["CATEGORY"]:
                    name = str(a)
                    base = next((v for k, v in _CLASS.items() if k in name), None)
                    if base is None or "NOT" in name:
                        parts.append((0, _TOP))  # (negated classes: everything, to be safe)
                    else:
                        parts += [*base, (128, _TOP)]
                else:
                    parts.append((0, _TOP))
            s = _norm(parts)
            if neg:
                s = _negate(s)
        else:
            return None
        return self._folded(s)

    def _folded(self, s: Any) -> tuple[tuple[int, int], ...]:
        if self.fold and _overlap(s, ((65, 90), (97, 122), (128, _TOP))):
            return _union(s, ((65, 90), (97, 122), (128, _TOP)))
        return _norm(s)

    def chars(self, seq: Any) -> tuple[tuple[int, int], ...]:
        """Every character anything in ``seq`` can match."""
        out: list[Any] = []
        for op, av in seq:
            c = self.char(op, av)
            if c is not None:
                out.append(c)
            elif op in (*_REPEATS, _OP["POSSESSIVE_REPEAT"]):
                out.append(self.chars(av[2]))
            elif op == _OP["SUBPATTERN"]:
                out.append(self.chars(av[-1]))
            elif op == _OP["ATOMIC_GROUP"]:
                out.append(self.chars(av))
            elif op == _OP["BRANCH"]:
                out += [self.chars(b) for b in av[1]]
            elif op in (_OP["GROUPREF"], _OP["GROUPREF_EXISTS"]):
                out.append(_ALL)
        return _union(*out)

    def first(self, seq: Any) -> tuple[tuple[tuple[int, int], ...], bool]:
        """(the characters ``seq`` can start with, whether it can match nothing)."""
        out: list[Any] = []
        for op, av in seq:
            c = self.char(op, av)
            if c is not None:
                return _union(*out, c), False
            if op in (*_REPEATS, _OP["POSSESSIVE_REPEAT"]):
                f, empty = self.first(av[2])
                out.append(f)
                if av[0] > 0 and not empty:
                    return _union(*out), False
            elif op in (_OP["SUBPATTERN"], _OP["ATOMIC_GROUP"]):
                f, empty = self.first(av[-1] if op == _OP["SUBPATTERN"] else av)
                out.append(f)
                if not empty:
                    return _union(*out), False
            elif op == _OP["BRANCH"]:
                firsts = [self.first(b) for b in av[1]]
                out += [f for f, _ in firsts]
                if not any(e for _, e in firsts):
                    return _union(*out), False
            elif op in (_OP["AT"], _OP["ASSERT"], _OP["ASSERT_NOT"]):
                continue
            else:  # a backreference, a conditional group: anything
                return _ALL, True
        return _union(*out), True


def _flat(seq: Any) -> list[tuple[Any, Any]]:
    """A sequence with its plain groups opened (their items are matched in order)."""
    out = []
    for op, av in seq:
        if op == _OP["SUBPATTERN"]:
            out += _flat(av[-1])
        else:
            out.append((op, av))
    return out


def _inner_repeats(seq: Any) -> list[Any]:
    """The bodies of the quantifiers that repeat and can backtrack, inside ``seq``."""
    out = []
    for op, av in seq:
        if op in _REPEATS:
            if av[1] > 1:
                out.append(av[2])
            out += _inner_repeats(av[2])
        elif op == _OP["SUBPATTERN"]:
            out += _inner_repeats(av[-1])
        elif op == _OP["BRANCH"]:
            for b in av[1]:
                out += _inner_repeats(b)
        elif op == _OP["GROUPREF_EXISTS"]:
            out += [x for b in av[1:] if b is not None for x in _inner_repeats(b)]
    return out


def _branches(seq: Any) -> list[Any]:
    """The alternations inside ``seq`` (not inside an atomic group)."""
    out = []
    for op, av in seq:
        if op == _OP["BRANCH"]:
            out.append(av[1])
            for b in av[1]:
                out += _branches(b)
        elif op in _REPEATS or op == _OP["POSSESSIVE_REPEAT"]:
            out += _branches(av[2])
        elif op == _OP["SUBPATTERN"]:
            out += _branches(av[-1])
    return out


def _risk(seq: Any, sets: _Sets) -> str | None:
    for op, av in seq:
        if op in _REPEATS and av[1] > 1:
            body = av[2]
            musts = [c for c in (sets.char(o, a) for o, a in _flat(body)) if c is not None]
            for inner in _inner_repeats(body):
                chars = sets.chars(inner)
                if not any(not _overlap(chars, m) for m in musts):
                    return (
                        "a repeated part holds another repeat with nothing between them "
                        "to tell the passes apart"
                    )
            for alts in _branches(body):
                firsts = [sets.first(b) for b in alts]
                for i, (f, e) in enumerate(firsts):
                    for g, e2 in firsts[i + 1 :]:
                        if e or e2 or _overlap(f, g):
                            return "a repeated part has alternatives that can start alike"
        if op in _REPEATS or op == _OP["POSSESSIVE_REPEAT"]:
            found = _risk(av[2], sets)
        elif op == _OP["SUBPATTERN"]:
            found = _risk(av[-1], sets)
        elif op == _OP["ATOMIC_GROUP"]:
            found = _risk(av, sets)
        elif op == _OP["BRANCH"]:
            found = next((r for b in av[1] if (r := _risk(b, sets))), None)
        elif op in (_OP["ASSERT"], _OP["ASSERT_NOT"]):
            found = _risk(av[1], sets)
        else:
            found = None
        if found:
            return found
    return None


def exponential_risk(pattern: str) -> str | None:
    """Why ``pattern`` (a valid regular expression) may backtrack exponentially, or None."""
    parsed = _p.parse(pattern)
    # case-insensitive for the whole pattern, or (to be safe) any group's own flags
    fold = bool(parsed.state.flags & _c.SRE_FLAG_IGNORECASE) or "(?" in pattern
    return _risk(parsed, _Sets(fold))
