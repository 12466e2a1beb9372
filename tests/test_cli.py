"""The CLI as a user runs it: a real subprocess, its output and exit code."""

import subprocess
import sys


def run(*args):
    return subprocess.run([sys.executable, "-m", "convlab", *args], capture_output=True, text=True, timeout=300)


def test_version_and_help():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("convlab ")
    r = run("--help")
    assert r.returncode == 0 and "demo" in r.stdout


def test_demo_walkthrough_prints_the_seeds_results():
    r = run("demo")
    assert r.returncode == 0, r.stderr
    for expected in ["19     25", "37     43", "56     72", "learned kernel", "(1, 16, 5, 5)", "(1, 10)"]:
        assert expected in r.stdout


def test_demo_edge():
    r = run("demo", "edge", "--epochs", "10")
    assert r.returncode == 0
    assert "epoch 10, loss" in r.stdout and "learned kernel" in r.stdout


def test_unknown_argument_is_one_line_exit_2():
    r = run("demo", "nothing")
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
