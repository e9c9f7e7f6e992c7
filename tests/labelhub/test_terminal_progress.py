import io

from labelhub.terminal_progress import Progress


def test_the_progress_line_shows_rows_rate_and_time_left():
    stream = io.StringIO()
    progress = Progress("export pairs", total=200, stream=stream, interval=0, force=True)
    for _ in range(50):
        progress.advance()
    line = stream.getvalue().rsplit("\r", 1)[-1]
    assert line.startswith("export pairs: 50/200 rows (25%) · ") and "rows/s · ETA " in line


def test_nothing_is_written_when_the_output_is_not_a_terminal():
    stream = io.StringIO()
    rows = list(Progress("import", total=3, stream=stream, interval=0).track(range(3)))
    assert rows == [0, 1, 2] and stream.getvalue() == ""


def test_an_abandoned_line_is_erased():
    stream = io.StringIO()
    progress = Progress("import", total=10, stream=stream, interval=0, force=True)
    progress.advance(4)
    progress.abandon()
    assert stream.getvalue().endswith("\r\033[K") and "4/10" in stream.getvalue()
