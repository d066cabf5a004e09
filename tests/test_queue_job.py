"""OCA queue_job installed: the cron enqueues one job per due mailbox, queue_job's runner runs them.

Runs in the ``queue_job`` suite of ``make test`` (a database with OCA ``queue_job`` installed next to the
add-on); skipped in a database without it, where the cron syncs the mailboxes itself (tests/test_cron.py).
The jobs are run the way queue_job's runner runs them: marked enqueued, then ``/queue_job/runjob`` over HTTP,
where queue_job forbids commits on the request's cursor unless the job function allows them.
"""

from odoo import sql_db
from odoo.tests import HttpCase, tagged

from odoo.addons.outlook_calendar_sync.models.outlook_mailbox import LOCK_NAMESPACE
from odoo.addons.outlook_calendar_sync.models.outlook_queue_job import JOB_METHOD, PARAM_USE_QUEUE_JOB

from .common import ANNA, BOB, OutlookSyncCase


@tagged("post_install", "-at_install")
class TestQueueJob(OutlookSyncCase, HttpCase):
    def setUp(self):
        if "queue.job" not in self.env:
            self.skipTest("OCA queue_job is not installed in this database (make test runs it in its own suite)")
        super().setUp()
        self.mailboxes = self.env["outlook.mailbox"]
        self.jobs = self.env["queue.job"].sudo()

    def sync_jobs(self):
        return self.jobs.search([("model_name", "=", "outlook.mailbox"), ("method_name", "=", JOB_METHOD)])

    def run_job(self, job):
        """What queue_job's runner does: mark the job enqueued, then ask an Odoo worker to run it over HTTP."""
        job.write({"state": "enqueued"})
        self.env.flush_all()
        response = self.url_open(f"/queue_job/runjob?db={self.env.cr.dbname}&job_uuid={job.uuid}", timeout=60)
        self.assertEqual(response.status_code, 200, response.text)
        self.env.invalidate_all()
        return job

    def test_cron_enqueues_one_job_per_due_mailbox_and_the_jobs_sync_them(self):
        self.outlook_meeting(ANNA, "Queued for Anna")
        self.outlook_meeting(BOB, "Queued for Bob")
        self.assertEqual(self.mailboxes._cron_outlook_sync(), 2)
        self.assertEqual(self.emulator.counters()["requests"], {}, "the cron itself calls no Graph")
        jobs = self.sync_jobs()
        self.assertEqual(jobs.mapped("state"), ["pending", "pending"])
        self.assertEqual({job.records.id for job in jobs}, {self.mailbox_anna.id, self.mailbox_bob.id})
        self.assertEqual(set(jobs.mapped("channel")), {"root.outlook"})
        function = jobs.job_function_id
        self.assertEqual(len(function), 1)
        self.assertTrue(function.allow_commit, "the sync commits page by page: queue_job must run it in its cursor")
        # the next cron run, before the jobs ran: no second job for the same mailbox
        self.mailboxes._cron_outlook_sync()
        self.assertEqual(self.sync_jobs(), jobs)

        for job in jobs:
            self.run_job(job)
        self.assertEqual(jobs.mapped("state"), ["done", "done"], jobs.mapped("exc_info"))
        self.assertTrue(all(result.startswith("synced ") for result in jobs.mapped("result")), jobs.mapped("result"))
        self.assertEqual(self.env["calendar.event"].search_count([("name", "like", "Queued for ")]), 2)
        for mailbox in (self.mailbox_anna, self.mailbox_bob):
            self.assertTrue(mailbox.last_sync_at)
            self.assertFalse(mailbox.last_error)
        self.assertEqual(self.emulator.counters()["messages_sent"], 0)

    def test_an_admin_s_job_function_is_kept(self):
        self.mailboxes._outlook_queue_job_function().write({"retry_pattern": {"1": 60}})
        self.mailboxes._cron_outlook_sync()
        self.assertEqual(self.sync_jobs().job_function_id.retry_pattern, {"1": 60})
        self.assertEqual(len(self.env["queue.job.channel"].search([("complete_name", "=", "root.outlook")])), 1)

    def test_job_leaves_a_mailbox_another_worker_syncs(self):
        self.outlook_meeting(ANNA, "Held elsewhere")
        self.mailboxes._cron_outlook_sync()
        job = self.sync_jobs().filtered(lambda job: job.records == self.mailbox_anna.sudo())
        # another server's cron worker holds the mailbox (its own database connection)
        with sql_db.db_connect(self.env.cr.dbname).cursor() as other_worker:
            other_worker.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, self.mailbox_anna.id])
            self.assertTrue(other_worker.fetchone()[0])
            self.run_job(job)
            other_worker.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, self.mailbox_anna.id])
        self.assertEqual(job.state, "done")
        self.assertIn("another worker", job.result)
        self.assertEqual(self.emulator.counters()["requests"], {})
        self.assertFalse(self.env["calendar.event"].search([("name", "=", "Held elsewhere")]))

    def test_turned_off_the_cron_syncs_by_itself(self):
        self.env["ir.config_parameter"].sudo().set_param(PARAM_USE_QUEUE_JOB, "False")
        self.outlook_meeting(ANNA, "Not queued")
        self.mailboxes._cron_outlook_sync()
        self.assertFalse(self.sync_jobs())
        self.assertTrue(self.env["calendar.event"].search([("name", "=", "Not queued")]))
