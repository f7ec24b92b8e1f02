"""Reading a manifest as lines from a stream of chunks, in bounded memory (pure)."""

from collections.abc import Iterable, Iterator


def iter_lines(
    chunks: Iterable[bytes], *, max_line_bytes: int, first_line: int = 1, first_offset: int = 0
) -> Iterator[tuple[int, bytes | None, int]]:
    """Yield (line number, line without its end, byte offset just after the line) for every line.

    A line longer than `max_line_bytes` is yielded as None and never held whole in memory (a 1 GB file
    without a newline costs one chunk at a time). `\\r\\n` and `\\n` both end a line; a last line without an
    end is yielded too. Offsets are of the file: `first_offset` is where the stream starts in it (a resumed
    read), so an offset stored after a resume is still one a reader can resume at.
    """
    number = first_line
    offset = first_offset
    buffer = b""
    overlong = False
    for chunk in chunks:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                if not overlong:
                    buffer += chunk[start:]
                    if len(buffer) > max_line_bytes:
                        buffer, overlong = b"", True
                offset += len(chunk) - start
                break
            offset += end + 1 - start
            if overlong:
                yield number, None, offset
            else:
                line = buffer + chunk[start:end]
                line = line[:-1] if line.endswith(b"\r") else line
                yield number, (line if len(line) <= max_line_bytes else None), offset
            number += 1
            buffer, overlong, start = b"", False, end + 1
    if overlong:
        yield number, None, offset
    elif buffer:
        yield number, buffer[:-1] if buffer.endswith(b"\r") else buffer, offset


def count_lines(chunks: Iterable[bytes], *, stop_after: int | None = None) -> int:
    """The number of lines `iter_lines` yields for the same chunks, counted without splitting them (a
    1 GB manifest in about a second). Stops reading once the count passes `stop_after`."""
    count = 0
    last = b"\n"
    for chunk in chunks:
        if not chunk:
            continue
        count += chunk.count(b"\n")
        last = chunk[-1:]
        if stop_after is not None and count > stop_after:
            return count
    return count + (last != b"\n")
