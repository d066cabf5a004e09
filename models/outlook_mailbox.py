import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import psycopg2.errors
from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import mute_logger

from ..graph.auth import MAILBOX_SETTINGS_SCOPES
from ..graph.errors import ConfigurationError, OutlookError, ReauthRequired, Throttled
from ..graph.run import GraphRun
from . import compat
from .outlook_config import get_auth_settings, redirect_uri, set_config_error
from .outlook_notification_inbox import PENDING_SQL

_logger = logging.getLogger(__name__)

RECONNECT_SUMMARY = "Reconnect your Outlook calendar"
LOCK_NAMESPACE = 0x6F63  # pg advisory lock namespace of mailbox syncs ("oc")
# the order due mailboxes are taken in: asked for first (the Outlook button), then the longest waiting
DUE_ORDER_SQL = "sync_requested_at DESC NULLS LAST, last_attempt_at NULLS FIRST, id"
# what _outlook_pending_work tells, in its columns' order
PENDING_WORK = ("failed", "dirty", "tombstones", "series", "answers", "reset_removals", "subscription")
CONCURRENT_WRITE_ERRORS = (
    psycopg2.errors.SerializationFailure,
    psycopg2.errors.DeadlockDetected,
    psycopg2.errors.UniqueViolation,
)
CLAIM_ATTEMPTS = 5  # claims refused by a concurrent update before the run stops for this time
OPEN_SYNC_DELAY = timedelta(minutes=2)  # opening the Calendar syncs a mailbox at most this often


@dataclass(frozen=True)
class ConnectOutcome:
    """What the OAuth callback shows or where it sends the browser."""

    mailbox_id: int
    address: str


class RedeemedSignIns:
    """Sign-ins whose authorization code Microsoft already exchanged, kept in this process until their connection
    reached the database.

    Microsoft's codes are single-use. When PostgreSQL refuses the callback's transaction (a concurrent update of the
    mailbox row: serialization failure), Odoo rolls it back and runs the request again: the retry takes the identity
    and tokens the first attempt redeemed from here instead of redeeming the code a second time, which Microsoft would
    refuse (AADSTS54005). Odoo retries in the same process, so memory is enough; an entry is dropped as soon as its
    connection is flushed, and after :attr:`ttl` seconds at the latest.
    """

    ttl = 600
    limit = 1000

    def __init__(self):
        self._lock = threading.Lock()
        self._entries = {}  # key: (expiry, value)

    def get(self, key):
        with self._lock:
            expiry, value = self._entries.get(key, (0, None))
            return value if expiry > time.monotonic() else None

    def put(self, key, value):
        with self._lock:
            now = time.monotonic()
            for stale in [k for k, (expiry, _v) in self._entries.items() if expiry <= now]:
                del self._entries[stale]
            while len(self._entries) >= self.limit:
                del self._entries[next(iter(self._entries))]
            self._entries[key] = (now + self.ttl, value)

    def drop(self, key):
        with self._lock:
            self._entries.pop(key, None)


REDEEMED_SIGN_INS = RedeemedSignIns()


