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
