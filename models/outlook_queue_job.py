"""Optional OCA ``queue_job`` integration: one job per due mailbox instead of the cron's own loop.

Nothing here needs ``queue_job`` to be installed. When it is (and the system parameter
``outlook_calendar_sync.use_queue_job`` is not ``False``), the sync cron only enqueues one job per due mailbox,
and queue_job's runner spreads them over its workers, on one Odoo server or several. The jobs run in the channel
``root.outlook`` (capacity set in the runner's configuration, e.g. ``root:4,root.outlook:2``); its job function
(Queue Jobs > Job Functions) is created on first use with *Allow Commit*: the sync commits page by page, as a
cron does, so a crash or a time-out loses at most one page. Without queue_job the cron syncs the mailboxes
itself, each claimed by one worker (``FOR UPDATE SKIP LOCKED`` + advisory lock).

A job runs the same guarded sync as the cron (page checkpoints, errors recorded on the mailbox) under the same
advisory lock, so a job and a cron worker never sync one mailbox at once; a mailbox whose job still waits is
not enqueued twice (``identity_exact``).
"""

import logging

from odoo import _, api, models
from odoo.tools import str2bool

from ..graph.run import GraphRun
from .outlook_config import get_auth_settings
from .outlook_mailbox import DUE_ORDER_SQL

_logger = logging.getLogger(__name__)

PARAM_USE_QUEUE_JOB = "outlook_calendar_sync.use_queue_job"
JOB_METHOD = "_outlook_sync_job"
JOB_CHANNEL = "outlook"  # under queue_job's root channel: root.outlook


class OutlookMailbox(models.Model):
    _inherit = "outlook.mailbox"

    @api.model
    def _outlook_uses_queue_job(self):
        """Whether the cron hands the mailboxes to OCA queue_job (installed, and not turned off)."""
        if "queue.job" not in self.env:
            return False
        return str2bool(self.env["ir.config_parameter"].sudo().get_param(PARAM_USE_QUEUE_JOB, "True"), True)

    @api.model
    def _outlook_queue_job_function(self):
        """The job function of the sync job, created on first use (channel ``root.outlook``, commits allowed);
        one an admin already has is left as it is."""
        functions = self.env["queue.job.function"].sudo()
        name = functions.job_function_name(self._name, JOB_METHOD)
        function = functions.search([("name", "=", name)], limit=1)
        if function:
            return function
        root = self.env.ref("queue_job.channel_root")
        channels = self.env["queue.job.channel"].sudo()
        channel = channels.search([("name", "=", JOB_CHANNEL), ("parent_id", "=", root.id)], limit=1)
        if not channel:
            channel = channels.create({"name": JOB_CHANNEL, "parent_id": root.id})
        model = self.env["ir.model"]._get(self._name)
        return functions.create(
            {"model_id": model.id, "method": JOB_METHOD, "channel_id": channel.id, "allow_commit": True}
        )

    @api.model
    def _outlook_enqueue_due(self, due):
        """One queue job per due mailbox (no second job for a mailbox whose job still waits).

        :param due: the parameters of :meth:`_outlook_due_domain_sql`
        :return: the number of mailboxes enqueued
        """
        from odoo.addons.queue_job.job import identity_exact  # noqa: PLC0415 (optional add-on)

        self._outlook_queue_job_function()
        self.flush_model(["state", "last_attempt_at", "sync_requested_at", "throttled_until"])
        self.env.cr.execute(
            f"SELECT id FROM outlook_mailbox WHERE {self._outlook_due_domain_sql()} ORDER BY {DUE_ORDER_SQL}",
            self._outlook_due_params(due),
        )
        mailboxes = self.sudo().browse([row[0] for row in self.env.cr.fetchall()])
        for mailbox in mailboxes:
            delayable = mailbox.with_delay(
                identity_key=identity_exact,
                description=_("Outlook sync of %(mailbox)s", mailbox=mailbox.address or mailbox.user_id.name),
            )
            getattr(delayable, JOB_METHOD)()
        if mailboxes:
            _logger.info("outlook: %s mailbox sync(s) handed to queue_job", len(mailboxes))
        return len(mailboxes)

    def _outlook_sync_job(self):
        """The queue job of one mailbox: the cron's guarded sync, under the same advisory lock.

        :return: what happened, shown on the job
        """
        self.ensure_one()
        mailbox = self.sudo()
        if mailbox.state != "connected":
            return f"skipped: mailbox {mailbox.address} is {mailbox.state}"
        if not mailbox._outlook_try_lock():
            return f"skipped: mailbox {mailbox.address} is being synced by another worker"
        try:
            mailbox._outlook_sync_guarded(GraphRun(get_auth_settings(self.env)))
        finally:
            mailbox._outlook_release()
        mailbox.invalidate_recordset(["last_error"])
        return f"synced {mailbox.address}" + (f" with an error: {mailbox.last_error}" if mailbox.last_error else "")