class OutlookMailbox(models.Model):
    """One Odoo user's connected Microsoft 365 mailbox: state and sync checkpoints (its tokens are an
    ``outlook.mailbox.token``, see models/outlook_mailbox_token.py).

    The sync cron claims these rows one at a time (``FOR UPDATE SKIP LOCKED``), so several workers
    never sync the same mailbox at once (STYLE R10).
    """

    _name = "outlook.mailbox"
    _description = "Outlook mailbox connected to an Odoo user"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "id"
    _rec_name = "address"

    user_id = fields.Many2one("res.users", required=True, index=True, ondelete="cascade", readonly=True)
    address = fields.Char("Mailbox", readonly=True, tracking=True)
    graph_user_id = fields.Char("Microsoft Account ID", readonly=True, copy=False)
    state = fields.Selection(
        [
            ("disconnected", "Not connected"),
            ("connected", "Connected"),
            ("reconnect", "Reconnect needed"),
        ],
        default="disconnected",
        required=True,
        readonly=True,
        tracking=True,
    )
    delta_link = fields.Char(groups="base.group_system", copy=False)
    connected_at = fields.Datetime(readonly=True, copy=False)
    last_attempt_at = fields.Datetime("Last Sync Attempt", readonly=True, copy=False)
    sync_requested_at = fields.Datetime("Sync Requested", readonly=True, copy=False)
    throttled_until = fields.Datetime(
        readonly=True, copy=False, help="Microsoft asked to wait: the sync resumes from its last page then"
    )
    last_sync_at = fields.Datetime("Last Successful Sync", readonly=True, copy=False)
    last_error = fields.Text(readonly=True, copy=False)
    category_colors = fields.Selection(
        [("pending", "To set"), ("set", "Set"), ("not_granted", "Permission not granted")],
        "Status Category Colors",
        default="pending",
        readonly=True,
        copy=False,
        help="Whether the status categories got their colors in this mailbox's master list of categories "
        "(setting 'Color the status categories'; needs the MailboxSettings.ReadWrite permission).",
    )
    link_ids = fields.One2many("outlook.event.link", "mailbox_id", string="Linked Events")

    _user_uniq = compat.Constraint("UNIQUE(user_id)", "An Odoo user can connect only one Outlook mailbox.")

    # ------------------------------------------------------------
    # CONNECT FLOW
    # ------------------------------------------------------------

    @api.model
    def _outlook_check_internal(self):
        """Only internal users connect a mailbox: a portal or public user has no calendar the sync may write.

        :raises AccessError: for any other user
        """
        if not self.env.user._is_internal():
            raise AccessError(_("Only internal users can connect an Outlook calendar."))

    @api.model
    def _outlook_start_connect(self):
        """Start MSAL's auth code flow (PKCE) for the current user.

        :return: the flow dict; the caller keeps it in the browser's server-side session
        :raises OutlookError: when the settings are incomplete or the authority is unreachable
        :raises AccessError: when the current user is not an internal user
        """
        self._outlook_check_internal()
        auth = GraphRun(get_auth_settings(self.env)).auth()
        hint = self.env.user.email if "@" in (self.env.user.email or "") else None
        extra = MAILBOX_SETTINGS_SCOPES if self._outlook_colors_status_categories() else ()
        return auth.start_flow(redirect_uri(self.env), login_hint=hint, extra_scopes=extra)

    @api.model
    def _outlook_finish_connect(self, flow, params):
        """Redeem Microsoft's answer, read the mailbox identity and store the tokens.

        The code is redeemed at most once: a retry of the request (see :class:`RedeemedSignIns`) stores what the
        first attempt redeemed.

        :param flow: the dict :meth:`_outlook_start_connect` returned, taken from the session
        :param params: the query parameters Microsoft sent to the redirect URI
        :return: :class:`ConnectOutcome`
        :raises OutlookError: a typed error whose message the callback page shows
        """
        key = (self.env.cr.dbname, self.env.uid, flow.get("state"))
        redeemed = REDEEMED_SIGN_INS.get(key)
        if redeemed is None:
            run = GraphRun(get_auth_settings(self.env))
            try:
                auth = run.auth()
                auth.finish_flow(flow, params)
                me = run.client(auth).me()
            except ConfigurationError as exc:
                # only what Microsoft answered to this server's own requests (discovery, token endpoint) gets here:
                # an error the browser brought back is the user's alone (MailboxAuth.finish_flow)
                set_config_error(self.env, str(exc))
                raise
            redeemed = (me, auth.cache.serialize())
            REDEEMED_SIGN_INS.put(key, redeemed)
        try:
            mailbox_sudo = self._outlook_store_connection(*redeemed)
        except OutlookError:
            REDEEMED_SIGN_INS.drop(key)
            raise
        set_config_error(self.env, False)
        # Every write of the connection reaches PostgreSQL here, inside the request's handler: a conflict with a
        # concurrent writer then happens before Odoo saves the session (its retry still finds the flow there), and
        # once this flush went through only the COMMIT is left, which cannot conflict under REPEATABLE READ.
        self.env.cr.flush()
        REDEEMED_SIGN_INS.drop(key)
        _logger.info("outlook: user %s connected mailbox %s", self.env.uid, mailbox_sudo.id)
        return ConnectOutcome(mailbox_id=mailbox_sudo.id, address=mailbox_sudo.address)

    @api.model
    def _outlook_store_connection(self, me, cache_blob):
        """Create or update the current user's mailbox from Graph's ``/me`` and a fresh token cache."""
        self._outlook_check_internal()
        graph_user_id = me.get("id") or ""
        address = me.get("mail") or me.get("userPrincipalName") or ""
        if not graph_user_id or not address:
            raise OutlookError(_("Microsoft did not tell which mailbox was signed in; nothing was connected."))
        taken_sudo = self.sudo().search(
            [("graph_user_id", "=", graph_user_id), ("user_id", "!=", self.env.uid), ("state", "!=", "disconnected")],
            limit=1,
        )
        if taken_sudo:
            raise OutlookError(
                _(
                    "The Outlook mailbox %(address)s is already connected to the Odoo user %(user)s. "
                    "Each mailbox can be connected to one Odoo user only.",
                    address=address,
                    user=taken_sudo.user_id.name,
                )
            )
        mailbox_sudo = self.sudo().with_context(mail_create_nosubscribe=True).search(
            [("user_id", "=", self.env.uid)], limit=1
        ) or self.sudo().with_context(mail_create_nosubscribe=True).create({"user_id": self.env.uid})
        vals = {
            "address": address,
            "graph_user_id": graph_user_id,
            "state": "connected",
            # the transaction time, as create_date: what this transaction creates counts as after connection
            "connected_at": self.env.cr.now(),
            "last_error": False,
            "category_colors": "pending",  # the permission may have been granted this time
        }
        if not mailbox_sudo.first_connected_at:
            vals["first_connected_at"] = vals["connected_at"]
        if mailbox_sudo.graph_user_id and mailbox_sudo.graph_user_id != graph_user_id:
            # another Microsoft account than last time: its ids and checkpoints mean nothing here
            mailbox_sudo.link_ids.unlink()
            vals.update(delta_link=False, delta_window_start=False, first_connected_at=vals["connected_at"])
        mailbox_sudo.write(vals)
        # the mailbox row first (a conflict there is refused before any token is sent), then the tokens' own row
        mailbox_sudo.flush_recordset()
        mailbox_sudo._outlook_write_tokens(cache=cache_blob)
        mailbox_sudo._outlook_close_reconnect_activities()
        mailbox_sudo._outlook_request_sync(force=True)  # the user's events arrive right away
        return mailbox_sudo

    @api.model
    def _outlook_users_by_address(self):
        """``{mailbox address (lower-case): res.users}`` of every mailbox that is or was connected."""
        mailboxes_sudo = self.sudo().search([("state", "!=", "disconnected"), ("address", "!=", False)])
        return {mailbox.address.lower(): mailbox.user_id for mailbox in mailboxes_sudo}

    def action_outlook_disconnect(self):
        """Forget the tokens; links stay so that reconnecting the same mailbox creates no duplicate."""
        for mailbox in self:
            if mailbox.user_id != self.env.user and not self.env.user.has_group("base.group_system"):
                raise UserError(_("You can only disconnect your own Outlook mailbox."))
        self.sudo().write({"state": "disconnected", "last_error": False})
        self._outlook_forget_tokens()
        self.sudo()._outlook_close_reconnect_activities()
        return True

    # ------------------------------------------------------------
    # STATE CHANGES THE USER OR ADMIN MUST SEE (STYLE R13)
    # ------------------------------------------------------------

    def _outlook_mark_reconnect(self, message):
        """Stop this mailbox's sync until its user connects again, and tell them with an activity."""
        mailbox_sudo = self.sudo()
        mailbox_sudo.write({"state": "reconnect", "last_error": message})
        for mailbox in mailbox_sudo:
            if not mailbox.activity_ids.filtered(lambda a: a.summary == RECONNECT_SUMMARY):
                mailbox.activity_schedule(
                    "mail.mail_activity_data_todo",
                    summary=RECONNECT_SUMMARY,
                    note=_("%(error)s Open Calendar and click the Outlook button to connect again.", error=message),
                    user_id=mailbox.user_id.id,
                )

    def _outlook_close_reconnect_activities(self):
        self.activity_ids.filtered(lambda a: a.summary == RECONNECT_SUMMARY).action_feedback(
            feedback=_("Outlook connected again.")
        )

    # ------------------------------------------------------------
    # CRON (STYLE R10, R11)
    # ------------------------------------------------------------

    def _outlook_request_sync(self, force=False):
        """Run the sync cron soon for these mailboxes: at once when asked (``force``), else only when
        neither a sync nor a request happened within :data:`OPEN_SYNC_DELAY` (opening the Calendar)."""
        recent = fields.Datetime.now() - OPEN_SYNC_DELAY
        due = self.filtered(
            lambda m: (
                m.state == "connected"
                and (
                    force
                    or (
                        (not m.last_attempt_at or m.last_attempt_at < recent)
                        and (not m.sync_requested_at or m.sync_requested_at < recent)
                    )
                )
            )
        )
        if due:
            due.sudo().write({"sync_requested_at": fields.Datetime.now()})
            self.env.ref("outlook_calendar_sync.ir_cron_outlook_sync").sudo()._trigger()
        return bool(due)

    @api.model
    def _cron_outlook_sync(self, time_budget=240):
        """Sync connected mailboxes one at a time within ``time_budget`` seconds (or, with OCA queue_job
        installed, enqueue one job per due mailbox).

        Each mailbox is claimed by one worker only, synced, and committed page by page, so a crash or a
        time-out loses at most the page in progress and the other workers go on with the rest.
        """
        self.env["outlook.notification.inbox"]._outlook_fold()  # what the webhook received since the last run
        due = self._outlook_due_params(fields.Datetime.now())
        if self._outlook_uses_queue_job():  # OCA queue_job installed: one job per mailbox (outlook_queue_job.py)
            return self._outlook_enqueue_due(due)
        deadline = time.monotonic() + time_budget
        run = GraphRun(get_auth_settings(self.env))
        total = self._outlook_due_count(due)  # the progress shown: mailboxes due when the run started
        done = 0
        while time.monotonic() < deadline:
            mailbox = self._outlook_claim_next(due)
            if not mailbox:
                break
            try:
                config_broken = not mailbox._outlook_sync_guarded(run, attempt_stamped=True)
            finally:
                mailbox._outlook_release()
            done += 1
            compat.notify_cron_progress(self.env, done, 0 if config_broken else max(total - done, 0))
            Checkpoints(self.env.cr).commit_and_close()
            if config_broken:
                break
        return done

    @api.model
    def _outlook_due_domain_sql(self):
        """Due: never tried, or not tried in this run and either stale (older than the cron's interval)
        or asked for since (the Outlook button, opening the Calendar, a change notification not folded into
        ``sync_requested_at`` yet: :data:`PENDING_SQL`)."""
        return (
            "state = 'connected' AND (throttled_until IS NULL OR throttled_until <= %(started)s) "
            "AND (last_attempt_at IS NULL OR (last_attempt_at < %(started)s "
            f"AND (last_attempt_at < %(stale)s OR sync_requested_at > last_attempt_at OR {PENDING_SQL})))"
        )

    @api.model
    def _outlook_due_params(self, started_at):
        """The parameters of :meth:`_outlook_due_domain_sql` for a run started at ``started_at`` (a
        datetime, or these parameters already computed)."""
        if isinstance(started_at, dict):
            return started_at
        cron = self.env.ref("outlook_calendar_sync.ir_cron_outlook_sync").sudo()
        interval = relativedelta(**{cron.interval_type: cron.interval_number})
        return {"started": started_at, "stale": started_at - interval + timedelta(minutes=1)}

    @api.model
    def _outlook_claim_next(self, due):
        """Return one due mailbox that no other worker syncs, now holding its lock; or an empty recordset.

        The row lock (``FOR UPDATE SKIP LOCKED``) skips mailboxes being claimed right now; the session
        advisory lock taken next survives the page commits of the sync itself (STYLE R10, R14). A row
        another worker updated since this transaction's snapshot makes PostgreSQL refuse the row lock
        (serialization failure, REPEATABLE READ): the claim, first statement of its transaction, is
        rolled back and asked again on a fresh snapshot. The claimed mailbox's attempt is stamped in the same
        statement (see :meth:`_outlook_sync_guarded`).
        """
        due = self._outlook_due_params(due)
        self.flush_model(["state", "last_attempt_at", "sync_requested_at", "throttled_until"])
        for attempt in range(CLAIM_ATTEMPTS):
            try:
                with mute_logger("odoo.sql_db"):
                    # one statement: lock up to 20 due rows, take the advisory lock of the first one no other
                    # worker holds (LIMIT 1 over the materialized candidates: one lock taken, not 20; a CTE
                    # calling a volatile function is never inlined), and stamp its attempt
                    self.env.cr.execute(
                        "WITH candidates AS MATERIALIZED ("
                        f"  SELECT id FROM outlook_mailbox WHERE {self._outlook_due_domain_sql()} "
                        f"   ORDER BY {DUE_ORDER_SQL} "
                        "   LIMIT 20 FOR UPDATE SKIP LOCKED), "
                        "claimed AS (SELECT id FROM candidates WHERE pg_try_advisory_lock(%(namespace)s, id) LIMIT 1) "
                        "UPDATE outlook_mailbox SET last_attempt_at = %(attempt)s FROM claimed "
                        "WHERE outlook_mailbox.id = claimed.id RETURNING outlook_mailbox.id",
                        {**due, "namespace": LOCK_NAMESPACE, "attempt": fields.Datetime.now()},
                    )
                break
            except psycopg2.errors.SerializationFailure:
                if attempt == CLAIM_ATTEMPTS - 1:
                    _logger.info("outlook: mailboxes kept changing under the claim; the next run goes on")
                    self.env.cr.rollback()
                    return self.browse()
                self.env.cr.rollback()
        row = self.env.cr.fetchone()
        claimed = self.browse(row[0] if row else [])
        claimed.invalidate_recordset(["last_attempt_at"], flush=False)
        return claimed

    def _outlook_try_lock(self):
        """Take this mailbox's session advisory lock if no other worker holds it; ``True`` when taken."""
        self.env.cr.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, self.id])
        return self.env.cr.fetchone()[0]

    def _outlook_release(self):
        self.env.cr.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, self.id])

    @api.model
    def _outlook_due_count(self, due):
        self.flush_model(["state", "last_attempt_at", "sync_requested_at", "throttled_until"])
        self.env.cr.execute(
            f"SELECT count(*) FROM outlook_mailbox WHERE {self._outlook_due_domain_sql()}",
            self._outlook_due_params(due),
        )
        return self.env.cr.fetchone()[0]

    def _outlook_sync_guarded(self, graph_run, attempt_stamped=False):
        """Run one mailbox's sync; record any failure on the mailbox instead of stopping the cron, and
        log the run (``outlook.sync.log``).

        What the sync committed page by page stays; what it did after its last checkpoint is rolled back
        before the failure is recorded.

        :param graph_run: the :class:`GraphRun` shared by this cron batch
        :param attempt_stamped: the claim already stamped ``last_attempt_at`` (:meth:`_outlook_claim_next`)
        :return: ``False`` when the database's Outlook settings are broken (every mailbox would fail)
        """
        self.ensure_one()
        checkpoints = Checkpoints(self.env.cr)
        started_at = fields.Datetime.now()
        # a crash from here on still counts as an attempt (the mailbox waits for its turn, not retried in a
        # loop); a plain UPDATE: this technical stamp needs no read of the record, no write_date
        if not attempt_stamped:
            self.flush_recordset(["last_attempt_at"])
            self.env.cr.execute("UPDATE outlook_mailbox SET last_attempt_at = %s WHERE id = %s", [started_at, self.id])
            self.invalidate_recordset(["last_attempt_at"], flush=False)
        checkpoints.commit()
        run, error, config_ok = None, None, True
        try:
            run = self._outlook_start_run(graph_run, checkpoints.commit)
            self._outlook_sync_once_retried(run, checkpoints)
        except ReauthRequired as exc:
            checkpoints.rollback()
            error = exc.user_message()
            self._outlook_mark_reconnect(error)
        except Throttled as exc:
            checkpoints.rollback()
            error = _(
                "Microsoft 365 asked to wait %(seconds)s seconds; the sync resumes from its last saved page then.",
                seconds=int(exc.retry_after),
            )
            self.sudo().write(
                {"last_error": error, "throttled_until": fields.Datetime.now() + timedelta(seconds=exc.retry_after)}
            )
        except ConfigurationError as exc:
            checkpoints.rollback()
            error, config_ok = str(exc), False
            set_config_error(self.env, error)
            self.sudo().last_error = error
        except OutlookError as exc:
            checkpoints.rollback()
            error = exc.user_message()
            _logger.warning("outlook: mailbox %s sync failed: %s", self.id, exc)
            self.sudo().last_error = error
        except Exception as exc:  # cron boundary: record it where the admin looks, go on with others
            checkpoints.rollback()
            _logger.exception("outlook: unexpected error while syncing mailbox %s", self.id)
            error = _("Unexpected error: %(error)s", error=exc)
            self.sudo().last_error = error
        finally:
            self.env["outlook.sync.log"]._outlook_record(
                self, started_at, run.stats if run else {}, run.client.requests_sent if run else 0, error
            )
            checkpoints.commit_and_close()
        return config_ok

    def _outlook_start_run(self, graph_run, commit):
        """The :class:`MailboxRun` of this mailbox: its tokens, Graph client, policy and checkpoint.

        :param graph_run: the :class:`GraphRun` of this batch (session, settings, discovery cache)
        :param commit: makes the progress so far durable (called after each delta page and each push)
        """
        self.ensure_one()
        self._outlook_check_requirements()
        stored = {"cache": self._outlook_token_cache()}
        auth = graph_run.auth(stored["cache"])

        def checkpoint():
            cache_blob = auth.cache_blob_if_changed()
            if cache_blob:
                try:
                    # only over the cache this run started from: a reconnection or a disconnection meanwhile wins
                    # (this run goes on with the tokens it holds in memory)
                    if self._outlook_write_tokens(cache=cache_blob, expected_cache=stored["cache"]):
                        stored["cache"] = cache_blob
                except Exception:
                    auth.cache.has_state_changed = True  # not stored: the next checkpoint tries again
                    raise
            commit()

        return MailboxRun(client=graph_run.client(auth), policy=self._outlook_policy(), commit=checkpoint, auth=auth)

    def _outlook_sync_once_retried(self, run, checkpoints):
        """:meth:`_outlook_sync_once`, run again once when PostgreSQL refused a write because another
        worker wrote the same rows meanwhile (a tag or an alarm two mailboxes create at once, a row
        updated since this transaction's snapshot). The page in progress is rolled back and read
        again in a new transaction, which sees the other worker's rows."""
        try:
            self._outlook_sync_once(run)
        except CONCURRENT_WRITE_ERRORS as exc:
            _logger.info("outlook: mailbox %s: concurrent write (%s), page read again", self.id, exc.pgcode)
            checkpoints.rollback()
            self._outlook_sync_once(run)

    def _outlook_sync_once(self, run):
        """One sync run of this mailbox: Outlook's changes in, then Odoo's changes out."""
        run.pending = self._outlook_pending_work()
        owner_self = self.with_user(self.user_id)  # the sync writes with the owner's rights (STYLE R8)
        owner_self._outlook_pull(run)
        owner_self._outlook_push(run)
        self._outlook_ensure_subscription(run.client, exists=run.pending["subscription"])  # failures stay on it
        errors = self._outlook_item_errors() if run.pending["failed"] or run.stats.get("pull_error") else False
        self.sudo().write({"last_sync_at": fields.Datetime.now(), "last_error": errors, "throttled_until": False})
        run.commit()

    def _outlook_pending_work(self):
        """What this run may have to do besides reading Outlook's changes, in one query, so that an idle
        cycle costs one Graph request and a handful of queries (issue "performance")."""
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT EXISTS(SELECT 1 FROM outlook_event_link WHERE mailbox_id = %(mailbox)s
                                                             AND state IN ('error', 'pending')),
                   EXISTS(SELECT 1 FROM calendar_event WHERE outlook_dirty AND user_id = %(user)s),
                   EXISTS(SELECT 1 FROM outlook_event_link WHERE mailbox_id = %(mailbox)s AND event_id IS NULL
                                                             AND state NOT IN ('error', 'detached')),
                   EXISTS(SELECT 1 FROM outlook_series_link WHERE mailbox_id = %(mailbox)s AND pending != 'none'),
                   EXISTS(SELECT 1 FROM outlook_event_link link
                            JOIN calendar_attendee attendee
                              ON attendee.event_id = link.event_id AND attendee.partner_id = %(partner)s
                           WHERE link.mailbox_id = %(mailbox)s AND NOT COALESCE(link.is_organizer_copy, false)
                             AND attendee.state IN ('accepted', 'tentative', 'declined')
                             AND attendee.state IS DISTINCT FROM link.response_state),
                   EXISTS(SELECT 1 FROM outlook_event_link WHERE mailbox_id = %(mailbox)s AND outlook_remove_remote),
                   EXISTS(SELECT 1 FROM outlook_subscription WHERE mailbox_id = %(mailbox)s)
        """,
            {"mailbox": self.id, "user": self.user_id.id, "partner": self.user_id.partner_id.id},
        )
        return dict(zip(PENDING_WORK, self.env.cr.fetchone(), strict=True))

    def _outlook_check_requirements(self):
        """What a user needs before syncing (ERP.net): a mailbox address and a default company."""
        missing = []
        if not self.sudo().address:
            missing.append(_("a mailbox address (Microsoft did not give one: connect again)"))
        if not self.user_id.company_id:
            missing.append(_("a default company on the Odoo user"))
        if missing:
            raise OutlookError(_("This mailbox cannot sync yet; it needs %(missing)s.", missing=", ".join(missing)))

    def _outlook_item_errors(self):
        """A summary of this mailbox's copies in error (each is read again after a growing wait), or ``False``."""
        failed = self.env["outlook.event.link"].sudo().search([("mailbox_id", "=", self.id), ("state", "=", "error")])
        if not failed:
            return False
        return _(
            "%(count)s Outlook item(s) could not be synced; each is read again after a growing wait (at most a day) "
            "or as soon as it changes in Outlook. First: %(error)s",
            count=len(failed),
            error=failed[0].last_error,
        )


