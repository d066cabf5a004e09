"""What the webhook received and the sync cron has not counted yet: one row per request and subscription.

The webhook only ever inserts here. It used to update the subscription's counters and the mailbox's
``sync_requested_at`` in the request: under a flood of notifications every request wrote the same rows,
PostgreSQL refused the concurrent updates (serialization failures), Odoo retried, and notifications were lost.
Inserts never conflict. A row that asks for a sync makes its mailbox due by itself (the cron's claim looks
here, :meth:`OutlookMailbox._outlook_due_domain_sql`); at the start of each cron run :meth:`_outlook_fold`
moves the rows into the subscriptions' counters and the mailboxes' ``sync_requested_at`` and deletes them.
"""

import logging
from datetime import datetime

import psycopg2.errors

from odoo import api, fields, models
from odoo.tools import mute_logger

_logger = logging.getLogger(__name__)

# a notification received at or after a mailbox's last attempt still asks for a sync: the change it tells
# about may have come after that run read Outlook's changes (stamps are to the second, receipts to the
# microsecond)
PENDING_SQL = (
    "EXISTS(SELECT 1 FROM outlook_notification_inbox inbox WHERE inbox.mailbox_id = outlook_mailbox.id "
    "AND inbox.wants_sync AND inbox.received_at >= outlook_mailbox.last_attempt_at)"
)


class OutlookNotificationInbox(models.Model):
    _name = "outlook.notification.inbox"
    _description = "Outlook change notifications received, not yet counted"
    _order = "id"
    _log_access = False  # written by the public webhook, read by the cron: nobody's record

    subscription_id = fields.Many2one(
        "outlook.subscription", required=True, index=True, ondelete="cascade", readonly=True
    )
    mailbox_id = fields.Many2one("outlook.mailbox", required=True, index=True, ondelete="cascade", readonly=True)
    received_at = fields.Datetime(required=True, readonly=True, help="To the microsecond")
    accepted = fields.Integer(readonly=True, help="Notifications with the subscription's client state")
    rejected = fields.Integer(readonly=True, help="Notifications with a wrong client state: ignored")
    wants_sync = fields.Boolean(readonly=True, help="Outlook changed something Odoo does not have yet")

    @api.model
    def _outlook_note(self, accepted, rejected, wanted):
        """Write down one request's notifications (superuser; the webhook's only write).

        :param accepted: ``{subscription_sudo: count}`` of authentic notifications
        :param rejected: ``{subscription_sudo: count}`` of notifications with a wrong client state
        :param wanted: the mailboxes (sudo) these notifications ask to sync
        :return: the mailboxes of ``wanted`` that were not waiting for a sync yet
        """
        subscriptions = list(dict.fromkeys([*accepted, *rejected]))
        if not subscriptions:
            return wanted.browse()
        now = datetime.now()  # Odoo runs in UTC; with microseconds (see PENDING_SQL)
        fresh = wanted - self._outlook_waiting(wanted)
        self.sudo().create(
            [
                {
                    "subscription_id": subscription.id,
                    "mailbox_id": subscription.mailbox_id.id,
                    "received_at": now,
                    "accepted": accepted.get(subscription, 0),
                    "rejected": rejected.get(subscription, 0),
                    "wants_sync": subscription.mailbox_id in wanted,
                }
                for subscription in subscriptions
            ]
        )
        return fresh

    @api.model
    def _outlook_waiting(self, mailboxes_sudo):
        """The mailboxes already due for a notification or a request the cron has not served yet."""
        if not mailboxes_sudo:
            return mailboxes_sudo
        requested = mailboxes_sudo.filtered(
            lambda m: m.sync_requested_at and (not m.last_attempt_at or m.sync_requested_at > m.last_attempt_at)
        )
        rows = self.sudo().search_fetch(
            [("mailbox_id", "in", (mailboxes_sudo - requested).ids), ("wants_sync", "=", True)],
            ["mailbox_id", "received_at"],
        )
        noted = rows.filtered(
            lambda row: not row.mailbox_id.last_attempt_at or row.received_at >= row.mailbox_id.last_attempt_at
        ).mailbox_id
        return requested | noted

    @api.model
    def _outlook_fold(self):
        """Move the rows into the subscriptions' counters and the mailboxes' ``sync_requested_at``; one
        statement, at the start of a cron run.

        Rows whose mailbox or subscription another worker holds right now are left for the next run (they
        keep their mailbox due meanwhile); so is everything when PostgreSQL refuses the statement for a
        concurrent update. Nothing is lost either way.
        """
        self.env.flush_all()
        try:
            with self.env.cr.savepoint(), mute_logger("odoo.sql_db"):
                self.env.cr.execute(FOLD_SQL)
        except (psycopg2.errors.SerializationFailure, psycopg2.errors.DeadlockDetected):
            _logger.info("outlook: received notifications are counted at the next run (concurrent update)")
            return
        self.env["outlook.subscription"].invalidate_model(
            ["notification_count", "rejected_count", "last_notification_at"]
        )
        self.env["outlook.mailbox"].invalidate_model(["sync_requested_at"])


FOLD_SQL = """
    WITH mailboxes AS MATERIALIZED (
        SELECT id, state, last_attempt_at FROM outlook_mailbox
         WHERE id IN (SELECT mailbox_id FROM outlook_notification_inbox)
           FOR UPDATE SKIP LOCKED
    ), subscriptions AS MATERIALIZED (
        SELECT id FROM outlook_subscription
         WHERE id IN (SELECT subscription_id FROM outlook_notification_inbox)
           FOR UPDATE SKIP LOCKED
    ), taken AS MATERIALIZED (
        DELETE FROM outlook_notification_inbox
         WHERE id IN (SELECT id FROM outlook_notification_inbox
                       WHERE mailbox_id IN (SELECT id FROM mailboxes)
                         AND subscription_id IN (SELECT id FROM subscriptions)
                         FOR UPDATE SKIP LOCKED)
     RETURNING subscription_id, mailbox_id, received_at, accepted, rejected, wants_sync
    ), counted AS (
        UPDATE outlook_subscription subscription
           SET notification_count = COALESCE(subscription.notification_count, 0) + total.accepted,
               rejected_count = COALESCE(subscription.rejected_count, 0) + total.rejected,
               last_notification_at = GREATEST(subscription.last_notification_at, total.last_accepted)
          FROM (SELECT subscription_id, sum(accepted) AS accepted, sum(rejected) AS rejected,
                       date_trunc('second', max(received_at) FILTER (WHERE accepted > 0)) AS last_accepted
                  FROM taken GROUP BY subscription_id) total
         WHERE subscription.id = total.subscription_id
     RETURNING subscription.id
    )
    UPDATE outlook_mailbox mailbox
       SET sync_requested_at = GREATEST(mailbox.sync_requested_at,
                                        date_trunc('second', wanted.received_at) + interval '1 second')
      FROM (SELECT mailbox_id, max(received_at) AS received_at FROM taken WHERE wants_sync GROUP BY mailbox_id) wanted,
           mailboxes
     WHERE mailbox.id = wanted.mailbox_id AND mailboxes.id = mailbox.id AND mailboxes.state = 'connected'
       AND (mailboxes.last_attempt_at IS NULL OR wanted.received_at >= mailboxes.last_attempt_at)
"""
