#!/usr/bin/env python3
"""Counts the test cases of one `bazel test` run and prints `N passed, M failed`.

Usage: count_tests.py BAZEL_TESTLOGS_DIR BAZEL_OUTPUT_FILE

Only the test targets of this invocation count: they are read from Bazel's
summary lines in BAZEL_OUTPUT_FILE (`//pkg:name  PASSED in 1.2s`,
`(cached) PASSED`, `FLAKY`, `FAILED`, `TIMEOUT`, `NO STATUS`, ...), so
test.xml files that earlier runs or deleted targets left in
BAZEL_TESTLOGS_DIR are ignored. Each gtest case in a counted target's
test.xml (every shard and run) counts once. A target Bazel reports as not
passed counts at least one failure even when its XML says every case
passed (a test that writes an all-pass XML and then exits non-zero);
one that left no result of this run (FAILED TO BUILD, NO STATUS) counts one
failure and its stale XML is ignored.

Exit status: 1 when anything failed, else 0.
"""
import os
import re
import sys
import xml.etree.ElementTree as ET

PASSED = ("PASSED", "FLAKY")
# Statuses whose test.xml, if any, was written by this run.
RAN = ("PASSED", "FLAKY", "FAILED", "TIMEOUT")
SUMMARY = re.compile(
    r"^(//\S*)\s+(?:\(cached\)\s+)?"
    r"(PASSED|FLAKY|FAILED TO BUILD|FAILED|TIMEOUT|NO STATUS|INCOMPLETE|SKIPPED)\b")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def count_xml(path):
    """(passed, failed) test cases of one test.xml; an unreadable one is a failure."""
    passed = failed = 0
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return 0, 1
    for case in root.iter("testcase"):
        if case.get("status", "run") == "notrun" or case.find("skipped") is not None:
            continue
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        else:
            passed += 1
    return passed, failed


def targets(output_text):
    """{label: status} from Bazel's summary lines (the last line of a label wins)."""
    found = {}
    for line in ANSI.sub("", output_text).splitlines():
        m = SUMMARY.match(line.strip())
        if m:
            found[m.group(1)] = m.group(2)
    return found


def xml_files(logs, label):
    """The test.xml files of one target: its own, or one per shard / run."""
    package, _, name = label[2:].partition(":")
    directory = os.path.join(logs, package, name or os.path.basename(package))
    files = []
    if os.path.isfile(os.path.join(directory, "test.xml")):
        files.append(os.path.join(directory, "test.xml"))
    if os.path.isdir(directory):
        for sub in sorted(os.listdir(directory)):
            nested = os.path.join(directory, sub)
            if re.match(r"^(shard_\d+_of_\d+|run_\d+_of_\d+)$", sub) and os.path.isdir(nested):
                for dirpath, _, names in os.walk(nested):
                    if "test.xml" in names:
                        files.append(os.path.join(dirpath, "test.xml"))
    return files


def count(logs, output_text):
    """(passed, failed, problems): problems lists the targets that did not pass."""
    passed = failed = 0
    problems = []
    found = targets(output_text)
    for label, status in sorted(found.items()):
        if status == "SKIPPED":
            continue
        p = f = 0
        files = xml_files(logs, label) if status in RAN else []
        for path in files:
            xp, xf = count_xml(path)
            p += xp
            f += xf
        if status in PASSED:
            if not files:
                p = max(p, 1)  # A passing target without XML still ran.
        else:
            detail = status if files else status + ", no result of this run"
            if f == 0:
                f = 1
                if files:
                    detail += ", although its test.xml shows no failing case"
            problems.append(f"{label}: {detail}")
        passed += p
        failed += f
    if not found and re.search(r"^ERROR: ", output_text, re.M):
        failed += 1
        problems.append("bazel reported an error before any test ran")
    return passed, failed, problems


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    logs, output = argv[1], argv[2]
    with open(output, errors="replace") as fh:
        text = fh.read()
    passed, failed, problems = count(logs, text)
    for problem in problems:
        print(f"not passed: {problem}", file=sys.stderr)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
