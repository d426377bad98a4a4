#!/usr/bin/python3
"""hygiene.logs: no secret in any log line that the test run produced (issue 6).

Every test writes the logs of the servers and clients it starts into one directory
(tests/support/suite_log.hpp, tests/interop/suite_log.mjs, tests/interop/python); CTest runs this
after all of them. A line fails the check when it holds:
  - "s3cret": the tests put it in tokens and message contents that must never be logged;
  - an Authorization header or a Bearer credential;
  - a token in a query string (token=...);
  - a message's content or payload as JSON ("content":, "payload":).

Usage: check_logs.py DIR
"""

import os
import re
import sys

FORBIDDEN = [
    ("a test secret (token or content)", re.compile(r"s3cret", re.I)),
    ("an Authorization header", re.compile(r"authorization", re.I)),
    ("a Bearer credential", re.compile(r"\bbearer\s+\S", re.I)),
    ("a token in a query string", re.compile(r"[?&]token=[^&\s]", re.I)),
    ("a message's content", re.compile(r'"(content|payload)"\s*:')),
]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_logs.py DIR")
    directory = sys.argv[1]
    files = sorted(f for f in os.listdir(directory) if f.endswith(".log")) \
        if os.path.isdir(directory) else []
    lines = 0
    findings = []
    for name in files:
        with open(os.path.join(directory, name), encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                lines += 1
                for what, pattern in FORBIDDEN:
                    if pattern.search(line):
                        findings.append(f"{name}:{number}: {what}: {line.rstrip()[:300]}")
    print(f"hygiene.logs: {lines} log lines from {len(files)} test processes in {directory}")
    # The servers started by the tests log at debug level: a run without lines collected nothing.
    if lines == 0:
        sys.exit("hygiene.logs: no log lines were collected (is ROOMWIRE_TEST_LOG_DIR set for "
                 "the tests?)")
    for f in findings[:50]:
        print(f)
    if findings:
        sys.exit(f"hygiene.logs: {len(findings)} log lines hold a secret")
    print("hygiene.logs: no token, Authorization header or message content in any line")


if __name__ == "__main__":
    main()
