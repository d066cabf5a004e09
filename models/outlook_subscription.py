"""Real-time updates: one Graph change-notification subscription per connected mailbox (graph-reference E).

Graph POSTs to our public webhook (``controllers/notifications.py``) within seconds of an Outlook change; the
webhook only checks the ``clientState`` and asks for that mailbox's sync, which then reads the change through
delta as usual. The subscription is created, renewed and deleted at the end of each sync run
(:meth:`OutlookMailbox._outlook_ensure_subscription`); the cron stays the fallback for anything missed.
"""

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import str2bool

from ..graph.client import CalendarClient
from ..graph.errors import GraphError, OutlookError
from ..graph.run import GraphRun
from . import compat
from .outlook_config import get_auth_settings

_logger = logging.getLogger(__name__)

PARAM_REALTIME = "outlook_calendar_sync.realtime"
PARAM_NOTIFICATION_URL = "outlook_calendar_sync.notification_url"
PARAM_SUBSCRIPTION_MINUTES = "outlook_calendar_sync.subscription_minutes"
NOTIFY_PATH = "/outlook_calendar_sync/notify"
LIFECYCLE_PATH = "/outlook_calendar_sync/lifecycle"
# Graph's maximum for Outlook events is 4,230 minutes (graph-reference E); ask a little less (clock skew).
DEFAULT_LIFETIME_MINUTES = 4200
MIN_LIFETIME_MINUTES, MAX_LIFETIME_MINUTES = 45, 10080
RENEW_BEFORE = timedelta(hours=24)  # renew when less remains (or half the lifetime, when that is shorter)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
DISCONNECT_TIMEOUT = 10.0  # seconds: deleting the subscription while disconnecting is best effort


@dataclass(frozen=True)
class RealtimeConfig:
    """The admin's real-time settings, read once per run."""

    enabled: bool
    base_url: str
    lifetime: timedelta

    @property
    def notify_url(self):
        return self.base_url + NOTIFY_PATH

    @property
    def lifecycle_url(self):
        return self.base_url + LIFECYCLE_PATH

    @property
    def renew_before(self):
        return min(RENEW_BEFORE, self.lifetime / 2)

    def url_problem(self):
        """Why Graph cannot call ``base_url``, or ``None`` (the emulator also accepts loopback http)."""
        return notification_url_problem(self.base_url)


def notification_url_problem(url):
    """A sentence for the admin when ``url`` cannot receive Graph's notifications, else ``None``."""
    parts = urlsplit(url or "")
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and (parts.hostname or "").lower() in LOOPBACK_HOSTS:
        return None  # a local emulator, never Microsoft
    return _(
        "Microsoft Graph sends change notifications only to a public https:// URL; set the Public URL for "
        "notifications in Settings > General Settings > Integrations > Outlook Calendar (now: %(url)s).",
        url=url or _("empty"),
    )


def realtime_config(env):
    """:return: the :class:`RealtimeConfig` stored in the system parameters (narrow sudo, STYLE R6/R8)"""
    params_sudo = env["ir.config_parameter"].sudo()
    base_url = params_sudo.get_param(PARAM_NOTIFICATION_URL) or params_sudo.get_param("web.base.url") or ""
    try:
        minutes = int(params_sudo.get_param(PARAM_SUBSCRIPTION_MINUTES) or DEFAULT_LIFETIME_MINUTES)
    except ValueError:
        minutes = DEFAULT_LIFETIME_MINUTES
    return RealtimeConfig(
        enabled=str2bool(params_sudo.get_param(PARAM_REALTIME) or "False", False),
        base_url=base_url.strip().rstrip("/"),
        lifetime=timedelta(minutes=min(max(minutes, MIN_LIFETIME_MINUTES), MAX_LIFETIME_MINUTES)),
    )


