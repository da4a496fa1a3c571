"""X's weighted length: twitter-text's own conformance cases, then meetup-shaped texts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from posters.x_length import extract_urls, is_valid, shorten, weighted_length

CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "x-weighted-length.json"
if not CONFORMANCE.is_file():  # the copy kept in the repository, for a clone without ../shared
    CONFORMANCE = Path(__file__).resolve().parent / "conformance" / "x-weighted-length.json"
CASES = json.loads(CONFORMANCE.read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[c["description"][:70] for c in CASES])
def test_twitter_text_conformance(case):
    assert weighted_length(case["text"]) == case["weighted_length"]
    assert is_valid(case["text"]) == case["valid"]


# Each expected length worked out by hand: a URL is 23; an emoji sequence 2; a CJK character 2;
# Latin letters, digits, spaces and ASCII punctuation 1.
TABLE = [
    ("Meetup tonight", 14),
    ("RSVP: https://example.com/e/123", 6 + 23),
    ("RSVP https://example.com/e/123.", 5 + 23 + 1),             # the full stop is not the URL's
    ("Two links http://a.co https://b.org/x?y=1", 10 + 23 + 1 + 23),
    ("東京ミートアップ", 8 * 2),
    ("東京 meetup 🎉", 2 * 2 + 1 + 6 + 1 + 2),
    ("👩🏽‍💻 coders", 2 + 7),                                      # skin tone + ZWJ: one emoji
    ("🇦🇺 Sydney", 2 + 7),                                        # a flag: one emoji
    ("Café au lait", 12),                                         # é is Latin: 1
    ("Cafe\u0301", 4),                                            # NFC makes e+◌́ one é
    ("see example.com now", 4 + 23 + 4),                          # no protocol, known TLD
    ("README.md", 9),                                             # a ccTLD without a path is no URL
    ("ASP.NET meetup", 23 + 7),                                   # .net is a TLD: X links it too
    ("hello@example.com", 17),                                    # an address, not a URL
    ("x" * 280, 280),
    ("한국어", 6),
]


@pytest.mark.parametrize("text,expected", TABLE, ids=[t for t, _ in TABLE])
def test_meetup_texts(text, expected):
    assert weighted_length(text) == expected


def test_urls_found_where_x_finds_them():
    text = "Join (https://meetup.example.org/e/9) or http://a.io/x!"
    spans = [text[u.start:u.end] for u in extract_urls(text)]
    assert spans == ["https://meetup.example.org/e/9", "http://a.io/x"]


def test_shorten_never_cuts_inside_an_emoji_or_url():
    text = "Party 👨‍👩‍👧‍👦 at https://example.com/very/long/path"
    assert shorten(text, 7) == "Party 👨‍👩‍👧‍👦…"
    assert shorten(text, 11) == "Party 👨‍👩‍👧‍👦 at…"
    assert shorten(text, 12) == text
    # Marks stay on their letter: é (NFC) keeps the ◌̂ that has no precomposed form with it.
    assert shorten("Cre\u0301\u0302me brûlée", 3) == "Cr\u00e9\u0302…"


def test_limits():
    assert is_valid("a" * 280) and not is_valid("a" * 281)
    assert is_valid("字" * 140) and not is_valid("字" * 141)
    assert not is_valid("   ")
