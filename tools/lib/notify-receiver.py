#!/usr/bin/env python3
"""notify-receiver.py: stands in for systemd's side of sd_notify(3) for tools/lib/check-systemd.

    notify-receiver.py --socket PATH --log FILE [--watchdog-usec N] [--watchdog-pid self|other|none]
                       [--on-ready COMMAND] [--pid-file FILE] -- PROGRAM ARG...

Binds an AF_UNIX datagram socket at PATH (or "@name": the abstract namespace), starts PROGRAM with
NOTIFY_SOCKET set to it (and WATCHDOG_USEC, with WATCHDOG_PID = PROGRAM's pid, or pid 1 with
--watchdog-pid other, or none: when PROGRAM is a wrapper such as strace that runs the real one as its child), and writes each datagram it receives to FILE as one line:
"<CLOCK_MONOTONIC microseconds> <message, newlines as \\n>". With --on-ready, COMMAND (a shell command) runs
when the first READY=1 arrives, before anything else is read (with PROGRAM_PID set to PROGRAM's pid), and its output goes to FILE as "ON-READY <line>"
lines: what the system looked like at the moment the program said it was ready. Ends when PROGRAM ends, with
its exit status (128+N for a signal), after a last "EXIT <status>" line.
"""
import argparse
import os
import select
import socket
import subprocess
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--watchdog-usec", type=int)
    parser.add_argument("--watchdog-pid", choices=["self", "other", "none"], default="self")
    parser.add_argument("--on-ready")
    parser.add_argument("--pid-file")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no program to run")

    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    address = "\0" + args.socket[1:] if args.socket.startswith("@") else args.socket
    if not args.socket.startswith("@") and os.path.exists(args.socket):
        os.unlink(args.socket)
    receiver.bind(address)
    # As systemd does: credentials are not needed here, only the messages.
    log = open(args.log, "a", buffering=1)

    pid = os.fork()
    if pid == 0:
        environment = dict(os.environ)
        environment["NOTIFY_SOCKET"] = args.socket
        if args.watchdog_usec:
            environment["WATCHDOG_USEC"] = str(args.watchdog_usec)
            if args.watchdog_pid != "none":
                environment["WATCHDOG_PID"] = str(os.getpid() if args.watchdog_pid == "self" else 1)
        receiver.close()
        try:
            os.execvpe(command[0], command, environment)
        finally:
            os._exit(127)
    if args.pid_file:
        with open(args.pid_file, "w") as file:
            file.write(f"{pid}\n")

    ready_seen = False

    def drain(timeout):
        nonlocal ready_seen
        readable, _, _ = select.select([receiver], [], [], timeout)
        while readable:
            data = receiver.recv(65536)
            stamp = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
            text = data.decode("utf-8", "replace")
            log.write(f"{stamp} {text.replace(chr(10), chr(92) + 'n')}\n")
            if args.on_ready and not ready_seen and "READY=1" in text.split("\n"):
                ready_seen = True
                result = subprocess.run(
                    args.on_ready, shell=True, capture_output=True, text=True,
                    env=dict(os.environ, PROGRAM_PID=str(pid)))
                for line in (result.stdout + result.stderr).splitlines():
                    log.write(f"ON-READY {line}\n")
            readable, _, _ = select.select([receiver], [], [], 0)

    status = None
    while status is None:
        drain(0.05)
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(raw)
    drain(0.1)
    code = status if status >= 0 else 128 - status
    log.write(f"EXIT {code}\n")
    log.close()
    receiver.close()
    if not args.socket.startswith("@"):
        os.unlink(args.socket)
    return code


if __name__ == "__main__":
    sys.exit(main())
