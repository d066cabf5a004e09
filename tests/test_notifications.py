"""Real-time updates end to end: the emulator subscribes through Odoo's webhook (validation handshake), POSTs
change and lifecycle notifications to Odoo's HTTP server, and Odoo asks for that mailbox's sync.

While a notification is on its way, the test thread only polls the emulator (never the database): Odoo's HTTP
thread works on the test's own cursor. Syncs that write to Outlook pause the delivery for the same reason.
"""

import json
import time
from datetime import timedelta
from urllib.parse import quote

from odoo import fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.outlook_calendar_sync.models.outlook_subscription import (
    LIFECYCLE_PATH,
    NOTIFY_PATH,
    PARAM_NOTIFICATION_URL,
    PARAM_REALTIME,
)

from .common import ANNA, BOB, OutlookSyncCase

CREATE = "POST /v1.0/subscriptions"
RENEW = "PATCH /v1.0/subscriptions/{subscription_id}"
REAUTHORIZE = "POST /v1.0/subscriptions/{subscription_id}/reauthorize"
DELETE = "DELETE /v1.0/subscriptions/{subscription_id}"


@tagged("post_install", "-at_install")
class TestNotifications(OutlookSyncCase, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # one quick retry; Odoo's first request of a test may build its routing map, so allow 5 s per POST
        cls.emulator.configure(notification_retries=1, notification_backoff_ms=200, notification_timeout=5)

    def setUp(self):
        super().setUp()
        self.params_sudo = self.env["ir.config_parameter"].sudo()
        self.params_sudo.set_param(PARAM_REALTIME, "True")
        self.params_sudo.set_param(PARAM_NOTIFICATION_URL, self.base_url())
        self.cron = self.env.ref("outlook_calendar_sync.ir_cron_outlook_sync")

    def tearDown(self):
        # before the base class deletes the test's events: nothing may reach Odoo once the test is over
        self.emulator.subscriptions.clear()
        self.emulator.subscriptions.wait_idle(10)
        self.emulator.subscriptions.resume()
        super().tearDown()

    # ------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------

    def subscription_of(self, mailbox):
        return self.env["outlook.subscription"].search([("mailbox_id", "=", mailbox.id)])

    def subscribed(self, mailbox):
        """Sync once (which subscribes), then pretend the run started a minute ago."""
        self.sync(mailbox)
        subscription = self.subscription_of(mailbox)
        self.assertEqual(subscription.state, "active", subscription.last_error)
        mailbox.sudo().write(
            {"last_attempt_at": fields.Datetime.now() - timedelta(minutes=1), "sync_requested_at": False}
        )
        self.env.flush_all()
        return subscription

    def triggers(self):
        return self.env["ir.cron.trigger"].search_count([("cron_id", "=", self.cron.id)])

    def is_due(self, mailbox):
        """Whether a cron run starting now would take this mailbox (its claim's own condition)."""
        model = self.env["outlook.mailbox"]
        self.env.flush_all()
        self.env.cr.execute(
            f"SELECT id FROM outlook_mailbox WHERE id = %(mailbox)s AND {model._outlook_due_domain_sql()}",
            {**model._outlook_due_params(fields.Datetime.now() + timedelta(seconds=1)), "mailbox": mailbox.id},
        )
        return bool(self.env.cr.fetchall())

    def fold(self):
        """What the cron does first: count what the webhook received."""
        self.env["outlook.notification.inbox"]._outlook_fold()
        self.env.invalidate_all()

    def delivered(self, counter="notifications_sent", before=0, timeout=10):
        """Wait (bounded) until the emulator's counter passed ``before`` and nothing is in flight.

        :return: the seconds it took
        """
        started = time.monotonic()
        with self.graph_may_call_odoo():
            for _ in range(int(timeout / 0.05)):
                if self.emulator.counters()[counter] > before:
                    break
                time.sleep(0.05)
            self.assertTrue(self.emulator.subscriptions.wait_idle(timeout))
        self.assertGreater(
            self.emulator.counters()[counter],
            before,
            f"nothing delivered: {self.emulator.subscriptions.deliveries()[-3:]}",
        )
        self.env.invalidate_all()
        return time.monotonic() - started

    def post(self, path, payload=None, data=None, headers=None):
        headers = headers or {"Content-Type": "application/json"}
        body = data if data is not None else (None if payload is None else json.dumps(payload))
        return self.opener.post(self.base_url() + path, data=body, headers=headers, timeout=10)

    def emulated(self, subscription):
        return next(s for s in self.emulator.subscriptions.list() if s["id"] == subscription.graph_id)

    # ------------------------------------------------------------
    # subscribing
    # ------------------------------------------------------------

    def test_enabling_subscribes_through_odoo_webhook(self):
        self.sync(self.mailbox_anna)
        subscription = self.subscription_of(self.mailbox_anna)
        self.assertEqual(subscription.state, "active", subscription.last_error)
        [emulated] = self.emulator.subscriptions.list()
        self.assertEqual(emulated["id"], subscription.graph_id)
        self.assertEqual((emulated["mailbox"], emulated["resource"]), (ANNA, "/me/events"))
        self.assertEqual(emulated["notificationUrl"], self.base_url() + NOTIFY_PATH)
        self.assertEqual(emulated["lifecycleNotificationUrl"], self.base_url() + LIFECYCLE_PATH)
        self.assertEqual(emulated["clientState"], subscription.client_state)
        self.assertTrue(emulated["immutableIds"])
        self.assertGreaterEqual(len(subscription.client_state), 40)
        # both URLs answered the emulator's validation POST (Odoo's route, over HTTP)
        counters = self.emulator.counters()
        self.assertEqual((counters["validations"], counters["validations_failed"]), (2, 0))
        lifetime = subscription.expiration - fields.Datetime.now()
        self.assertTrue(timedelta(hours=69) < lifetime <= timedelta(minutes=4230), lifetime)
        # the next run keeps it
        self.sync(self.mailbox_anna)
        self.assertEqual(self.emulator.counters()["requests"].get(CREATE), 1)
        self.assertEqual(len(self.emulator.subscriptions.list()), 1)
        self.assertFalse(self.subscription_of(self.mailbox_bob), "Bob has not synced yet")
        self.assertEqual(self.emulator.counters()["messages_sent"], 0)

    def test_validation_token_is_echoed_as_plain_text(self):
        token = "Validation: Testing client application reachability <b>&amp;</b> Request-Id: 42"
        for path in (NOTIFY_PATH, LIFECYCLE_PATH):
            resp = self.post(
                f"{path}?validationToken={quote(token)}", data="", headers={"Content-Type": "text/plain; charset=utf-8"}
            )
            self.assertEqual(resp.status_code, 200)
            self.assertEqual(resp.headers["Content-Type"], "text/plain; charset=utf-8")
            self.assertEqual(resp.headers["X-Content-Type-Options"], "nosniff")
            self.assertEqual(resp.text, token)
            self.assertNotIn("Set-Cookie", resp.headers, "no session for Microsoft's calls")

    def test_feature_off_by_default_and_settings(self):
        self.params_sudo.set_param(PARAM_REALTIME, False)
        settings = self.env["res.config.settings"].create({})
        self.assertFalse(settings.outlook_realtime)
        self.sync(self.mailbox_anna)
        self.assertFalse(self.subscription_of(self.mailbox_anna))
        self.assertEqual(self.emulator.counters()["requests"].get(CREATE), None)
        with self.assertRaises(ValidationError):
            self.env["res.config.settings"].create({"outlook_notification_url": "http://odoo.example.com"})
        self.env["res.config.settings"].create({"outlook_notification_url": "https://odoo.example.com"})

    def test_a_url_graph_cannot_call_is_recorded_without_failing_the_sync(self):
        self.params_sudo.set_param(PARAM_NOTIFICATION_URL, "http://odoo.example.com")
        self.sync(self.mailbox_anna)  # asserts the mailbox has no error
        subscription = self.subscription_of(self.mailbox_anna)
        self.assertEqual(subscription.state, "pending")
        self.assertIn("https://", subscription.last_error)
        self.assertEqual(self.emulator.counters()["requests"].get(CREATE), None, "Graph was not even asked")
        # an endpoint that does not answer the handshake: Graph refuses, the sync still succeeds
        self.params_sudo.set_param(PARAM_NOTIFICATION_URL, "http://127.0.0.1:9")
        self.sync(self.mailbox_anna)
        self.assertIn("validation request failed", subscription.last_error)
        self.assertEqual(self.mailbox_anna.state, "connected")
        self.assertTrue(self.mailbox_anna.last_sync_at)
        # once the URL is right, the next run subscribes
        self.params_sudo.set_param(PARAM_NOTIFICATION_URL, self.base_url())
        self.sync(self.mailbox_anna)
        self.assertEqual((subscription.state, subscription.last_error), ("active", False))

    # ------------------------------------------------------------
    # notifications
    # ------------------------------------------------------------

    def test_outlook_change_asks_for_a_sync_within_seconds(self):
        subscription = self.subscribed(self.mailbox_anna)
        triggers, bob_requested = self.triggers(), self.mailbox_bob.sync_requested_at
        meeting = self.outlook_meeting(ANNA, "Decided in Outlook")
        seconds = self.delivered()
        self.assertLess(seconds, 5)
        self.assertTrue(self.is_due(self.mailbox_anna))
        self.assertEqual(self.triggers(), triggers + 1)
        self.assertEqual(subscription.notification_count, 0, "counted by the cron, not in the request")
        self.fold()
        self.assertFalse(self.env["outlook.notification.inbox"].search([]))
        self.assertGreater(self.mailbox_anna.sync_requested_at, self.mailbox_anna.last_attempt_at)
        self.assertEqual(subscription.notification_count, 1)
        self.assertTrue(subscription.last_notification_at)
        self.assertEqual(self.mailbox_bob.sync_requested_at, bob_requested, "only the notified mailbox")
        # the triggered cron picks Anna's mailbox: the event is in Odoo
        self.cron.method_direct_trigger()
        self.env.invalidate_all()
        self.assertEqual(self.event_of(meeting["iCalUId"]).name, "Decided in Outlook")
        # more changes while a request waits: acknowledged, no second trigger
        self.mailbox_anna.sudo().write(
            {"last_attempt_at": fields.Datetime.now() - timedelta(minutes=1), "sync_requested_at": False}
        )
        self.env.flush_all()
        triggers = self.triggers()
        sent = self.emulator.counters()["notifications_sent"]
        self.emulator.outlook.update_event(ANNA, meeting["id"], {"subject": "Renamed in Outlook"})
        self.delivered(before=sent)
        self.emulator.outlook.update_event(ANNA, meeting["id"], {"subject": "Renamed again"})
        self.delivered(before=sent + 1)
        self.assertEqual(self.triggers(), triggers + 1)
        self.fold()
        self.assertEqual(subscription.notification_count, 3)
        self.assertEqual(self.emulator.counters()["messages_sent"], 0)

    def test_a_notification_in_the_second_a_run_started_still_makes_the_mailbox_due(self):
        self.subscribed(self.mailbox_anna)
        now = fields.Datetime.now()
        self.mailbox_anna.sudo().write({"last_attempt_at": now, "sync_requested_at": now - timedelta(minutes=5)})
        self.env.flush_all()
        self.outlook_meeting(ANNA, "During the run")
        self.delivered()
        self.assertTrue(self.is_due(self.mailbox_anna))
        self.fold()
        self.assertGreater(self.mailbox_anna.sync_requested_at, self.mailbox_anna.last_attempt_at)

    @mute_logger("odoo.addons.outlook_calendar_sync.models.outlook_subscription")
    def test_wrong_client_state_or_unknown_subscription_is_ignored(self):
        subscription = self.subscribed(self.mailbox_anna)
        triggers = self.triggers()
        # a forged notification: right subscription id, wrong secret
        item = {
            "subscriptionId": subscription.graph_id,
            "clientState": "guessed",
            "changeType": "updated",
            "resource": "Users/x/Events/y",
            "resourceData": {"id": "y"},
        }
        self.assertEqual(self.post(NOTIFY_PATH, {"value": [item]}).status_code, 202)
        self.assertEqual(
            self.post(LIFECYCLE_PATH, {"value": [dict(item, lifecycleEvent="subscriptionRemoved")]}).status_code, 202
        )
        self.assertEqual(self.post(NOTIFY_PATH, {"value": [dict(item, subscriptionId="unknown")]}).status_code, 202)
        self.assertEqual(self.post(NOTIFY_PATH, {"value": [dict(item, clientState=None)]}).status_code, 202)
        self.fold()
        self.assertEqual((subscription.state, subscription.rejected_count), ("active", 3))
        self.assertFalse(self.is_due(self.mailbox_anna))
        self.assertFalse(self.mailbox_anna.sync_requested_at)
        self.assertEqual(self.triggers(), triggers)
        # what is not Graph's {"value": [...]} is a 400
        self.assertEqual(self.post(NOTIFY_PATH, data="not json").status_code, 400)
        self.assertEqual(self.post(NOTIFY_PATH, {"value": "x"}).status_code, 400)
        self.assertEqual(self.post(LIFECYCLE_PATH, ["x"]).status_code, 400)
        self.assertEqual(self.opener.get(self.base_url() + NOTIFY_PATH, timeout=10).status_code, 405)
        # the emulator's own notifications after the secret changed on our side are rejected too
        subscription.client_state = "rotated-secret"
        self.env.flush_all()
        self.outlook_meeting(ANNA, "Not for Odoo")
        self.delivered()
        self.fold()
        self.assertEqual(subscription.rejected_count, 4)
        self.assertFalse(self.mailbox_anna.sync_requested_at)

    def test_echo_of_our_own_push_asks_for_nothing(self):
        subscription = self.subscribed(self.mailbox_anna)
        start = self.tomorrow_at(14)
        event = (
            self.env["calendar.event"]
            .with_user(self.user_anna)
            .create({"name": "Made in Odoo", "start": start, "stop": start + timedelta(hours=1)})
        )
        self.emulator.subscriptions.pause()  # the push notifies while the sync runs on the test cursor
        self.sync(self.mailbox_anna)
        self.mailbox_anna.sudo().write(
            {"last_attempt_at": fields.Datetime.now() - timedelta(minutes=1), "sync_requested_at": False}
        )
        self.env.flush_all()
        self.assertTrue(self.env["outlook.event.link"].search([("event_id", "=", event.id)]).change_key)
        self.emulator.subscriptions.resume()
        self.delivered()
        self.assertFalse(self.is_due(self.mailbox_anna), "the etag is the change key Odoo holds")
        self.fold()
        self.assertEqual(subscription.notification_count, 1)
        self.assertFalse(self.mailbox_anna.sync_requested_at)

    # ------------------------------------------------------------
    # renewal and lifecycle
    # ------------------------------------------------------------

    def test_renewal_before_expiry(self):
        subscription = self.subscribed(self.mailbox_anna)
        subscription.expiration = fields.Datetime.now() + timedelta(hours=30)
        self.sync(self.mailbox_anna)
        self.assertEqual(self.emulator.counters()["requests"].get(RENEW), None, "30 h left: nothing to do")
        subscription.expiration = fields.Datetime.now() + timedelta(hours=23)
        self.sync(self.mailbox_anna)
        self.assertEqual(self.emulator.counters()["requests"].get(RENEW), 1)
        self.assertGreater(subscription.expiration, fields.Datetime.now() + timedelta(hours=69))
        self.assertEqual(
            self.emulated(subscription)["expirationDateTime"][:16], subscription.expiration.strftime("%Y-%m-%dT%H:%M")
        )
        # Microsoft forgot it (expired there): the renewal's 404 makes a new one
        old_id = subscription.graph_id
        self.emulator.subscriptions.expire(old_id)
        subscription.expiration = fields.Datetime.now() + timedelta(hours=1)
        self.sync(self.mailbox_anna)
        self.assertNotEqual(subscription.graph_id, old_id)
        self.assertEqual((subscription.state, subscription.last_error), ("active", False))
        self.assertEqual(self.emulator.counters()["requests"].get(CREATE), 2)
        # expired on our side: a new one, the old one is not touched
        subscription.expiration = fields.Datetime.now() - timedelta(minutes=1)
        self.sync(self.mailbox_anna)
        self.assertEqual(self.emulator.counters()["requests"].get(CREATE), 3)
        self.assertEqual(self.emulator.counters()["requests"].get(DELETE), None)
        self.assertEqual(self.emulator.counters()["messages_sent"], 0)

    def test_short_lifetimes_renew_at_half_life(self):
        self.params_sudo.set_param("outlook_calendar_sync.subscription_minutes", "120")
        subscription = self.subscribed(self.mailbox_anna)
        self.assertLess(subscription.expiration, fields.Datetime.now() + timedelta(minutes=121))
        subscription.expiration = fields.Datetime.now() + timedelta(minutes=70)
        self.sync(self.mailbox_anna)
        self.assertEqual(self.emulator.counters()["requests"].get(RENEW), None)
        subscription.expiration = fields.Datetime.now() + timedelta(minutes=50)
        self.sync(self.mailbox_anna)
        self.assertEqual(self.emulator.counters()["requests"].get(RENEW), 1)

    def test_reauthorization_required(self):
        subscription = self.subscribed(self.mailbox_anna)
        self.emulator.subscriptions.fire(subscription.graph_id, "reauthorizationRequired")
        self.delivered("lifecycle_sent")
        self.assertEqual(subscription.state, "renew")
        self.assertTrue(self.is_due(self.mailbox_anna))
        self.sync(self.mailbox_anna)
        self.assertEqual(self.emulator.counters()["requests"].get(REAUTHORIZE), 1)
        self.assertEqual(subscription.state, "active")
        self.assertFalse(self.emulated(subscription)["reauthorizationRequired"])

    def test_missed(self):
        subscription = self.subscribed(self.mailbox_anna)
        self.emulator.subscriptions.fire(subscription.graph_id, "missed")
        self.delivered("lifecycle_sent")
        self.assertEqual(subscription.state, "active")
        self.assertTrue(self.is_due(self.mailbox_anna), "delta catches up what was missed")
        self.fold()
        self.assertEqual(subscription.notification_count, 1)

    def test_subscription_removed_is_recreated(self):
        subscription = self.subscribed(self.mailbox_anna)
        old_id = subscription.graph_id
        self.emulator.subscriptions.fire(old_id, "subscriptionRemoved")
        self.delivered("lifecycle_sent")
        self.assertEqual(subscription.state, "removed")
        self.assertTrue(self.is_due(self.mailbox_anna))
        self.assertEqual(self.emulator.subscriptions.list(), [])
        self.sync(self.mailbox_anna)
        self.assertEqual(subscription.state, "active")
        self.assertNotEqual(subscription.graph_id, old_id)
        self.assertEqual([s["id"] for s in self.emulator.subscriptions.list()], [subscription.graph_id])
        self.assertEqual(self.emulator.counters()["requests"].get(DELETE), None)

    # ------------------------------------------------------------
    # switching off
    # ------------------------------------------------------------

    def test_disabling_deletes_the_subscription(self):
        self.subscribed(self.mailbox_anna)
        settings = self.env["res.config.settings"].create({})
        self.assertTrue(settings.outlook_realtime)
        triggers = self.triggers()
        settings.outlook_realtime = False
        settings.execute()
        self.assertEqual(self.triggers(), triggers + 1, "switching asks the connected mailboxes to run")
        self.sync(self.mailbox_anna)
        self.assertEqual(self.emulator.subscriptions.list(), [])
        self.assertEqual(self.emulator.counters()["requests"].get(DELETE), 1)
        self.assertFalse(self.subscription_of(self.mailbox_anna))
        self.sync(self.mailbox_anna)
        self.assertEqual(self.emulator.counters()["requests"].get(DELETE), 1)

    def test_disconnect_deletes_the_subscription(self):
        self.subscribed(self.mailbox_anna)
        self.subscribed(self.mailbox_bob)
        self.mailbox_bob.with_user(self.user_bob).action_outlook_disconnect()
        self.assertEqual([s["mailbox"] for s in self.emulator.subscriptions.list()], [ANNA])
        self.assertFalse(self.subscription_of(self.mailbox_bob))
        # without a usable token the local record goes anyway (Graph's expires within three days)
        self.emulator.revoke_refresh_tokens(ANNA)
        self.emulator.expire_access_tokens(ANNA)
        with mute_logger("odoo.addons.outlook_calendar_sync.models.outlook_subscription"):
            self.mailbox_anna.action_outlook_disconnect()
        self.assertFalse(self.subscription_of(self.mailbox_anna))
        self.assertEqual(self.mailbox_anna.state, "disconnected")
        self.assertEqual(self.emulator.counters()["messages_sent"], 0)

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_model", "odoo.addons.base.models.ir_rule")
    def test_users_cannot_read_subscriptions(self):
        subscription = self.subscribed(self.mailbox_anna)
        with self.assertRaises(AccessError):
            subscription.with_user(self.user_anna).read(["state"])
        with self.assertRaises(AccessError):
            self.mailbox_anna.with_user(self.user_anna).read(["subscription_ids"])
        self.assertEqual(self.env["outlook.subscription"].search_count([("mailbox_id.address", "=", BOB)]), 0)
