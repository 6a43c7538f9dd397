"""TAP for the suite's Python checks (check-deploy.py, check-avx2-exits.py):
each check is (name, ok, why); a failed one prints its why as comment lines,
which tests/tap-summary.py shows under the failure."""


def report(results):
    """Prints results as TAP; returns the exit status (1 when one failed)."""
    print(f"1..{len(results)}")
    failed = 0
    for i, (name, ok, why) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {name}")
        if not ok:
            failed += 1
            for line in str(why).splitlines() or [""]:
                print(f"# {line}")
    return 1 if failed else 0
