# -*- coding: utf-8 -*-
"""A fake monotonic clock for the tests of code that waits (no real time passes).

Not a test module (no test_ prefix). ``clock()`` reads the time, ``clock.sleep(s)``
records the pause and moves the time on at once; ``clock.advance(s)`` moves it
without a recorded pause (time a fake probe "took"). Thread-safe: the health
gate's endpoint threads share one clock, each pause moving the shared time.
"""

import threading


class FakeClock(object):
    def __init__(self, start=1000.0):
        self.now = float(start)
        self.sleeps = []
        self._lock = threading.Lock()

    def __call__(self):
        with self._lock:
            return self.now

    def sleep(self, seconds):
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    def advance(self, seconds):
        with self._lock:
            self.now += seconds
