"""`omnishelf doctor`: the project's invariants checked on a live database.

    report = await run_checks()            # all checks, one read-only snapshot
    report = await run_checks(["stock_ledger"], sample=5)
    report.exit_code, report.text(), report.as_json(), report.result("stock_ledger")

The checks (one SQL statement each) are listed in `infra/doctor/checks.py`.
"""

from infra.doctor.check import Check
from infra.doctor.checks import CHECKS, NAMES
from infra.doctor.runner import CheckResult, DoctorReport, UnknownCheck, run_checks

__all__ = ["CHECKS", "NAMES", "Check", "CheckResult", "DoctorReport", "UnknownCheck", "run_checks"]
