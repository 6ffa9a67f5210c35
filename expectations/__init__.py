"""Great Expectations suites, one JSON file per validated table (package data of callaudit).

This folder installs as ``callaudit.expectations``: the suites ship inside the wheel and
are read with ``importlib.resources`` (callaudit/validation/suites.py).
"""
