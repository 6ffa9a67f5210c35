"""How many days are computed at once: two full-size days, or four small ones."""

import threading
import time

from callaudit.raw_to_tables import SMALL_DAY_ROWS, DayAdmission

BIG = SMALL_DAY_ROWS + 1


def most_at_once(admission: DayAdmission, day_rows: list[int]) -> int:
    """Run one thread per day, each holding its admission for a moment; the largest
    number of days seen inside at the same time."""
    inside = 0
    most = 0
    lock = threading.Lock()

    def day(rows: int) -> None:
        nonlocal inside, most
        with admission.hold(rows):
            with lock:
                inside += 1
                most = max(most, inside)
            time.sleep(0.05)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=day, args=(rows,)) for rows in day_rows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads)
    return most


def test_two_workers_compute_two_big_days_at_once():
    assert most_at_once(DayAdmission(2), [BIG] * 6) == 2


def test_two_workers_compute_four_small_days_at_once():
    assert most_at_once(DayAdmission(2), [SMALL_DAY_ROWS] * 8) == 4


def test_a_big_day_takes_the_room_of_two_small_ones():
    admission = DayAdmission(2)
    with admission.hold(BIG), admission.hold(1_000), admission.hold(1_000):
        waited = threading.Event()

        def another_small_day() -> None:
            with admission.hold(1_000):
                waited.set()

        thread = threading.Thread(target=another_small_day)
        thread.start()
        assert not waited.wait(0.2)  # full: it waits for a day to finish
    thread.join(timeout=10)
    assert waited.is_set()


def test_one_worker_still_fits_a_big_day():
    assert most_at_once(DayAdmission(1), [BIG, BIG, 10, 10]) in (1, 2)
    assert most_at_once(DayAdmission(1), [BIG] * 3) == 1
