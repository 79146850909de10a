"""tools/ci/count_tests.py counts only this invocation's targets and fails on
any target Bazel did not report as passed."""
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                      "tools", "ci", "count_tests.py")


def xml(passed, failed=0):
    cases = ['<testcase name="p%d" status="run"/>' % i for i in range(passed)]
    cases += ['<testcase name="f%d" status="run"><failure message="x"/></testcase>' % i
              for i in range(failed)]
    return '<testsuites><testsuite name="s">%s</testsuite></testsuites>' % "".join(cases)


class CountTestsTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        self.logs = os.path.join(self.dir, "testlogs")

    def write_xml(self, target_path, content):
        os.makedirs(os.path.join(self.logs, target_path), exist_ok=True)
        with open(os.path.join(self.logs, target_path, "test.xml"), "w") as f:
            f.write(content)

    def run_script(self, output):
        path = os.path.join(self.dir, "bazel_output.txt")
        with open(path, "w") as f:
            f.write(output)
        r = subprocess.run([sys.executable, SCRIPT, self.logs, path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return r.returncode, r.stdout.strip(), r.stderr

    def test_counts_the_cases_of_the_targets_of_this_invocation(self):
        self.write_xml("tests/a/x_test", xml(3))
        self.write_xml("tests/b/y_test", xml(2))
        rc, out, _ = self.run_script(
            "INFO: Build completed successfully\n"
            "//tests/a:x_test                     PASSED in 1.2s\n"
            "//tests/b:y_test            (cached) PASSED in 0.4s\n"
            "\nExecuted 1 out of 2 tests: 2 tests pass.\n")
        self.assertEqual(out, "5 passed, 0 failed")
        self.assertEqual(rc, 0)

    def test_stale_xml_of_a_target_not_in_the_output_is_ignored(self):
        self.write_xml("tests/a/x_test", xml(3))
        self.write_xml("tests/deleted/old_test", xml(40))  # An earlier run's.
        rc, out, _ = self.run_script("//tests/a:x_test   PASSED in 1.2s\n")
        self.assertEqual(out, "3 passed, 0 failed")
        self.assertEqual(rc, 0)

    def test_failed_target_with_an_all_pass_xml_counts_a_failure(self):
        self.write_xml("tests/a/x_test", xml(4))
        rc, out, err = self.run_script("//tests/a:x_test   FAILED in 1.2s\n")
        self.assertEqual(out, "4 passed, 1 failed")
        self.assertEqual(rc, 1)
        self.assertIn("//tests/a:x_test", err)

    def test_failing_cases_are_counted_once(self):
        self.write_xml("tests/a/x_test", xml(2, failed=3))
        rc, out, _ = self.run_script("//tests/a:x_test   FAILED in 1.2s\n")
        self.assertEqual(out, "2 passed, 3 failed")
        self.assertEqual(rc, 1)

    def test_targets_without_a_result_of_this_run_ignore_their_stale_xml(self):
        self.write_xml("tests/a/built_test", xml(5))
        self.write_xml("tests/a/status_test", xml(6))
        rc, out, _ = self.run_script(
            "//tests/a:built_test   FAILED TO BUILD\n"
            "//tests/a:status_test  NO STATUS\n"
            "//tests/a:slow_test    TIMEOUT in 300.0s\n")
        self.assertEqual(out, "0 passed, 3 failed")
        self.assertEqual(rc, 1)

    def test_shards_and_flaky_targets(self):
        for shard in (1, 2):
            self.write_xml("tests/a/sharded_test/shard_%d_of_2" % shard, xml(2))
        self.write_xml("tests/a/flaky_test", xml(1))
        rc, out, _ = self.run_script(
            "//tests/a:sharded_test   PASSED in 2.0s\n"
            "  Stats over 2 runs: max = 2.0s, min = 1.0s, avg = 1.5s, dev = 0.5s\n"
            "//tests/a:flaky_test     FLAKY, failed in 1 out of 2 in 1.0s\n"
            "//:top_test              PASSED in 0.1s\n")
        self.assertEqual(out, "6 passed, 0 failed")
        self.assertEqual(rc, 0)

    def test_an_error_before_any_test_is_a_failure(self):
        self.write_xml("tests/a/x_test", xml(3))
        rc, out, _ = self.run_script("ERROR: Skipping '//nope': no such package\n")
        self.assertEqual(out, "0 passed, 1 failed")
        self.assertEqual(rc, 1)


if __name__ == "__main__":
    unittest.main()
