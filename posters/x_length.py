"""How long X says a post is, and where a text may be cut: twitter-text's count, in linear time.

The count is twitter-text's v3 weighted length as twitter-text-parser computes it (a Python port
that passes twitter-text's conformance suite): after NFC normalisation, with CR LF counted as one
line break, each URL counts 23, each emoji sequence 2, each code point in the "light" ranges
(Latin, Greek, Cyrillic, ..., some punctuation) 1 and any other 2. X allows 280. The URLs are
twitter-text's, bare domains included: `README.md`, `x.ai` and `github.io` are links to X.
`tests/posters/test_x_length.py` checks twitter-text's conformance cases and compares this module
with `twitter_text.parse_tweet` on generated texts.

What Pulse adds is time. twitter-text's URL regex backtracks: on dotted labels that end in no
top-level domain ("a.a.a...", "1.2.3...") it is quadratic with a large constant (twitter-text-parser
3.0.0 on this machine: 500 characters 0.3 s, 1,000 characters 2.4 s, 4,000 characters 46 s); its
emoji regex, one alternative per sequence, costs about 5 µs at every character. So:

* The text is cut before each character that no URL and no emoji can contain (white space, X's
  invalid characters, directional marks, ``\\ < > ^ { }``) into runs that twitter-text counts
  independently: its count of the whole is the sum of the runs' counts.
* Only a run in which a `.` is followed by one of twitter-text's top-level domains can hold a URL;
  only such a run is given to twitter-text's URL extraction. The rest of the text is counted with
  character classes, its emoji found by twitter-text's own sequences arranged as a trie.
* A run that may hold a URL but is longer than `URL_RUN_LIMIT` characters, or has more than
  `URL_RUN_MAX_LABELS` dot-separated labels in one stretch of domain characters, is not searched
  for URLs (that is where the regex is slow): its characters count one by one and the text counts
  as too long for X, even where X would have counted a link of hundreds of characters as 23.
  `measure(...).unsearched` names that run, so that a person can be told.
* Past 280, counting stops once 64 runs, or 2,048 characters, have been searched for URLs
  (some 30 µs a run, up to some 8 µs a character): `measure(...).at_least` then says so.

So `weighted_length` is exact but for those two rules, whatever the length of the text, and takes
time in proportion to the text: 100,000 characters in 2 to 25 ms on the development machine
(tests/posters/test_x_length_timing.py). `fits` answers "at most 280?" without counting a text too
long to fit (`MAX_FITTING_CHARS`).

For cutting, a text is a sequence of units (a URL, an emoji sequence, a character with the
combining marks after it) that are kept or dropped whole: `shorten` never cuts inside one.

twitter-text-parser is imported, and the tables built from it, on first use, not on import: that
costs about a quarter of a second of processor time (its emoji regex is compiled as it is
imported), which every `pulse` command would pay otherwise, whether it measures a post or not.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass

MAX_WEIGHTED_LENGTH = 280
URL_WEIGHT = 23
"""Both twitter-text's (checked against twitter-text-parser's configuration when it is loaded)."""
_SCALE, _LIGHT_WEIGHT, _HEAVY_WEIGHT = 100, 100, 200  # weights in hundredths; an emoji weighs 200 too

URL_RUN_LIMIT = 512
"""A run longer than this that may hold a URL is not searched for one (see the module doc)."""
URL_RUN_MAX_LABELS = 16
"""Nor is a run with more dot-separated labels than this in one stretch of domain characters."""
MAX_FITTING_CHARS = MAX_WEIGHTED_LENGTH * URL_RUN_LIMIT // URL_WEIGHT
"""No longer text fits 280: a URL that is counted 23 lies in a run of at most URL_RUN_LIMIT
characters, and any other character weighs more than 23/512 (the longest emoji, 8 code points, 2)."""

# twitter-text's URL extraction costs some 30 µs a run, and up to some 8 µs a character on a run
# made to be slow for it: once past 280, counting stops after this much of it (so a text of 12,000
# characters with a few links is still counted exactly, as a conformance case wants).
_SEARCH_BUDGET_RUNS, _SEARCH_BUDGET_CHARS = 64, 2_048


@dataclass(frozen=True)
class Url:
    start: int
    end: int


@dataclass(frozen=True)
class Unit:
    """A piece of text that is counted, and may be cut, only as a whole."""
    text: str
    weight: int  # in hundredths, as twitter-text counts
    url: bool = False


@dataclass(frozen=True)
class Measure:
    length: int
    """X's weighted length: a lower bound when `at_least`; over 280 whenever `unsearched`."""
    at_least: bool = False
    unsearched: str = ""
    """The first run that may hold a URL but was not searched for one (the text then counts as too long)."""


