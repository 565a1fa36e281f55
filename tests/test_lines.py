"""Splitting pipe bytes into lines: partial tails, overlong lines, bad UTF-8, the last line."""

import random

from jupyter_fujita.lines import LineSplitter


def test_lines_split_across_reads_are_joined():
    splitter = LineSplitter()
    assert splitter.feed(b"hel") == []
    assert splitter.feed(b"lo\nwor") == ["hello"]
    assert splitter.feed(b"ld\n\nnext") == ["world", ""]
    assert splitter.flush() == ["next"]


def test_final_line_without_newline_is_not_lost():
    splitter = LineSplitter()
    assert splitter.feed(b"one\ntwo") == ["one"]
    assert splitter.flush() == ["two"]
    assert splitter.flush() == []


def test_invalid_utf8_is_replaced_and_multibyte_split_across_reads_survives():
    splitter = LineSplitter()
    snowman = "☃".encode()
    assert splitter.feed(b"bad \xff\xfe byte\n" + snowman[:1]) == ["bad \ufffd\ufffd byte"]
    assert splitter.feed(snowman[1:] + b"\n") == ["☃"]


def test_crlf_endings_are_stripped():
    assert LineSplitter().feed(b"a\r\nb\r\n") == ["a", "b"]


def test_overlong_line_is_cut_marked_and_the_rest_of_it_dropped():
    splitter = LineSplitter(max_line_bytes=100)
    out = splitter.feed(b"x" * 250)
    assert len(out) == 1 and out[0].startswith("x" * 100) and "cut at 100 bytes" in out[0]
    assert splitter.feed(b"x" * 1000) == []
    assert splitter.feed(b"xxx\nafter\n") == ["after"]
    assert splitter.pending == b""


def test_overlong_line_inside_one_read_is_cut():
    splitter = LineSplitter(max_line_bytes=10)
    out = splitter.feed(b"short\n" + b"y" * 50 + b"\nok\n")
    assert out[0] == "short" and out[2] == "ok"
    assert out[1].startswith("y" * 10) and "cut at 10 bytes" in out[1]


def test_ten_megabyte_line_keeps_memory_bounded():
    splitter = LineSplitter(max_line_bytes=64 * 1024)
    chunk = b"z" * 65536
    published = []
    for _ in range(160):
        published += splitter.feed(chunk)
        assert len(splitter.pending) <= 64 * 1024
    published += splitter.feed(b"\n")
    assert len(published) == 1


def test_a_line_over_the_limit_is_found_in_a_block_of_any_size():
    from jupyter_fujita.lines import _has_longer_line

    for lengths in ([10] * 50, [10, 40, 10], [41], [40, 0, 40, 1, 40], [39, 41, 3], [0, 0, 60]):
        block = b"\n".join(b"x" * n for n in lengths)
        assert _has_longer_line(block, 0, len(block), 40) == (max(lengths) > 40), lengths
    # a flood's 256 KiB read with one overlong line in it: cut, the rest kept whole
    splitter = LineSplitter(max_line_bytes=1_000)
    chunk = b"a" * 99 + b"\n"
    data = chunk * 1_000 + b"b" * 5_000 + b"\n" + chunk * 1_000
    texts = splitter.feed(data)
    assert len(texts) == 2_001 and texts[1_000].endswith("[… line cut at 1000 bytes]")
    assert texts[0] == texts[-1] == "a" * 99


def test_a_reused_read_buffer_splits_as_the_same_bytes_read_whole():
    """read_pipe hands the splitter its one read buffer and the size read: the lines are the
    same however the bytes were cut into reads (tails, overlong lines, CRLF, split characters)."""
    rng = random.Random(16)
    words = [b"a" * 99, b"", "☃ snow".encode(), b"crlf\r", b"y" * 300, b"\xff bad", b"z" * 64]
    data = b"\n".join(rng.choice(words) for _ in range(3_000)) + b"\nlast"
    whole = LineSplitter(max_line_bytes=200)
    expected = whole.feed(data) + whole.flush()
    splitter, buffer, texts, at = LineSplitter(max_line_bytes=200), bytearray(4096), [], 0
    while at < len(data):
        size = rng.choice([1, 2, 7, 100, 250, 4096])
        read = data[at : at + size]
        buffer[: len(read)] = read
        texts += splitter.feed(buffer, len(read))
        at += len(read)
    assert texts + splitter.flush() == expected
    assert any("cut at 200 bytes" in text for text in expected) and "☃ snow" in expected
