"""The demo's JSON encoder writes exactly what json.dumps writes, on its fast path and off it."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from pulse.demo.ndjson import encode, line


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class Shouty(str):
    """A str that prints itself otherwise: JSON writes its characters, not its __str__."""

    def __str__(self) -> str:
        return self.upper()

    def __format__(self, spec: str) -> str:
        return self.upper()


ASCII = st.text(st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=12)
ANY_TEXT = st.text(max_size=12)
SCALARS = st.one_of(ASCII, ANY_TEXT, st.integers(), st.booleans(), st.none(),
                    st.floats())


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.one_of(ASCII, ANY_TEXT), st.one_of(ASCII, ASCII, SCALARS), max_size=5))
def test_flat_dicts_encode_as_json_dumps_does(obj):
    assert encode(obj) == dumps(obj)
    assert encode(obj) == dumps(obj)  # again, from the cached template


@settings(max_examples=100, deadline=None)
@given(st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(ASCII, inner, max_size=3), max_leaves=10))
def test_anything_else_encodes_as_json_dumps_does(obj):
    assert encode(obj) == dumps(obj)


def test_the_edges_of_the_fast_path():
    cases = [
        {}, {"": ""}, {"a": ""}, {"%s": "%d", "%%": "%"}, {"{}": "{0}"},
        {"a": 'say "hi"'}, {"a": "back\\slash"}, {"a": "tab\there"}, {"a": "del\x7f"},
        {"a": "\x00\x1f"}, {"a": "é"}, {"é": "a"}, {"a": "\u2028"}, {"a": "😀"},
        {"a": Shouty("quiet")}, {Shouty("key"): "v"}, {1: "int key"}, {"a": 1, "b": "x"},
        {"a": True}, {"a": None}, {"a": 1.5}, {"a": ["x"]}, {"a": {"b": "c"}},
    ]
    for obj in cases:
        assert encode(obj) == dumps(obj), obj
    assert encode(["a", {"b": "c"}]) == dumps(["a", {"b": "c"}])
    assert encode("a string") == dumps("a string")
    env = {"specversion": "1.0", "id": "ev-1", "source": "platform/x", "type": "t",
           "time": "2026-03-01T10:00:00Z", "city": "sydney", "data": {"user_id": "u_1"}}
    assert line(env) == dumps(env)
    assert line(dict(env, id=Shouty("ev-1"))) == dumps(dict(env, id=Shouty("ev-1")))