def _trie(words: list[str]) -> str:
    """A regex that matches what one of `words` matches, trying one letter at a time (longest first)."""
    root: dict = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # a word ends here

    def branch(char: str, node: dict) -> str:
        # The optional rest is greedy, and only one child can match the next character.
        children = "|".join(branch(c, child) for c, child in sorted(node.items()) if c)
        rest = f"(?:{children})" if children else ""
        return re.escape(char) + (f"{rest}?" if rest and "" in node else rest)

    return "(?:" + "|".join(branch(c, child) for c, child in sorted(root.items())) + ")"


# -- what twitter-text-parser gives, loaded on first use --------------------------------------------

@dataclass(frozen=True)
class _Tables:
    extract_urls: Callable[[str], list[dict]]  # twitter-text's URL extraction
    line_endings: Callable[[str], str]
    invalid: re.Pattern  # the characters X refuses
    cut: re.Pattern  # a character that starts a run
    run: re.Pattern
    tld_dot: re.Pattern  # a dot where twitter-text's regex may end a domain
    labels: re.Pattern
    label_start: re.Pattern
    emoji: re.Pattern  # twitter-text's emoji, as a trie
    emoji_no_keycaps: re.Pattern
    heavy: re.Pattern  # a character that weighs 2


_KEYCAP, _KEYCAP_BASES = "\u20e3", "#*0123456789"  # every emoji that starts with one of these has U+20E3
# A domain ends in `.` and a top-level domain that (under the regex's IGNORECASE) is followed by
# none of [0-9a-zA-Z@+-], a class that then also holds these four non-ASCII letters.
_TLD_RUN_CHARS = "0-9A-Za-z@+\\-\u0130\u0131\u017f\u212a"


@functools.cache
def _tables() -> _Tables:
    # Imported here, not at the top: see the module doc.
    from twitter_text import extract_urls_with_indices
    from twitter_text.config import config
    from twitter_text.parse_tweet import convert_line_ending
    from twitter_text.regexp.directional_markers_group import directional_markers_group
    from twitter_text.regexp.emoji import emoji, emoji_list
    from twitter_text.regexp.invalid_chars import invalid_chars
    from twitter_text.regexp.invalid_chars_group import invalid_chars_group
    from twitter_text.regexp.spaces_group import spaces_group
    from twitter_text.regexp.valid_cctld import valid_cctld
    from twitter_text.regexp.valid_domain_chars import valid_domain_chars
    from twitter_text.regexp.valid_gtld import valid_gtld

    options = config["defaults"]  # what parse_tweet counts with: v3, emoji discounted
    if ((options["max_weighted_tweet_length"], options["transformed_url_length"], options["scale"],
         options["default_weight"], {r["weight"] for r in options["ranges"]})
            != (MAX_WEIGHTED_LENGTH, URL_WEIGHT, _SCALE, _HEAVY_WEIGHT, {_LIGHT_WEIGHT})):
        raise RuntimeError("twitter-text-parser's weights changed; posters.x_length counts with these")
    light = "".join(f"\\U{r['start']:08x}-\\U{r['end']:08x}" for r in options["ranges"])

    # Runs: none of these can be inside a URL (none is a domain, path, query or port character)
    # or an emoji, and each may stand before a URL just as the start of the text may (the invalid
    # characters no more than it may). So twitter-text finds in the runs, each starting with one
    # of them, the same URLs and emoji as in the whole text.
    cut = spaces_group + directional_markers_group + invalid_chars_group + r"\\<>^{}"

    # So a dot followed by one of these matches wherever twitter-text's regex can end a domain: an
    # ASCII TLD (or the ASCII start of one that goes on in another script) with nothing of that
    # class after it, punycode, or the first letter of a TLD in another script. One trie, not 1,574
    # alternatives tried one after another at every dot (what makes twitter-text's regex slow); the
    # lookahead first turns away a dot not followed by two characters of a run (every TLD has two).
    ascii_keys, other_starts = set(), set()
    for tld in _alternatives(valid_gtld) + _alternatives(valid_cctld):
        start = re.match(f"[{_TLD_RUN_CHARS}]*", tld).group()
        if start:
            ascii_keys.add(start)
        else:
            other_starts.add(tld[0])
    tld_dot = re.compile(
        f"\\.(?=[^{cut}.]{{2}})(?:{_trie(sorted(ascii_keys))}(?![{_TLD_RUN_CHARS}])|xn--[-0-9a-z]"
        f"|[{''.join(sorted(map(re.escape, other_starts)))}])", re.IGNORECASE)

    emoji_trie, emoji_trie_no_keycaps = _emoji_tries(emoji, emoji_list, re.compile(f"[{light}]"))
    return _Tables(
        extract_urls=extract_urls_with_indices, line_endings=convert_line_ending, invalid=invalid_chars,
        cut=re.compile(f"[{cut}]"), run=re.compile(f"[{cut}]?[^{cut}]*"), tld_dot=tld_dot,
        # Stretches of domain characters with the dots, hyphens and underscores between labels, and
        # the dots that start a label in them: the regex backtracks label by label there, trying
        # its 1,574 top-level domains at each.
        labels=re.compile(f"(?:{valid_domain_chars.pattern}|[._-])+"),
        label_start=re.compile(f"\\.(?={valid_domain_chars.pattern})"),
        emoji=emoji_trie, emoji_no_keycaps=emoji_trie_no_keycaps, heavy=re.compile(f"[^{light}]"))


