#!/usr/bin/env python3
"""Counts test cases from Bazel's test logs and prints `N passed, M failed`.

Usage: count_tests.py BAZEL_TESTLOGS_DIR BAZEL_OUTPUT_FILE

Every gtest case in every test.xml counts once. A test target that failed
without writing results (build failure, crash before the XML, timeout) counts
as one failure, read from Bazel's summary lines in BAZEL_OUTPUT_FILE.
"""
import os
import re
import sys
import xml.etree.ElementTree as ET


def count_xml(path):
    passed = failed = 0
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return 0, 1
    for case in root.iter("testcase"):
        if case.get("status", "run") == "notrun" or case.find("skipped") is not None:
            continue
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        else:
            passed += 1
    return passed, failed


def main():
    logs, output = sys.argv[1], sys.argv[2]
    passed = failed = 0
    for dirpath, _, files in os.walk(logs, followlinks=True):
        if "test.xml" in files:
            p, f = count_xml(os.path.join(dirpath, "test.xml"))
            passed += p
            failed += f
    # Targets whose failure left no test cases behind.
    with open(output, errors="replace") as fh:
        text = fh.read()
    for line in text.splitlines():
        if re.match(r"^//\S+\s+(FAILED TO BUILD|NO STATUS|TIMEOUT|INCOMPLETE)", line):
            failed += 1
    if re.search(r"^ERROR: ", text, re.M) and passed + failed == 0:
        failed += 1
    print(f"{passed} passed, {failed} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
