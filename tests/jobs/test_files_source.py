"""The files source through the real loader: redeliveries, growth, rotation, gzip, odd files."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time

import pytest

from jobs.ingest.run import ingest
from tests.support.records import envelope, line, query, write_lines


def joined(i: int, user: str | None = None, **extra) -> dict:
    return envelope(id=f"e{i}", data={"user_id": user or f"u{i}"}, **extra)


def events(config) -> list[tuple[str, str]]:
    return query(config, "SELECT source, id FROM events ORDER BY seq")


def files_config(make_config, folder, settle_seconds=300):
    return make_config(sources={"exports": {"kind": "files", "path": str(folder), "settle_seconds": settle_seconds}})


def test_redeliveries_within_a_file_across_files_and_runs(config, tmp_path):
    write_lines(tmp_path / "in" / "a.ndjson", [joined(1), joined(2), joined(1)])
    write_lines(tmp_path / "in" / "b.ndjson", [joined(2), joined(3)])
    first = ingest(config, files=[str(tmp_path / "in")])
    assert (first.accepted, first.duplicates, first.rejected) == (3, 2, 0)
    write_lines(tmp_path / "later.ndjson", [joined(3), joined(4)])
    second = ingest(config, files=[str(tmp_path / "later.ndjson")])
    assert (second.accepted, second.duplicates, second.rejected) == (1, 1, 0)
    assert [id_ for _, id_ in events(config)] == ["e1", "e2", "e3", "e4"]


def test_a_redelivery_with_other_key_order_and_spacing_is_a_duplicate(config, tmp_path):
    record = joined(1)
    reordered = '{ "data" : {"user_id":"u1"}, ' + line({k: v for k, v in record.items() if k != "data"})[1:]
    write_lines(tmp_path / "a.ndjson", [line(record), reordered])
    summary = ingest(config, files=[str(tmp_path / "a.ndjson")])
    assert (summary.accepted, summary.duplicates, summary.rejected) == (1, 1, 0)


def test_conflicting_duplicate_keeps_the_first(config, tmp_path):
    write_lines(tmp_path / "a.ndjson", [joined(1, "alice")])
    write_lines(tmp_path / "b.ndjson", [joined(1, "bob"), envelope(id="e1", source="other/src")])
    ingest(config, files=[str(tmp_path / "a.ndjson")])
    summary = ingest(config, files=[str(tmp_path / "b.ndjson")])
    assert (summary.accepted, summary.duplicates, summary.rejected) == (1, 0, 1)  # other source: new event
    assert query(config, "SELECT data->>'user_id' FROM events WHERE source = 'platform/au'") == [("alice",)]
    [(location, reason)] = query(config, "SELECT location, reason FROM rejects")
    assert (location.endswith("b.ndjson:1"), reason) == (True, "conflicting_duplicate")


def test_integer_and_float_are_different_content(config, tmp_path):
    created = {"event_id": "m", "title": "t", "starts_at": "2026-04-01T18:30:00Z"}
    write_lines(tmp_path / "a.ndjson", [
        envelope(id="c", type="event:created", data={**created, "seats": 1}),
        envelope(id="c", type="event:created", data={**created, "seats": 1.0}),
    ])
    summary = ingest(config, files=[str(tmp_path / "a.ndjson")])
    assert (summary.accepted, summary.rejected) == (1, 1)


def test_first_means_first_in_path_order_including_subfolders(config, tmp_path):
    write_lines(tmp_path / "in" / "b" / "x.ndjson", [joined(1, "from-b-x")])
    write_lines(tmp_path / "in" / "a.ndjson", [joined(1, "from-a")])
    write_lines(tmp_path / "in" / "c.jsonl", [joined(1, "from-c")])
    (tmp_path / "in" / "notes.txt").write_text("not an export\n")
    summary = ingest(config, files=[str(tmp_path / "in")])
    assert (summary.accepted, summary.rejected) == (1, 2)
    assert query(config, "SELECT data->>'user_id' FROM events") == [("from-a",)]
    assert sorted(loc.rsplit("/", 1)[1] for (loc,) in query(config, "SELECT location FROM rejects")) == [
        "c.jsonl:1", "x.ndjson:1"]


def test_a_file_that_grows_is_read_from_where_it_stopped(make_config, tmp_path):
    folder = tmp_path / "in"
    config = files_config(make_config, folder)
    path = write_lines(folder / "a.ndjson", [joined(1), joined(2)])
    assert ingest(config).accepted == 2
    with open(path, "a") as handle:
        handle.write(line(joined(3)) + "\n" + "{broken\n")
    second = ingest(config)
    assert (second.accepted, second.duplicates, second.rejected) == (1, 0, 1)
    assert query(config, "SELECT location FROM rejects") == [(f"{folder}/a.ndjson:4",)]
    third = ingest(config)  # unchanged: nothing read again
    assert (third.accepted, third.duplicates, third.rejected) == (0, 0, 0)


def test_an_unfinished_last_line_waits_until_the_file_settles(make_config, tmp_path):
    folder = tmp_path / "in"
    config = files_config(make_config, folder, settle_seconds=3600)
    path = folder / "a.ndjson"
    partial = line(joined(2))
    folder.mkdir()
    path.write_text(line(joined(1)) + "\n" + partial[:30])
    assert (ingest(config).accepted, query(config, "SELECT count(*) FROM rejects")) == (1, [(0,)])
    with open(path, "a") as handle:  # the writer finishes the line
        handle.write(partial[30:] + "\n")
    summary = ingest(config)
    assert (summary.accepted, summary.rejected) == (1, 0)
    assert [id_ for _, id_ in events(config)] == ["e1", "e2"]


def test_an_unfinished_last_line_is_taken_once_the_file_stopped_changing(make_config, tmp_path):
    folder = tmp_path / "in"
    config = files_config(make_config, folder, settle_seconds=3600)
    folder.mkdir()
    (folder / "a.ndjson").write_text(line(joined(1)) + "\n" + line(joined(2)))
    assert ingest(config).accepted == 1          # the tail may still be being written
    assert ingest(config).accepted == 1          # unchanged since the last pull: taken as it is
    assert ingest(config).accepted == 0


def test_an_old_unfinished_last_line_is_taken_at_once(make_config, tmp_path):
    folder = tmp_path / "in"
    config = files_config(make_config, folder, settle_seconds=60)
    folder.mkdir()
    path = folder / "a.ndjson"
    path.write_text(line(joined(1)) + "\n" + line(joined(2))[:-5])
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))
    summary = ingest(config)
    assert (summary.accepted, summary.rejected) == (1, 1)
    assert query(config, "SELECT reason FROM rejects") == [("invalid_json",)]


def test_a_rotated_file_is_read_again_and_dedupe_keeps_it_exact(make_config, tmp_path):
    folder = tmp_path / "in"
    config = files_config(make_config, folder)
    path = write_lines(folder / "current.ndjson", [joined(1), joined(2), "{bad"])
    assert ingest(config).accepted == 2
    write_lines(path, [joined(9), joined(2)])  # replaced: other first bytes, shorter
    summary = ingest(config)
    assert (summary.accepted, summary.duplicates, summary.rejected) == (1, 1, 0)
    write_lines(path, [joined(9), joined(2), "{worse"])  # same first bytes, grew: read on
    summary = ingest(config)
    assert (summary.accepted, summary.duplicates, summary.rejected) == (0, 0, 1)
    assert [id_ for _, id_ in events(config)] == ["e1", "e2", "e9"]


def test_reading_a_file_again_does_not_record_its_rejects_twice(make_config, tmp_path):
    folder = tmp_path / "in"
    config = files_config(make_config, folder)
    path = write_lines(folder / "a.ndjson", [joined(1), "{bad"])
    ingest(config)
    # Replaced by a file with other first bytes: read again from the start. Line 2 is the same
    # reject as before (a duplicate, not recorded again); line 3 is new.
    write_lines(path, [joined(5), "{bad", "{worse"])
    summary = ingest(config)
    assert (summary.accepted, summary.duplicates, summary.rejected) == (1, 1, 1)
    assert query(config, "SELECT location, raw FROM rejects ORDER BY location") == [
        (f"{folder}/a.ndjson:2", "{bad"), (f"{folder}/a.ndjson:3", "{worse")]


def test_gzip_files_and_their_growth(make_config, tmp_path):
    folder = tmp_path / "in"
    config = files_config(make_config, folder)
    folder.mkdir()
    path = folder / "old.ndjson.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(line(joined(1)) + "\n" + "[1]\n")
    first = ingest(config)
    assert (first.accepted, first.rejected) == (1, 1)
    with gzip.open(path, "at") as handle:  # a second gzip member appended
        handle.write(line(joined(2)) + "\n")
    second = ingest(config)
    assert (second.accepted, second.duplicates, second.rejected) == (1, 0, 0)
    assert query(config, "SELECT location FROM rejects") == [(f"{folder}/old.ndjson.gz:2",)]


def test_empty_file_and_blank_lines(config, tmp_path):
    (tmp_path / "empty.ndjson").write_bytes(b"")
    write_lines(tmp_path / "blanks.ndjson", ["", "   ", "\t", joined(1), " \r", ""])
    summary = ingest(config, files=[str(tmp_path / "empty.ndjson"), str(tmp_path / "blanks.ndjson")])
    assert (summary.accepted, summary.duplicates, summary.rejected) == (1, 0, 0)


def test_a_file_that_is_not_utf8(config, tmp_path):
    good = line(joined(1)).encode()
    latin1 = line(joined(2, "José")).encode("latin-1")
    (tmp_path / "mixed.ndjson").write_bytes(good + b"\n" + latin1 + b"\n" + line(joined(3)).encode() + b"\n")
    summary = ingest(config, files=[str(tmp_path / "mixed.ndjson")])
    assert (summary.accepted, summary.rejected) == (2, 1)
    [(location, reason, raw)] = query(config, "SELECT location, reason, raw FROM rejects")
    assert location.endswith("mixed.ndjson:2") and reason == "invalid_utf8"
    assert "Jos\\xe9" in raw


def test_crlf_lines_are_accepted(config, tmp_path):
    (tmp_path / "win.ndjson").write_bytes((line(joined(1)) + "\r\n" + line(joined(2)) + "\r\n").encode())
    assert ingest(config, files=[str(tmp_path / "win.ndjson")]).accepted == 2


def test_lines_longer_than_a_batch_and_many_batches(make_config, tmp_path):
    config = make_config(ingest={"batch_bytes": 1024})
    long_title = "x" * 5000
    records = [envelope(id=f"m{i}", type="event:created",
                        data={"event_id": f"m{i}", "title": long_title if i % 7 == 0 else f"t{i}",
                              "starts_at": "2026-04-01T18:30:00Z"}) for i in range(60)]
    write_lines(tmp_path / "a.ndjson", records)
    summary = ingest(config, files=[str(tmp_path / "a.ndjson")])
    assert (summary.accepted, summary.rejected) == (60, 0)
    assert query(config, "SELECT min(seq), max(seq), count(DISTINCT seq) FROM events") == [(1, 60, 60)]
    assert [id_ for _, id_ in events(config)] == [f"m{i}" for i in range(60)]


def test_bytes_appended_after_the_pull_looked_wait_for_the_next_pull(make_config, tmp_path):
    from jobs.ingest.sources.files import FilesSource, discover

    folder = tmp_path / "in"
    path = write_lines(folder / "a.ndjson", [joined(1)])
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))  # at rest: an unfinished tail would be taken
    source = FilesSource("exports", lambda: discover(str(folder), tmp_path), batch_bytes=1024, settle_seconds=60)
    batches = source.batches(None)
    first = next(batches)  # the file was looked at (size, age) and its first batch read
    with open(path, "a") as handle:  # meanwhile the exporter starts the next line
        handle.write(line(joined(2))[:20])
    rest = list(batches)
    raws = first.raws + [raw for batch in rest for raw in batch.raws]
    assert raws == [line(joined(1))]
    assert rest[-1].position["files"][str(path.resolve())]["offset"] == len(line(joined(1))) + 1


# -- damaged gzip files: the complete lines go in, the file is named, the run fails ------------


def _lines(count: int) -> bytes:
    return "".join(line(envelope(id=f"g{i}")) + "\n" for i in range(count)).encode()


def _damaged(kind: str, payload: bytes) -> bytes:
    whole = gzip.compress(payload)
    if kind == "truncated":
        return whole[: len(whole) * 2 // 3]
    if kind == "corrupt":
        # Two members; the second's first deflate block has the reserved block type (0b11), which
        # no decompressor accepts: the first member's lines are all there is.
        half = payload[: len(payload) // 2]
        half = half[: half.rfind(b"\n") + 1]
        second = bytearray(gzip.compress(payload[len(half):]))
        second[10] = 0b111
        return gzip.compress(half) + bytes(second)
    return payload  # "not gzip": plain NDJSON under a .gz name


@pytest.mark.parametrize("kind", ["truncated", "corrupt", "not gzip"])
def test_a_damaged_gzip_loads_its_complete_lines_and_fails_the_run(make_config, tmp_path, kind):
    import subprocess
    import sys
    import zlib

    payload = _lines(20_000)
    (tmp_path / "in").mkdir()
    path = tmp_path / "in" / "damaged.ndjson.gz"
    path.write_bytes(_damaged(kind, payload))
    # The oracle: what zlib itself can decompress of the file, cut at its last newline.
    readable = b"" if kind == "not gzip" else zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(path.read_bytes())
    # (one decompressobj reads one member: for "corrupt", the good first one)
    complete = readable[: readable.rfind(b"\n") + 1].count(b"\n")
    assert kind == "not gzip" or 0 < complete < 20_000

    result = subprocess.run([sys.executable, "-m", "pulse", "--data-dir", str(tmp_path / "w"), "ingest", "--file",
                             str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    message = result.stderr.strip().splitlines()
    said = "not a gzip file" if kind == "not gzip" else "damaged gzip file"
    assert len(message) == 1 and said in message[0] and "damaged.ndjson.gz" in message[0], message
    assert "Traceback" not in result.stderr
    config = make_config(warehouse={"data_dir": str(tmp_path / "w")})
    assert query(config, "SELECT count(*) FROM events") == [(complete,)]
    assert query(config, "SELECT count(*) FROM rejects") == [(0,)]  # the cut line is no record
    # Not silent the next time either, and nothing twice.
    again = subprocess.run(result.args, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and said in again.stderr
    assert query(config, "SELECT count(*) FROM events") == [(complete,)]


def test_a_gzip_still_being_written_waits_until_it_settles(make_config, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    whole = gzip.compress(_lines(5_000))
    (folder / "growing.ndjson.gz").write_bytes(whole[: len(whole) // 2])
    config = make_config(sources={"exports": {"kind": "files", "path": str(folder), "settle_seconds": 3600}})
    first = ingest(config)
    assert first.errors == [] and 0 < first.accepted < 5_000
    (folder / "growing.ndjson.gz").write_bytes(whole)  # the writer finished the member
    second = ingest(config)
    assert second.errors == [] and first.accepted + second.accepted == 5_000


def test_an_ingest_does_not_import_pandas(config, tmp_path):
    # pyarrow imports pandas the first time pa.array, pa.table or to_numpy is called (0.17 s at
    # the start of every run); jobs/ingest/arrow.py builds what ingest needs without them.
    # (a redelivery, a reject, and an id with a quote: valid, but only the full tier says so)
    records = [joined(1), joined(2), joined(1), {"specversion": "1.0"}, envelope(id='e"3', data={"user_id": "u3"})]
    write_lines(tmp_path / "a.ndjson", records)
    with open(tmp_path / "a.ndjson", "ab") as out:
        out.write(b"{not json, \xff}\n")
    script = (
        "import sys, pathlib\n"
        "from pulse.core.config import from_dict\n"
        "from jobs.ingest.run import ingest\n"
        f"config = from_dict({{'warehouse': {{'data_dir': {str(config.data_dir)!r}}}}}, base_dir=pathlib.Path({str(tmp_path)!r}))\n"
        f"print(ingest(config, files=[{str(tmp_path / 'a.ndjson')!r}]).line(), 'pandas' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "accepted 3, duplicates 1, rejected 2 False"
    assert [id_ for _, id_ in events(config)] == ["e1", "e2", 'e"3']