def _alternatives(pattern: re.Pattern) -> list[str]:
    head, tail = "(?:(?:", ")(?=[^0-9a-zA-Z@+-]|$))"
    body = pattern.pattern
    words = body[len(head):-len(tail)].split("|")
    if (not (body.startswith(head) and body.endswith(tail)) or min(map(len, words)) < 2
            or any(set(w) & set("()[]{}?*+\\.^$") for w in words)):
        raise RuntimeError("twitter-text-parser's top-level domain patterns changed; posters.x_length reads them")
    return words


def _emoji_tries(emoji: re.Pattern, emoji_list: list, light: re.Pattern) -> tuple[re.Pattern, re.Pattern]:
    """twitter-text's emoji regex as a trie, for the emoji that a sequence may start with.

    Its regex is one alternative per sequence, longest first, then a class of single code points:
    it matches the longest sequence that starts where it is tried. So does the trie, built from the
    same alternatives, without trying thousands of them at every character. A code point that is an
    emoji on its own but starts no sequence is left out: where the regex would match it alone the
    trie matches nothing, and it weighs 2 as a character all the same. The second trie leaves out
    the keycaps too, for a text without U+20E3 (so that digits need not be tried).
    """
    *sequences, single = emoji.pattern.split("|")
    if not (single.startswith("[") and single.endswith("]")) or not all(
            re.fullmatch(r"(?:\\U[0-9A-Fa-f]{8})+", s) for s in sequences):
        raise RuntimeError("twitter-text-parser's emoji pattern changed; posters.x_length rebuilds it")
    root: dict = {}
    for sequence in sequences:
        node = root
        for code in re.findall(r"\\U([0-9A-Fa-f]{8})", sequence):
            node = node.setdefault(chr(int(code, 16)), {})
        node[""] = {}  # a sequence ends here
    singles = re.compile(single)
    for char in root:
        if singles.fullmatch(char):
            root[char][""] = {}  # an emoji on its own too
    alone = [entry.emoji for entry in emoji_list if len(entry.emoji) == 1 and entry.emoji not in root]
    keycaps = [entry.emoji for entry in emoji_list if entry.emoji[0] in _KEYCAP_BASES]
    if light.search("".join(alone)) or any(_KEYCAP not in keycap for keycap in keycaps):
        raise RuntimeError("twitter-text-parser's emoji list changed; posters.x_length relies on how it is made")

    def branch(char: str, node: dict) -> str:
        # Longer first: the optional rest is greedy, and only one child can match the next character.
        children = "|".join(branch(c, child) for c, child in sorted(node.items()) if c)
        rest = f"(?:{children})" if children else ""
        return re.escape(char) + (f"{rest}?" if rest and "" in node else rest)

    def trie(firsts: list[str]) -> re.Pattern:
        # A character is checked against the first code points (in BMP one lookup, astral ones by
        # a score of ranges), then against the range of each group of them, then the group's branches.
        groups: list[list[str]] = []
        for char in firsts:
            if groups and ord(char) - ord(groups[-1][-1]) <= 16 and len(groups[-1]) < 16:
                groups[-1].append(char)
            else:
                groups.append([char])
        ranges = "".join(f"{re.escape(g[0])}-{re.escape(g[-1])}" for g in groups if ord(g[0]) >= 0x10000)
        bmp = re.escape("".join(c for c in firsts if ord(c) < 0x10000))
        parts = "|".join(f"(?=[{re.escape(g[0])}-{re.escape(g[-1])}])(?:{'|'.join(branch(c, root[c]) for c in g)})"
                         for g in groups)
        return re.compile(f"(?:(?=[{bmp}])|(?=[{ranges}]))(?:{parts})")

    firsts = sorted(root)
    return trie(firsts), trie([c for c in firsts if c not in _KEYCAP_BASES])


