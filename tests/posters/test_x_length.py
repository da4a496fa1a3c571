"""X's weighted length: twitter-text's own conformance cases, twitter-text-parser on generated texts,
then meetup-shaped texts and Pulse's two limits."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from twitter_text import extract_urls_with_indices, parse_tweet
from twitter_text.regexp.emoji import emoji_list

from posters import x_length
from posters.x_length import extract_urls, fits, is_valid, measure, shorten, weighted_length, without_invalid
from tests.posters import conformance_cases

CASES = conformance_cases.load("x-weighted-length.json")
URL_CASES = conformance_cases.load("x-extract-urls.json")


@pytest.mark.parametrize("case", CASES, ids=[c["description"][:70] for c in CASES])
def test_twitter_text_conformance(case):
    assert weighted_length(case["text"]) == case["weighted_length"]
    assert is_valid(case["text"]) == case["valid"]


def test_weighted_length_cases_are_there():
    assert len(CASES) >= 24


@pytest.mark.skipif(not URL_CASES, reason="x-extract-urls.json (twitter-text's extract.yml URL sections) is in "
                                          "neither ../shared/conformance/ nor tests/posters/conformance/")
@pytest.mark.parametrize("case", URL_CASES, ids=[f"{c['section']}: {c['description'][:60]}" for c in URL_CASES])
def test_twitter_text_url_conformance(case):
    text, expected = case["text"], case["expected"]
    found = extract_urls(text)
    if expected and isinstance(expected[0], dict):  # the sections with indices
        assert [{"url": text[u.start:u.end], "indices": [u.start, u.end]} for u in found] == expected
    else:
        assert [text[u.start:u.end] for u in found] == expected
    # Each URL counts 23 whatever its length.
    assert weighted_length(text) == parse_tweet(text).weightedLength


# -- against twitter-text-parser itself, on texts made of what trips URL and emoji matching up ---------

FRAGMENTS = [
    "a", "b", "x", "1", "7", ".", "..", "/", "-", "_", ":", "?", "=", "&", "#", "@", "$", "(", ")", "'", ",", "!",
    " ", "\n", "\r\n", "\r", "\t", "\u3000", "\xa0", "<", ">", "\\", "^", "{", "}", "\u202a", "\u200f", "\ufffe",
    "é", "e\u0301", "ı", "İ", "ſ", "\u212a", "中", "国", "日本", "。", "한국", "рф", "ö",
    "http://", "https://", "HTTPS://", "www.", ".com", ".COM", ".co", ".jp", ".md", ".ai", ".io", ".tv", ".xn--p1ai",
    ".рф", ".中国", ".みんな", ".vermögensberater", ".verm", "t.co/", "example", ".com/", "?q=1", "/path", ":8080",
    "README", "x.ai", "github.io", "例え.jp/パス", "-a-", "a_b", "xn--", ".a.a.a.a", "x" * 60, "字" * 40,
    "🎉", "👍🏽", "👩\u200d💻", "👨\u200d👩\u200d👧\u200d👦", "1\ufe0f\u20e3", "#\u20e3", "\U0001f1e6\U0001f1fa", "©", "©\ufe0f",
    "\ufe0f", "\u200d", "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", "\U000e0067",
]
texts = st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join)


@settings(max_examples=400, deadline=None)
@given(texts)
# Found by this test: twitter-text-parser gives the URL here as "a.com/" over 18 characters, and
# counts on from its 7th, inside the family emoji, which its scan of the text had already taken.
@example("a.com👨\u200d👩\u200d👧\u200d👦例え.jp/パス")
def test_same_as_twitter_text_parser(text):
    expected = parse_tweet(text)
    result = measure(text)
    normalized = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    assert "".join(unit.text for unit in x_length.units(text)) == normalized  # cutting loses nothing
    if not result.unsearched:  # (a run Pulse does not search counts as too long instead)
        assert result.length == expected.weightedLength
        assert sum(unit.weight for unit in x_length.units(text)) // 100 == expected.weightedLength
        assert [(u.start, u.end) for u in extract_urls(text)] == [
            tuple(url["indices"]) for url in extract_urls_with_indices(normalized)]
        blank = not normalized.strip()
        assert is_valid(text) == (expected.valid and not blank)
    else:
        assert result.length > 280 and not is_valid(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([e.emoji for e in emoji_list] + ["\u200d", "\ufe0f", "\U0001f3fd", "a", "1"]),
                max_size=12).map("".join))
def test_emoji_as_twitter_text_parser_finds_them(text):
    assert weighted_length(text) == parse_tweet(text).weightedLength


def test_every_emoji_of_twitter_text_parser():
    every = [e.emoji for e in emoji_list]
    assert [weighted_length(e) for e in every] == [parse_tweet(e).weightedLength for e in every]
    assert weighted_length("".join(every)) == parse_tweet("".join(every)).weightedLength


# -- meetup-shaped texts ---------------------------------------------------------------------------

# Each expected length worked out by hand: a URL is 23 (bare domains too, with any of twitter-text's
# TLDs: .md is Moldova's, and its conformance suite extracts "twitter.jp", "it.so" without a path);
# an emoji sequence 2; a CJK character 2; Latin letters, digits, spaces and ASCII punctuation 1.
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
    ("README.md", 23),                                            # .md is a ccTLD: a link to X
    ("x.ai is neat", 23 + 8),
    ("visit github.io", 6 + 23),
    ("https://例え.jp/パス", 23 + 2 * 2),                          # the path stops at the katakana
    ("ASP.NET meetup", 23 + 7),                                   # .net is a TLD: X links it too
    ("hello@example.com", 17),                                    # an address, not a URL
    ("a.b.c 1.2.3", 11),                                          # no TLD: no URL
    ("line\r\nbreak", 10),                                        # CR LF counts as one
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
    assert shorten("see README.md now", 5) == "see README.md…"  # the bare domain is one unit
    # twitter-text-parser names this URL "a.com/" but it spans 11 characters: all of them are kept.
    assert shorten("a.com例え.jp/パス " + "x" * 300, 3) == "a.com例え.jp/パス…"


def test_limits():
    assert is_valid("a" * 280) and not is_valid("a" * 281)
    assert is_valid("字" * 140) and not is_valid("字" * 141)
    assert not is_valid("   ")


def test_characters_x_refuses():
    # twitter-text-parser's validity already refuses them; without_invalid is the one place Pulse drops them.
    for char in "\ufffe\ufeff\uffff":
        assert not parse_tweet(f"a{char}b").valid and not is_valid(f"a{char}b")
        assert without_invalid(f"a{char}b{char}") == "ab"
    assert without_invalid("a\u200db\ufe0f") == "a\u200db\ufe0f"


# -- Pulse's limits --------------------------------------------------------------------------------

def test_a_run_too_long_to_search_counts_as_too_long():
    url = "https://example.com/" + "a" * 600  # X would count it 23
    assert parse_tweet(url).weightedLength == 23
    result = measure(f"see {url} now")
    assert result.unsearched == f" {url}" and result.length > 280
    assert not is_valid(url) and not fits(url)
    # Not searched either: more than 16 labels in a row (the regex's slow case).
    many = ".".join(str(n) for n in range(17)) + ".com"
    assert measure(many).unsearched == many and not is_valid(many)
    sixteen = ".".join(str(n) for n in range(16)) + ".com"
    assert weighted_length(sixteen) == parse_tweet(sixteen).weightedLength == 23
    # A long run with no top-level domain in it holds no URL: counted exactly.
    assert weighted_length("a." * 5000) == 10_000 and not measure("a." * 5000).unsearched


def test_past_280_counting_stops_after_64_runs_with_urls():
    text = " a.co" * 100
    result = measure(text)
    assert result.at_least and 280 < result.length < parse_tweet(text).weightedLength == 2400
    # Few links in a long text: exact (as the conformance case of 12,079 wants).
    long = "x" * 10_000 + " see a.co and b.org/x " + "字" * 2_000
    assert weighted_length(long) == parse_tweet(long).weightedLength and not measure(long).at_least


def test_no_text_longer_than_max_fitting_chars_fits():
    # The densest text: runs of URL_RUN_LIMIT characters, each holding one URL.
    run = " https://x.co/" + "a" * (x_length.URL_RUN_LIMIT - 14)
    assert weighted_length(run) == 24 and len(run) == x_length.URL_RUN_LIMIT
    dense = run * (x_length.MAX_FITTING_CHARS // len(run) + 1)
    assert len(dense) > x_length.MAX_FITTING_CHARS and weighted_length(dense) > 280
    assert not fits("a" * (x_length.MAX_FITTING_CHARS + 1))
