from hypothesis import given
from hypothesis import strategies as st

from importers.lines import iter_lines


def chunks_of(data: bytes, size: int):
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_lines_numbers_and_offsets():
    data = b'{"a":1}\r\n{"b":2}\n\n{"c":3}'

    assert list(iter_lines(chunks_of(data, 3), max_line_bytes=100)) == [
        (1, b'{"a":1}', 9),
        (2, b'{"b":2}', 17),
        (3, b"", 18),
        (4, b'{"c":3}', 25),
    ]


def test_an_overlong_line_is_none_and_the_next_line_survives():
    data = b"x" * 50 + b"\nok\n" + b"y" * 30

    assert [(n, line) for n, line, _ in iter_lines(chunks_of(data, 7), max_line_bytes=10)] == [
        (1, None),
        (2, b"ok"),
        (3, None),
    ]


def test_resuming_from_an_offset_continues_the_numbering():
    data = b"a\nb\nc\n"
    first = list(iter_lines([data], max_line_bytes=10))
    _, _, after_first = first[0]

    resumed = list(iter_lines([data[after_first:]], max_line_bytes=10, first_line=2))

    assert [(n, line) for n, line, _ in resumed] == [(2, b"b"), (3, b"c")]


@given(
    lines=st.lists(st.binary(max_size=40).filter(lambda b: b"\n" not in b and b"\r" not in b), max_size=30),
    size=st.integers(1, 64),
)
def test_any_chunking_gives_the_same_lines(lines, size):
    data = b"".join(line + b"\n" for line in lines)

    read = [line for _, line, _ in iter_lines(chunks_of(data, size), max_line_bytes=1000)]

    assert read == lines


@given(
    lines=st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), min_size=1, max_size=30),
    chunk=st.integers(min_value=1, max_value=9),
    cuts=st.lists(st.integers(min_value=0, max_value=29), min_size=1, max_size=2),
)
def test_resuming_at_a_stored_offset_twice_reads_exactly_what_an_uninterrupted_read_reads(lines, chunk, cuts):
    data = b"\n".join(lines) + b"\n"
    whole = list(iter_lines(chunks_of(data, chunk), max_line_bytes=100))
    read, line, offset = [], 0, 0
    for cut in sorted(cuts):  # a worker killed after `cut` lines, resumed from the checkpoint it stored
        resumed = iter_lines(
            chunks_of(data[offset:], chunk), max_line_bytes=100, first_line=line + 1, first_offset=offset
        )
        for item in resumed:
            read.append(item)
            line, offset = item[0], item[2]
            if line > cut:
                break
    read += list(
        iter_lines(chunks_of(data[offset:], chunk), max_line_bytes=100, first_line=line + 1, first_offset=offset)
    )

    assert read == whole
    assert all(data[end - 1 : end] == b"\n" for _, _, end in whole)  # every offset is a line's end in the file