def _normalize(text: str) -> str:
    # What parse_tweet counts: NFC, then every CR LF, CR or LF as one LF.
    return _tables().line_endings(unicodedata.normalize("NFC", text))


# -- runs, and which may hold a URL ------------------------------------------------------------------

def _runs(text: str) -> Iterator[re.Match]:
    return (match for match in _tables().run.finditer(text) if match.end() > match.start())


def _may_hold_url(text: str) -> bool:
    """False only where twitter-text finds no URL in `text`: no `.` is followed by a top-level domain."""
    return "." in text and _tables().tld_dot.search(text) is not None


def _searchable(run: str) -> bool:
    """Whether twitter-text's URL regex is given `run`: short enough, and not too many labels in a row."""
    tables = _tables()
    return len(run) <= URL_RUN_LIMIT and all(
        len(tables.label_start.findall(m.group())) <= URL_RUN_MAX_LABELS for m in tables.labels.finditer(run))


def _url_run_spans(text: str) -> Iterator[tuple[int, int]]:
    """Where the runs that may hold a URL are, in order, in time linear in the text."""
    if "." not in text:
        return
    tables = _tables()
    reverse, end = text[::-1], 0
    while (dot := tables.tld_dot.search(text, end)) is not None:
        after = tables.cut.search(text, dot.start())
        end = after.start() if after else len(text)
        before = tables.cut.search(reverse, len(text) - 1 - dot.start())
        yield (len(text) - 1 - before.start() if before else 0), end


# -- weights -------------------------------------------------------------------------------------------

def _emoji_trie(text: str) -> re.Pattern:
    return _tables().emoji if _KEYCAP in text else _tables().emoji_no_keycaps


def _plain_weight(text: str) -> int:
    """twitter-text's weight (hundredths) of a text that holds no URL: emoji 2, characters 1 or 2."""
    rest, emoji = _emoji_trie(text).subn("", text)
    heavy = _tables().heavy.subn("", rest)[1]
    return _HEAVY_WEIGHT * (emoji + heavy) + _LIGHT_WEIGHT * (len(rest) - heavy)


def _char_weight(char: str) -> int:
    # A character's own weight, even one that is an emoji on its own elsewhere: parse_tweet gives
    # this to a character where no emoji starts (as after a URL an emoji began inside of).
    return _HEAVY_WEIGHT if _tables().heavy.match(char) else _LIGHT_WEIGHT


def _walk(run: str, urls: list[dict]) -> Iterator[Unit]:
    """parse_tweet's walk over one run, as units: a URL where one starts, else an emoji, else a character.

    As parse_tweet, after a URL the walk goes on `len(url["url"])` characters further, which is
    not always where the URL's indices end: twitter-text-parser gives a bare domain in another
    script that has a path as its ASCII part and the path ("a.com例え.jp/パス": "a.com/", over 11
    characters). What the walk then counts up to the end of the indices is the URL's unit too, so
    that a cut never falls inside a URL and the units make up the text. The emoji are those one
    scan of the whole run finds, as parse_tweet's are: after a URL, where the scan was, not afresh
    (an emoji it found starting inside the URL and running past its end hides any that starts in
    that emoji, as in "a.com👨‍👩‍👧‍👦": the 👩 after the URL's "a.com/" counts 2, not as a family).
    """
    url_at = {url["indices"][0]: url for url in urls}
    scan = _emoji_trie(run).finditer(run)  # lazily: cutting takes only the first units of a long run
    emoji = next(scan, None)
    url_unit = None  # [start, end, weight] of the URL whose unit is being made
    i = 0
    while i < len(run):
        while emoji is not None and emoji.start() < i:
            emoji = next(scan, None)
        if i in url_at:
            step, weight = i + max(1, len(url_at[i]["url"])), URL_WEIGHT * _SCALE
        elif emoji is not None and emoji.start() == i:
            step, weight = emoji.end(), _HEAVY_WEIGHT
        else:
            step, weight = i + 1, _char_weight(run[i])
        if url_unit is not None and i < url_unit[1]:  # still inside the URL's indices
            url_unit[1], url_unit[2] = max(url_unit[1], step), url_unit[2] + weight
        else:
            if url_unit is not None:
                yield Unit(run[url_unit[0]:url_unit[1]], url_unit[2], url=True)
                url_unit = None
            if i in url_at:
                url_unit = [i, max(step, url_at[i]["indices"][1]), weight]
            else:
                yield Unit(run[i:step], weight)
        i = step
    if url_unit is not None:
        yield Unit(run[url_unit[0]:url_unit[1]], url_unit[2], url=True)


