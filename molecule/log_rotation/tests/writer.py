"""A stand-in Alicia service for the rotation tests: appends a numbered line
to its log every 20 ms. Mode `copytruncate`: keeps one O_APPEND descriptor
for its whole life. Mode `signal`: reopens the log after a SIGHUP, as a
service whose policy signals it after the rotation.

    writer.py /var/log/alicia/<service>.log copytruncate|signal
"""

import signal
import sys
import time

PATH, MODE = sys.argv[1], sys.argv[2]
reopen = False


def on_hup(*_):
    global reopen
    reopen = True


if MODE == "signal":
    signal.signal(signal.SIGHUP, on_hup)

handle = open(PATH, "a", buffering=1)  # O_APPEND
number = 0
while True:
    if reopen:
        reopen = False
        handle.close()
        handle = open(PATH, "a", buffering=1)
    number += 1
    handle.write("%s INFO writer line %d\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), number))
    time.sleep(0.02)
