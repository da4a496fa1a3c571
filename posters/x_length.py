"""How long X says a post is: twitter-text's v3 weighted length, in pure Python.

X does not count characters. It counts (after Unicode NFC normalisation):

* each URL as 23, however long it is;
* each emoji (a whole sequence: skin tones, ZWJ families, flags, keycaps) as 2;
* each other code point as 1 when it lies in one of the "light" ranges below (Latin, Greek,
  Cyrillic, ..., some general punctuation), else 2 (CJK, most symbols, everything astral);

and allows 280. A draft longer than that is refused by the API as rejected content, so drafts are
measured here before they are ever sent (`tests/posters/test_x_length.py` checks every case of
twitter-text's conformance suite).

URLs are recognised the way twitter-text does for the cases that matter to meetup posts:
`http(s)://` followed by a domain (any TLD, IDN included) whose labels fit 63 characters once
punycode-encoded; without a protocol only for ASCII domains with a known TLD (a ccTLD then
needs a path, except .co and .tv), not glued to a preceding word, `@`, `$` or `#`.
Known gap: twitter-text ships the full IANA TLD list; `_GENERIC_TLDS` holds the common ones, so a
bare `example.somerare` in user text counts by its characters here but 23 on X (X then
measures it shorter than we do, never longer).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_WEIGHTED_LENGTH = 280
URL_WEIGHT = 23
_SCALE = 100
_DEFAULT_WEIGHT = 200
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_INVALID = frozenset("\ufffe\ufeff\uffff")

_CCTLDS = frozenset("""
ac ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bm bn bo br bs bt bw by
bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg er es et eu fi
fj fk fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im
in io iq ir is it je jm jo jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc
md me mg mh mk ml mm mn mo mp mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa
pe pf pg ph pk pl pm pn pr ps pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si sk sl sm sn so sr ss
st su sv sx sy sz tc td tf tg th tj tk tl tm tn to tr tt tv tw tz ua ug uk us uy uz va vc ve vg vi vn
vu wf ws ye yt za zm zw
""".split())
_GENERIC_TLDS = frozenset("""
com net org edu gov mil int info biz name pro aero coop museum mobi asia tel travel jobs cat post xxx
app dev page blog shop store online site tech xyz club live news cloud design art space website fun
top icu vip work world today life email social events community network studio agency media digital
center solutions group company global city london berlin paris tokyo nyc sydney melbourne amsterdam
academy school training education foundation org ngo ong love photo photography music video games
game tv run fit health care help services software systems technology engineering consulting
zone link click one land plus team tools wiki meet chat party dance cafe bar restaurant pizza
google microsoft apple amazon
""".split())


def _is_light(code: int) -> bool:
    return any(low <= code <= high for low, high in _LIGHT_RANGES)


def _char_weight(char: str) -> int:
    return 100 if _is_light(ord(char)) else _DEFAULT_WEIGHT


# -- URLs ---------------------------------------------------------------------------------------

_LABEL = r"[^\W_](?:[\w-]*[^\W_])?"
_URL = re.compile(
    r"(?P<protocol>https?://)?"
    rf"(?P<domain>(?:{_LABEL}\.)+(?P<tld>{_LABEL}))"
    r"(?P<port>:\d{1,5})?"
    r"(?P<path>[/?#][^\s]*)?",
    re.IGNORECASE,
)
_BAD_PRECEDING = re.compile(r"[A-Za-z0-9@\uff20$#\uff03]\Z")
_BAD_PRECEDING_NO_PROTOCOL = re.compile(r"[-_./]\Z")
_PATH_END_OK = re.compile(r"[\w=#/+\-&)]\Z")


@dataclass(frozen=True)
class Url:
    start: int
    end: int


def _label_ok(label: str) -> bool:
    if label.isascii():
        return len(label) <= 63
    try:
        return len("xn--" + label.encode("punycode").decode("ascii")) <= 63
    except UnicodeError:
        return False


def _trim_path(path: str) -> str:
    # A URL's path does not end in sentence punctuation ("see https://x.co/a." is x.co/a), and a
    # closing parenthesis belongs to it only when the path opened one.
    while path and (not _PATH_END_OK.search(path) or (path.endswith(")") and path.count("(") < path.count(")"))):
        path = path[:-1]
    return path


def extract_urls(text: str) -> list[Url]:
    """Where the URLs X would count as 23 are, in order (on NFC-normalised text)."""
    found = []
    position = 0
    while True:
        match = _URL.search(text, position)
        if match is None:
            return found
        start = match.start()
        protocol, domain, tld = match.group("protocol"), match.group("domain"), match.group("tld")
        end = match.end("port") if match.group("port") else match.end("domain")
        path = _trim_path(match.group("path") or "")
        end += len(path)
        position = match.end()
        before = text[:start]
        if _BAD_PRECEDING.search(before):
            # Mid-word: let the search try again from the next character.
            position = start + 1
            continue
        if not all(_label_ok(label) for label in domain.split(".")):
            continue
        if len(text[start:end]) > 4096:
            continue
        if protocol is None:
            tld_lower = tld.lower()
            if _BAD_PRECEDING_NO_PROTOCOL.search(before) or not domain.isascii():
                continue
            if tld_lower in _CCTLDS:
                if not path and tld_lower not in ("co", "tv"):
                    continue
            elif tld_lower not in _GENERIC_TLDS:
                continue
        else:
            if not (tld.isalpha() and len(tld) >= 2):
                continue
        found.append(Url(start, end))


# -- emoji --------------------------------------------------------------------------------------

_PICTOGRAPHIC_RANGES = (
    (0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2300, 0x23FF), (0x2B00, 0x2BFF), (0x2190, 0x21FF),
    (0x25A0, 0x25FF), (0x2934, 0x2935), (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3297),
    (0x3299, 0x3299), (0x203C, 0x203C), (0x2049, 0x2049), (0x2122, 0x2122), (0x2139, 0x2139),
    (0x24C2, 0x24C2),
)
_NEEDS_VS16 = frozenset("\u00a9\u00ae")  # light characters that are emoji only with U+FE0F
_ZWJ, _VS16, _KEYCAP, _CANCEL_TAG = "\u200d", "\ufe0f", "\u20e3", "\U000e007f"


def _pictographic(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _PICTOGRAPHIC_RANGES)


def _regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _skin_tone(char: str) -> bool:
    return 0x1F3FB <= ord(char) <= 0x1F3FF


def _emoji_element(text: str, i: int) -> int:
    """The end of the emoji element starting at `i`, or `i` when none starts there."""
    n = len(text)
    char = text[i]
    if char in "0123456789#*":
        j = i + 1
        if j < n and text[j] == _VS16:
            j += 1
        return j + 1 if j < n and text[j] == _KEYCAP else i
    if char in _NEEDS_VS16:
        return i + 2 if i + 1 < n and text[i + 1] == _VS16 else i
    if _regional(char):
        return i + 2 if i + 1 < n and _regional(text[i + 1]) else i + 1
    if not _pictographic(char):
        return i
    j = i + 1
    if char == "\U0001f3f4" and j < n and 0xE0020 <= ord(text[j]) <= 0xE007E:
        while j < n and 0xE0020 <= ord(text[j]) <= 0xE007E:
            j += 1
        return j + 1 if j < n and text[j] == _CANCEL_TAG else i + 1
    if j < n and text[j] == _VS16:
        j += 1
    if j < n and _skin_tone(text[j]):
        j += 1
    return j


def _emoji_end(text: str, i: int) -> int:
    """The end of the whole emoji sequence (ZWJ-joined elements) starting at `i`, or `i`."""
    end = _emoji_element(text, i)
    if end == i:
        return i
    while end + 1 < len(text) and text[end] == _ZWJ:
        following = _emoji_element(text, end + 1)
        if following == end + 1:
            break
        end = following
    return end


# -- the count ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Unit:
    """A piece of text that is counted, and may be cut, only as a whole."""
    text: str
    weight: int  # in hundredths, as twitter-text counts


def units(text: str) -> list[Unit]:
    """The text (NFC) as URLs, emoji sequences and single characters with their combining marks."""
    text = unicodedata.normalize("NFC", text)
    urls = {url.start: url.end for url in extract_urls(text)}
    out: list[Unit] = []
    i = 0
    while i < len(text):
        if i in urls:
            out.append(Unit(text[i:urls[i]], URL_WEIGHT * _SCALE))
            i = urls[i]
            continue
        end = _emoji_end(text, i)
        if end > i:
            out.append(Unit(text[i:end], _DEFAULT_WEIGHT))
            i = end
            continue
        char = text[i]
        if out and (unicodedata.combining(char) or char in (_ZWJ, _VS16, "\u200c")) and out[-1].weight != URL_WEIGHT * _SCALE:
            # A mark belongs to the character before it: counted on its own, cut with it.
            out[-1] = Unit(out[-1].text + char, out[-1].weight + _char_weight(char))
        else:
            out.append(Unit(char, _char_weight(char)))
        i += 1
    return out


def weighted_length(text: str) -> int:
    """The length X counts against its 280 limit (rounded down, as twitter-text does)."""
    return sum(unit.weight for unit in units(text)) // _SCALE


def is_valid(text: str) -> bool:
    """What X accepts: not blank, no invalid characters, at most 280 weighted."""
    normalized = unicodedata.normalize("NFC", text)
    return bool(normalized.strip()) and not (_INVALID & set(normalized)) and weighted_length(text) <= MAX_WEIGHTED_LENGTH


def shorten(text: str, keep: int) -> str:
    """`text` cut to its first `keep` units (never inside a URL, emoji or combining sequence) with `…`."""
    pieces = units(text)
    if keep >= len(pieces):
        return unicodedata.normalize("NFC", text)
    return "".join(unit.text for unit in pieces[:keep]).rstrip() + "…"


def unit_count(text: str) -> int:
    return len(units(text))
