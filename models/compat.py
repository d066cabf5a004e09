"""The only place that knows which Odoo version runs us (STYLE R18): the add-on runs on Odoo 18.0 and 19.0."""

from odoo import models, release

ODOO_MAJOR = release.version_info[0]
ODOO_19 = ODOO_MAJOR >= 19


class _Constraint18:
    """Odoo 19's ``models.Constraint`` on Odoo 18: adds the constraint to the class's ``_sql_constraints``.

    Written in a model's body as Odoo 19 wants it (``_name_uniq = compat.Constraint("UNIQUE(x)", "message")``):
    the attribute's name without its leading underscore is the constraint's name, so the database
    constraint (``<table>_<name>``) is the same on both majors and a database upgraded from 18 to 19 keeps it.
    """

    def __init__(self, definition, message=""):
        self.definition = definition
        self.message = message

    def __set_name__(self, owner, name):
        if not name.startswith("_"):
            raise TypeError(f"{owner.__name__}.{name}: a constraint's attribute name must start with '_'")
        # Odoo 18 reads the constraints of each class that defines or extends a model from its own __dict__
        owner._sql_constraints = [
            *owner.__dict__.get("_sql_constraints", ()),
            (name[1:], self.definition, self.message),
        ]


Constraint = models.Constraint if ODOO_19 else _Constraint18


def notify_cron_progress(env, done, remaining):
    """Tell ``ir.cron`` how far a batch job got (``done`` items so far in this run), so it re-runs the job while
    work remains.

    Odoo 18 only has ``_notify_progress`` (the totals). Odoo 19's ``_commit_progress`` takes the items of this
    step, adds them to the run's count and commits, which our callers do at that point anyway (STYLE R10, R11).
    Outside a cron job (a direct call) both do nothing: Odoo 19's would commit the caller's transaction.
    """
    cron = env["ir.cron"]
    if ODOO_19:
        progress = env["ir.cron.progress"].sudo().browse(env.context.get("ir_cron_progress_id"))
        if progress:
            cron._commit_progress(max(done - progress.done, 0), remaining=remaining)
    else:
        cron._notify_progress(done=done, remaining=remaining)


# res.users' groups: ``groups_id`` on Odoo 18, ``group_ids`` on Odoo 19
USER_GROUPS_FIELD = "group_ids" if ODOO_MAJOR >= 19 else "groups_id"
