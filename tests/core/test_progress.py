"""Progress on stderr: every phase says when it starts and ends, an ETA is shown only
while work remains (never "eta 0s" followed by silence), and a log gets plain lines."""

import io
import re
import time

from callaudit.progress import Progress, phase


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_plain_lines_every_few_percent_and_one_per_phase():
    log = io.StringIO()
    progress = Progress(40, "days", stream=log)
    for day in range(40):
        progress.advance(rows=1000 + day)
    progress.close()
    with phase("checks", "daily tables of 40 days", stream=log):
        time.sleep(0.01)

    lines = log.getvalue().splitlines()
    assert "\x1b" not in log.getvalue() and "\r" not in log.getvalue()
    day_lines = [line for line in lines if line.startswith("days: ")]
    assert len(day_lines) == 20  # every 5 %
    assert day_lines[-1].startswith("days: 40/40 (100%) rows=1,039 ")
    assert lines[-2] == "checks: daily tables of 40 days ..."
    assert re.fullmatch(r"checks: daily tables of 40 days: done in \d+\.\ds", lines[-1])


def test_the_eta_never_says_zero_while_days_remain_and_is_gone_at_the_end():
    log = io.StringIO()
    progress = Progress(1000, "days", stream=log, log_every=0.001)
    for _ in range(1000):
        progress.advance()
    lines = log.getvalue().splitlines()
    assert all("eta 0s" not in line for line in lines)
    assert all(" eta " in line for line in lines[:-1])
    assert " eta " not in lines[-1]
    assert progress.eta is None


def test_a_phase_that_fails_does_not_say_it_is_done():
    log = io.StringIO()
    try:
        with phase("flags", "3 days", stream=log):
            raise RuntimeError("contracts.yaml: line 3")
    except RuntimeError:
        pass
    assert log.getvalue() == "flags: 3 days ...\n"


def test_a_terminal_gets_a_bar_and_each_phase_ends_on_its_own_line():
    screen = Terminal()
    with Progress(3, "days", stream=screen) as progress:
        for _ in range(3):
            progress.advance(rows=10)
    with phase("report", "2022", stream=screen):
        pass
    text = screen.getvalue()
    assert "days" in text and "3/3" in text
    assert re.search(r"report: 2022: done in \d+\.\ds\n$", text)


def test_nothing_is_written_when_progress_is_off():
    log = io.StringIO()
    with Progress(5, "days", stream=log, enabled=False) as progress:
        progress.advance(5)
    with phase("events", stream=log, enabled=False):
        pass
    assert log.getvalue() == ""
