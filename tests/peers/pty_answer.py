#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal and answers its prompts, as a person at a terminal would.

    pty_answer.py ANSWERS.json -- COMMAND [ARGS...]

ANSWERS.json is a list of [prompt_substring, answer]: for each, the output is read until the
substring appears (30 s at most), then the answer and a newline are typed. Afterwards the output
is read to the end. Everything the command printed goes to stdout; the exit code is the
command's (or 124 when a prompt never came, with what was printed so far).
"""
import json
import os
import pty
import select
import sys
import time


def main() -> int:
    answers = json.load(open(sys.argv[1]))
    command = sys.argv[sys.argv.index("--") + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    seen = b""

    def read_some(timeout: float) -> bool:
        nonlocal seen
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return False
        if not chunk:
            return False
        seen += chunk
        return True

    offset = 0
    for prompt, answer in answers:
        deadline = time.time() + 30
        while prompt.encode() not in seen[offset:]:
            if time.time() > deadline or not read_some(0.5):
                sys.stdout.write(seen.decode(errors="replace"))
                sys.stdout.write(f"\n[pty_answer: no prompt {prompt!r}]\n")
                return 124
        offset = seen.index(prompt.encode(), offset) + len(prompt)
        os.write(fd, answer.encode() + b"\n")
    # To the end of the output (a silent minute ends the wait: the command hangs).
    while True:
        ready, _, _ = select.select([fd], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(seen.decode(errors="replace"))
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