@dataclass
class MailboxRun:
    """One mailbox's sync run: its Graph client, the policy it follows, the checkpoint that commits its
    progress, and what it did (``stats``)."""

    client: object
    policy: object
    commit: object
    stats: Counter = field(default_factory=Counter)
    series: dict = field(default_factory=dict)  # {series master graph id: calendar.recurrence id} of a page
    pending: dict = field(default_factory=dict)  # what the run may have to do (see _outlook_pending_work)
    stamped: frozenset = None  # ids of the Outlook items carrying our stamp, read once per run
    auth: object = None  # the mailbox's MailboxAuth (tokens for other scopes than the sync's)
    colors_checked: bool = False  # the status categories' colors were looked at in this run
    held: dict = field(default_factory=dict)  # {push key: outlook.held.line} confirmed lines sent by this run


class Checkpoints:
    """Commits one mailbox's progress, page by page (STYLE R11: cron code only).

    Under Odoo's tests (one transaction per test) savepoints stand in for the commits, so the tests see
    exactly what a crash would keep: everything up to the last checkpoint.
    """

    def __init__(self, cr):
        self.cr = cr
        self.testing = getattr(threading.current_thread(), "testing", False)
        self.savepoint = cr.savepoint() if self.testing else None

    def commit(self):
        if self.testing:
            self.savepoint.close(rollback=False)
            self.savepoint = self.cr.savepoint()
        else:
            self.cr.commit()  # pylint: disable=invalid-commit # sync checkpoint of the cron (STYLE R10/R11)

    def rollback(self):
        """Forget what was done since the last checkpoint."""
        if self.testing:
            self.savepoint.rollback()
            self.cr.clear()
        else:
            self.cr.rollback()

    def commit_and_close(self):
        self.commit()
        if self.testing:
            self.savepoint.close(rollback=False)
