"""The only place that knows which Odoo version runs us (STYLE R18)."""

from odoo import release

ODOO_19 = release.version_info[0] >= 19


def notify_cron_progress(env, done, remaining):
    """Tell ``ir.cron`` how far a batch job got, so it re-runs the job while work remains.

    Odoo 18 only has ``_notify_progress``; Odoo 19's ``_commit_progress`` also commits, which our
    callers already do at their own batch boundary (STYLE R10, R11).
    """
    cron = env["ir.cron"]
    if ODOO_19:
        cron._commit_progress(done, remaining=remaining)
    else:
        cron._notify_progress(done=done, remaining=remaining)