# -- the count -----------------------------------------------------------------------------------------

def measure(text: str) -> Measure:
    """X's weighted length of `text` (rounded down, as twitter-text does), counted as far as it matters.

    Exact but for the two rules of the module doc: `at_least` (past 280, with many runs that may
    hold a URL), and `unsearched` (a run not searched for URLs: then over 280).
    """
    normalized = _normalize(text)
    total, position, unsearched = 0, 0, ""
    runs = searched = 0
    for start, end in _url_run_spans(normalized):
        run = normalized[start:end]
        total += _plain_weight(normalized[position:start])
        if _searchable(run):
            runs, searched = runs + 1, searched + len(run)
            urls = _tables().extract_urls(run)
            total += sum(unit.weight for unit in _walk(run, urls)) if urls else _plain_weight(run)
        else:
            unsearched = unsearched or run
            total += _plain_weight(run)
        position = end
        over_budget = runs >= _SEARCH_BUDGET_RUNS or searched >= _SEARCH_BUDGET_CHARS
        if over_budget and total > MAX_WEIGHTED_LENGTH * _SCALE and end < len(normalized):
            return Measure(total // _SCALE, at_least=True, unsearched=unsearched)
    length = (total + _plain_weight(normalized[position:])) // _SCALE
    return Measure(max(length, MAX_WEIGHTED_LENGTH + 1) if unsearched else length, unsearched=unsearched)


def weighted_length(text: str) -> int:
    """The length X counts against its 280 limit (see `measure` for when it is a lower bound)."""
    return measure(text).length


def fits(text: str) -> bool:
    """Whether `text` is at most 280 as X counts; a text too long to fit is not counted."""
    normalized = _normalize(text)
    return len(normalized) <= MAX_FITTING_CHARS and weighted_length(normalized) <= MAX_WEIGHTED_LENGTH


def is_valid(text: str) -> bool:
    """What X accepts: not blank, no invalid characters, at most 280 weighted."""
    normalized = _normalize(text)
    return bool(normalized.strip()) and _tables().invalid.search(normalized) is None and fits(normalized)


def without_invalid(text: str) -> str:
    """`text` without the characters X refuses a post for (twitter-text's: U+FFFE, U+FEFF, U+FFFF)."""
    return _tables().invalid.sub("", text)


# -- units, for cutting --------------------------------------------------------------------------

def _run_units(run: str) -> Iterator[Unit]:
    urls = []
    if _searchable(run) and _may_hold_url(run):  # (a long run is not searched: no need to look)
        urls = _tables().extract_urls(run)
    return _walk(run, urls)


_MARKS = ("\u200d", "\ufe0f", "\u200c")  # ZWJ, VS16, ZWNJ outside an emoji: cut with what they follow


def _units(normalized: str) -> Iterator[Unit]:
    pending = None
    for run in _runs(normalized):
        for unit in _run_units(run.group()):
            if (pending is not None and not pending.url and not unit.url and len(unit.text) == 1
                    and (unicodedata.combining(unit.text) or unit.text in _MARKS)):
                # A mark belongs to the character before it: counted on its own, cut with it.
                pending = Unit(pending.text + unit.text, pending.weight + unit.weight)
                continue
            if pending is not None:
                yield pending
            pending = unit
    if pending is not None:
        yield pending


def units(text: str, limit: int | None = None) -> list[Unit]:
    """The text (normalised as X counts it) as units, only the first `limit` of them when given."""
    return list(itertools.islice(_units(_normalize(text)), limit))


def unit_count(text: str, limit: int | None = None) -> int:
    """How many units `text` has, counting no further than `limit` when given."""
    return sum(1 for _ in itertools.islice(_units(_normalize(text)), limit))


def shorten(text: str, keep: int) -> str:
    """`text` cut to its first `keep` units (never inside a URL, emoji or combining sequence) with `…`.

    The text comes back normalised as X counts it (NFC, LF line breaks), cut or not.
    """
    normalized = _normalize(text)
    pieces = list(itertools.islice(_units(normalized), keep + 1))
    if len(pieces) <= keep:
        return normalized
    return "".join(unit.text for unit in pieces[:keep]).rstrip() + "…"


def extract_urls(text: str) -> list[Url]:
    """Where the URLs X would count as 23 are, in order, in the normalised text."""
    normalized = _normalize(text)
    return [Url(start + url["indices"][0], start + url["indices"][1])
            for start, end in _url_run_spans(normalized) if _searchable(normalized[start:end])
            for url in _tables().extract_urls(normalized[start:end])]