def graph_datetime(text, fallback):
    """Graph's ``2025-03-10T12:00:00.1234567Z`` as a naive UTC datetime (``fallback`` when unreadable)."""
    try:
        return datetime.strptime((text or "")[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return fallback


def change_key_of(etag):
    """``W/"abc"`` -> ``abc``."""
    return (etag or "").strip().removeprefix("W/").strip('"')


class OutlookSubscription(models.Model):
    """The Graph subscription on one mailbox's events: its id, the ``clientState`` secret Graph echoes in
    every notification, its expiration and what happened last. Administrators only (tokens and secrets)."""

    _name = "outlook.subscription"
    _description = "Outlook change notifications of a mailbox"
    _order = "id"
    _rec_name = "mailbox_id"

    mailbox_id = fields.Many2one("outlook.mailbox", required=True, index=True, ondelete="cascade", readonly=True)
    user_id = fields.Many2one(related="mailbox_id.user_id", string="Mailbox Owner")
    graph_id = fields.Char("Graph Subscription ID", readonly=True, copy=False, index=True)
    client_state = fields.Char(
        readonly=True,
        copy=False,
        groups="base.group_system",
        default=lambda self: secrets.token_urlsafe(32),
        help="Secret sent to Microsoft with the subscription; a notification without it is ignored",
    )
    notification_url = fields.Char("Notification URL", readonly=True, copy=False)
    expiration = fields.Datetime("Expires", readonly=True, copy=False)
    state = fields.Selection(
        [
            ("pending", "Not created yet"),
            ("active", "Active"),
            ("renew", "Reauthorization needed"),
            ("removed", "Removed by Microsoft"),
        ],
        default="pending",
        required=True,
        readonly=True,
    )
    last_notification_at = fields.Datetime("Last Notification", readonly=True, copy=False)
    notification_count = fields.Integer("Notifications", readonly=True, copy=False)
    rejected_count = fields.Integer(
        "Rejected Notifications",
        readonly=True,
        copy=False,
        help="Notifications for this subscription whose client state did not match: ignored",
    )
    last_error = fields.Text(readonly=True, copy=False)

    _mailbox_uniq = compat.Constraint("UNIQUE(mailbox_id)", "A mailbox has one Outlook subscription.")

    # ------------------------------------------------------------
    # KEEPING THE SUBSCRIPTION ALIVE (called by the sync run)
    # ------------------------------------------------------------

    def _outlook_keep_alive(self, client, config):
        """Renew, reauthorize or (re)create this subscription so that it outlives the next runs.

        :raises OutlookError: the caller records it on the subscription
        """
        self.ensure_one()
        now = fields.Datetime.now()
        if self._outlook_usable(config, now):
            try:
                self._outlook_refresh(client, config, now)
                return
            except GraphError as exc:
                if exc.status != 404:
                    raise
                _logger.info(
                    "outlook: subscription of mailbox %s is gone at Microsoft, creating it again", self.mailbox_id.id
                )
        elif self.graph_id and self.state != "removed" and self.expiration and self.expiration > now:
            client.delete_subscription(self.graph_id)  # another notification URL: stop the old one
        self._outlook_create(client, config, now)

    def _outlook_usable(self, config, now):
        return bool(
            self.graph_id
            and self.state in ("active", "renew")
            and self.expiration
            and self.expiration > now
            and self.notification_url == config.notify_url
        )

    def _outlook_refresh(self, client, config, now):
        if self.expiration - now < config.renew_before:
            answer = client.renew_subscription(self.graph_id, now + config.lifetime)
            self.write(
                {
                    "expiration": graph_datetime(answer.get("expirationDateTime"), now + config.lifetime),
                    "state": "active",
                    "last_error": False,
                }
            )
        elif self.state == "renew":  # reauthorizationRequired: no need to extend yet
            client.reauthorize_subscription(self.graph_id)
            self.write({"state": "active", "last_error": False})
        elif self.last_error:
            self.last_error = False

    def _outlook_create(self, client, config, now):
        """Subscribe with a fresh secret; Graph validates both URLs through our webhook before answering."""
        client_state = secrets.token_urlsafe(32)
        expiration = now + config.lifetime
        answer = client.create_subscription(config.notify_url, config.lifecycle_url, client_state, expiration)
        self.write(
            {
                "graph_id": answer["id"],
                "client_state": client_state,
                "notification_url": config.notify_url,
                "expiration": graph_datetime(answer.get("expirationDateTime"), expiration),
                "state": "active",
                "last_error": False,
            }
        )
        _logger.info("outlook: mailbox %s subscribed to change notifications", self.mailbox_id.id)

    def _outlook_drop(self, client):
        """Delete the Graph subscription (when it may still exist), then this record.

        :raises OutlookError: the record stays, so the next run tries again
        """
        for subscription in self:
            alive = (
                subscription.state != "removed"
                and subscription.expiration
                and subscription.expiration > fields.Datetime.now()
            )
            if subscription.graph_id and alive and client is not None:
                client.delete_subscription(subscription.graph_id)
        self.unlink()

    # ------------------------------------------------------------
    # INCOMING NOTIFICATIONS (webhook: no Graph call, STYLE R9; inserts only, outlook_notification_inbox.py)
    # ------------------------------------------------------------

    @api.model
    def _outlook_authentic(self, notifications):
        """Pair each notification with its subscription when its ``clientState`` matches.

        :param notifications: :class:`~..graph.notifications.Notification` values (typed and bounded)
        :return: ``([(notification, subscription_sudo), ...], {subscription_sudo: rejected count}, unknown count)``
        """
        ids = list({notification.subscription_id for notification in notifications})
        subscriptions_sudo = self.sudo().search([("graph_id", "in", ids)]) if ids else self.sudo().browse()
        by_id = {subscription.graph_id: subscription for subscription in subscriptions_sudo}
        valid, unknown, rejected = [], 0, {}
        for notification in notifications:
            subscription_sudo = by_id.get(notification.subscription_id)
            if subscription_sudo is None:
                unknown += 1
                continue
            expected = (subscription_sudo.client_state or "").encode()
            if not expected or not hmac.compare_digest(notification.client_state.encode(), expected):
                rejected[subscription_sudo] = rejected.get(subscription_sudo, 0) + 1
                continue
            valid.append((notification, subscription_sudo))
        for subscription_sudo, count in rejected.items():
            _logger.warning(
                "outlook: ignored %s notification(s) with a wrong client state for subscription %s",
                count,
                subscription_sudo.id,
            )
        if unknown:
            _logger.info("outlook: ignored %s notification(s) for unknown subscriptions", unknown)
        return valid, rejected, unknown

    @api.model
    def _outlook_receive_changes(self, notifications):
        """Change notifications: ask for a sync of each mailbox that has something new.

        A notification whose ``@odata.etag`` is the change key Odoo already holds (the echo of our own push)
        asks for nothing. :return: ``(accepted, ignored)`` counts
        """
        valid, rejected, unknown = self._outlook_authentic(notifications)
        known = self._outlook_known_versions([(item, subscription.mailbox_id) for item, subscription in valid])
        accepted, mailboxes_sudo = {}, self.env["outlook.mailbox"].sudo()
        for notification, subscription_sudo in valid:
            accepted[subscription_sudo] = accepted.get(subscription_sudo, 0) + 1
            mailbox_sudo = subscription_sudo.mailbox_id
            version = (mailbox_sudo.id, notification.resource_id, change_key_of(notification.etag))
            if notification.change_type == "deleted" or version not in known:
                mailboxes_sudo |= mailbox_sudo
        self._outlook_note_received(accepted, rejected, mailboxes_sudo)
        return len(valid), unknown + sum(rejected.values())

    @api.model
    def _outlook_known_versions(self, pairs):
        """``{(mailbox id, graph id, change key)}`` Odoo already synced, among the notified events (one query)."""
        graph_ids = [notification.resource_id for notification, _mailbox in pairs if notification.resource_id]
        if not graph_ids:
            return set()
        links_sudo = (
            self.env["outlook.event.link"]
            .sudo()
            .search_fetch(
                [
                    ("mailbox_id", "in", list({mailbox.id for _item, mailbox in pairs})),
                    ("graph_id", "in", graph_ids),
                    ("change_key", "!=", False),
                ],
                ["mailbox_id", "graph_id", "change_key"],
            )
        )
        return {(link.mailbox_id.id, link.graph_id, link.change_key) for link in links_sudo}

    @api.model
    def _outlook_receive_lifecycle(self, notifications):
        """Lifecycle notifications (graph-reference E): ``reauthorizationRequired`` marks the subscription for
        renewal, ``subscriptionRemoved`` marks it gone (the next run creates a new one), ``missed`` changes
        nothing; each asks for a sync, which renews or recreates and catches up through delta.

        The state is written only when it changes (Graph sends these once per event, never in floods).
        :return: ``(accepted, ignored)`` counts
        """
        valid, rejected, ignored = self._outlook_authentic(notifications)
        accepted, mailboxes_sudo = {}, self.env["outlook.mailbox"].sudo()
        for notification, subscription_sudo in valid:
            event = notification.lifecycle_event
            if event == "reauthorizationRequired" and subscription_sudo.state == "active":
                subscription_sudo.state = "renew"
            elif event == "subscriptionRemoved" and subscription_sudo.state != "removed":
                subscription_sudo.state = "removed"
            elif event not in ("reauthorizationRequired", "missed", "subscriptionRemoved"):
                ignored += 1
                continue
            _logger.info("outlook: lifecycle event %s for subscription %s", event, subscription_sudo.id)
            accepted[subscription_sudo] = accepted.get(subscription_sudo, 0) + 1
            mailboxes_sudo |= subscription_sudo.mailbox_id
        self._outlook_note_received(accepted, rejected, mailboxes_sudo)
        return sum(accepted.values()), ignored + sum(rejected.values())

    @api.model
    def _outlook_note_received(self, accepted, rejected, mailboxes_sudo):
        """Write the notifications down (inserts only) and trigger the sync cron for the mailboxes that were
        not waiting for it yet."""
        wanted = mailboxes_sudo.filtered(lambda m: m.state == "connected")
        fresh = self.env["outlook.notification.inbox"]._outlook_note(accepted, rejected, wanted)
        if fresh:
            self.env.ref("outlook_calendar_sync.ir_cron_outlook_sync").sudo()._trigger()


class OutlookMailbox(models.Model):
    _inherit = "outlook.mailbox"

    subscription_ids = fields.One2many(
        "outlook.subscription", "mailbox_id", string="Change Notifications", groups="base.group_system"
    )

    def _outlook_ensure_subscription(self, client, exists=True):
        """Make this mailbox's Graph subscription match the settings: create it when real-time updates are on
        and none is valid, renew it before it expires, delete it when they are off or the mailbox is not
        connected. Never fails the sync: a failure is recorded on the subscription and retried next run.

        :param client: this run's :class:`~..graph.client.CalendarClient` of the mailbox
        :param exists: ``False`` when the caller knows the mailbox has no subscription row (no query then
            while real-time updates are off)
        """
        self.ensure_one()
        config = realtime_config(self.env)
        if not exists and not config.enabled:
            return
        subscription_sudo = self.env["outlook.subscription"].sudo().search([("mailbox_id", "=", self.id)], limit=1)
        if not config.enabled or self.state != "connected":
            if subscription_sudo:
                self._outlook_record_subscription_failure(subscription_sudo, subscription_sudo._outlook_drop, client)
            return
        subscription_sudo = subscription_sudo or subscription_sudo.create({"mailbox_id": self.id})
        problem = config.url_problem()
        if problem:
            subscription_sudo.last_error = problem
            return
        self._outlook_record_subscription_failure(
            subscription_sudo, subscription_sudo._outlook_keep_alive, client, config
        )

    def _outlook_record_subscription_failure(self, subscription_sudo, operation, *args):
        """Run ``operation``; an Outlook/Graph failure goes on the subscription (STYLE R13), not on the sync."""
        try:
            with self.env.cr.savepoint():
                operation(*args)
        except OutlookError as exc:
            _logger.warning("outlook: change notifications of mailbox %s: %s", self.id, exc)
            subscription_sudo.last_error = exc.user_message()

    def action_outlook_disconnect(self):
        """Also stop the mailbox's change notifications, best effort: the tokens are about to be forgotten."""
        # read before super() forgets them (through the token accessor: nothing else of the mailboxes is loaded under
        # sudo, which would skip the rules super() relies on to refuse other users' mailboxes)
        caches = {mailbox_id: tokens.cache for mailbox_id, tokens in self._outlook_tokens().items()}
        result = super().action_outlook_disconnect()  # checks the user may disconnect these mailboxes
        subscriptions_sudo = self.env["outlook.subscription"].sudo().search([("mailbox_id", "in", self.ids)])
        if not subscriptions_sudo:
            return result
        run = GraphRun(get_auth_settings(self.env))
        for subscription_sudo in subscriptions_sudo:
            client = None
            if caches.get(subscription_sudo.mailbox_id.id):
                auth = run.auth(caches[subscription_sudo.mailbox_id.id])
                client = CalendarClient(
                    run.session, run.settings.graph_url, auth.access_token, timeout=DISCONNECT_TIMEOUT
                )
            try:
                with self.env.cr.savepoint():
                    subscription_sudo._outlook_drop(client)
            except OutlookError as exc:  # it expires by itself within three days; its notifications are ignored
                _logger.warning(
                    "outlook: could not delete the subscription of mailbox %s: %s", subscription_sudo.mailbox_id.id, exc
                )
                subscription_sudo.unlink()
        return result


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    @api.constrains("outlook_notification_url")
    def _check_outlook_notification_url(self):
        for settings in self:
            url = (settings.outlook_notification_url or "").strip()
            if url and notification_url_problem(url):
                raise ValidationError(notification_url_problem(url))

    def set_values(self):
        """Switching real-time updates on or off takes effect at each mailbox's next run: ask for it now."""
        before = realtime_config(self.env)
        res = super().set_values()
        after = realtime_config(self.env)
        if (before.enabled, before.notify_url) != (after.enabled, after.notify_url):
            self.env["outlook.mailbox"].sudo().search([("state", "=", "connected")])._outlook_request_sync(force=True)
        return res
