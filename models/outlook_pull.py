"""Inbound: Microsoft 365 -> Odoo through ``/me/calendarView/delta`` (graph-reference B)."""

import hashlib
import logging
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta

import psycopg2
import psycopg2.errors

from odoo import _, fields, models
from odoo.exceptions import UserError

from ..engine.mapping import fingerprint, snapshot
from ..engine.policy import ARCHIVE, DELETE, NEWEST_WINS, ImportContext
from ..engine.reconcile import MICROSOFT_WINS, Known, pushed_event_id, reconcile
from ..engine.records import (
    SERIES_MASTER,
    Decision,
    RemoteItem,
    occurrence_payload,
    occurrence_start_utc,
    occurrence_uid,
    remote_item,
)
from ..graph.auth import MAILBOX_SETTINGS_SCOPES
from ..graph.errors import DeltaExpired, GraphError, OutlookError, Throttled
from .calendar_event import INBOUND_CONTEXT
from .outlook_mailbox import CONCURRENT_WRITE_ERRORS
from .outlook_values import OdooValues

_logger = logging.getLogger(__name__)

DELTA_PAGE_SIZE = 1000  # items per delta page we ask for (Prefer: odata.maxpagesize)
WINDOW_REANCHOR_DAYS = 7  # start a new round once the window's end lags this much behind
# a copy that cannot be read or saved is read again after this wait, doubled at each failure, up to the cap
RETRY_FIRST_WAIT = timedelta(minutes=5)
RETRY_MAX_WAIT = timedelta(days=1)


# a single item read by its id answers 400 (ErrorInvalidIdMalformed), 404 or 410 when there is nothing to read
# there: a hostile id an item points at (a seriesMasterId) is as gone as a deleted item, never a reason to stop
GONE_STATUSES = (400, 404, 410)


# What one item can make Odoo raise: a value PostgreSQL refuses (too long for an index, out of range), a
# constraint, a mapping bug. Anything else (Graph, another worker's write, a lost connection, a worker's time
# limit, a crash) is about the run, which stops and resumes from its last checkpoint.
ITEM_ERRORS = (
    psycopg2.DataError,
    psycopg2.IntegrityError,
    psycopg2.errors.ProgramLimitExceeded,
    UserError,
    ValueError,
    TypeError,
    LookupError,
    AttributeError,
    ArithmeticError,
    RecursionError,
)


def retry_wait(failures):
    """How long a copy that failed ``failures`` times in a row waits before it is read again."""
    return min(RETRY_FIRST_WAIT * 2 ** min(max(failures - 1, 0), 20), RETRY_MAX_WAIT)


class OutlookMailbox(models.Model):
    _inherit = "outlook.mailbox"

    delta_window_start = fields.Datetime(readonly=True, copy=False)
    delta_window_end = fields.Datetime(readonly=True, copy=False)
    delta_round = fields.Integer(readonly=True, copy=False, help="Number of full delta rounds started")
    delta_round_full = fields.Boolean(
        readonly=True, copy=False, help="The current round lists every event of the window"
    )

    # ------------------------------------------------------------
    # Delta rounds and checkpoints
    # ------------------------------------------------------------

    def _outlook_transaction_prefix(self):
        """``transactionId`` prefix of the events this database creates in Outlook (graph-reference D.1)."""
        return "odoo-{}-".format(self.env["ir.config_parameter"].sudo().get_param("database.uuid"))

    def _outlook_window(self, policy):
        return policy.window(fields.Date.context_today(self), self.sudo().first_connected_at)

    def _outlook_round_start(self, run):
        """The URL to continue from: the stored checkpoint, or a new round when none, when the window
        settings changed, or when the window's end lags a week behind (a noEnd series keeps coming)."""
        policy = run.policy
        mailbox_sudo = self.sudo()
        start, end = self._outlook_window(policy)
        moved = (
            mailbox_sudo.delta_window_start != start
            or (end - (mailbox_sudo.delta_window_end or end)).days >= WINDOW_REANCHOR_DAYS
        )
        if mailbox_sudo.delta_link and not moved:
            return mailbox_sudo.delta_link
        return self._outlook_new_round(run)

    def _outlook_new_round(self, run):
        """Start listing the whole window again; links already known are matched, never duplicated."""
        client, policy = run.client, run.policy
        start, end = self._outlook_window(policy)
        self.sudo().write(
            {
                "delta_link": False,
                "delta_window_start": start,
                "delta_window_end": end,
                "delta_round": self.sudo().delta_round + 1,
                "delta_round_full": True,
            }
        )
        return client.delta_url(start, end)

    def _outlook_pull(self, run):
        """Apply delta pages until the round's end, storing the next link after each page (a crash
        resumes from the last page applied). An expired token starts one full round again."""
        client, commit, policy = run.client, run.commit, run.policy
        if not policy.pulls:
            return
        mailbox_sudo = self.sudo()
        if run.pending.get("failed", True):
            self._outlook_retry_failed(run)
            commit()
        url = self._outlook_round_start(run)
        restarted = False
        while url:
            try:
                page = client.delta_page(url, DELTA_PAGE_SIZE)
            except DeltaExpired:
                if restarted:
                    raise
                _logger.info("outlook: mailbox %s delta state expired, full resync", self.id)
                restarted, url = True, self._outlook_new_round(run)
                continue
            self._outlook_apply_page(page.items, run)
            self._outlook_report_progress(page)  # models/outlook_mailbox_admin.py
            if page.delta_link and mailbox_sudo.delta_round_full:
                self._outlook_close_full_round(run)
            mailbox_sudo.delta_link = page.checkpoint
            if page.next_link:
                commit()  # the round's last page is committed with the rest of the run
            url = page.next_link

    def _outlook_retry_failed(self, run, limit=50):
        """Read again the copies that could not be read before and whose wait is over: delta will not list
        them until they change, so they would be lost otherwise."""
        client = run.client
        failed = (
            self.env["outlook.event.link"]
            .sudo()
            .search(
                [
                    ("mailbox_id", "=", self.id),
                    ("state", "in", ("error", "pending")),
                    "|",
                    ("next_retry_at", "=", False),
                    ("next_retry_at", "<=", fields.Datetime.now()),
                ],
                limit=limit,
                order="next_retry_at, write_date",
            )
        )
        payloads = []
        for link in failed:
            try:
                payloads.append(client.event(link.graph_id))
            except GraphError as exc:
                if exc.status not in GONE_STATUSES:
                    raise
                payloads.append({"id": link.graph_id, "@removed": {"reason": "deleted"}})
        if payloads:
            self._outlook_apply_page(payloads, run)

    def _outlook_close_full_round(self, run):
        """After a complete listing, copies the round did not return are gone from the window."""
        policy = run.policy
        mailbox_sudo = self.sudo()
        missing = mailbox_sudo.link_ids.filtered(
            lambda link: link.event_id and link.seen_round < mailbox_sudo.delta_round
        )
        start, end = mailbox_sudo.delta_window_start, mailbox_sudo.delta_window_end
        inside = missing.filtered(lambda link: link.event_id.stop > start and link.event_id.start < end)
        self._outlook_remove_copies(inside, policy)
        (missing - inside).unlink()
        mailbox_sudo.delta_round_full = False

    # ------------------------------------------------------------
    # One page
    # ------------------------------------------------------------

    def _outlook_apply_page(self, payloads, run):
        """Apply these items in a savepoint. When Odoo cannot store one of them (whatever the mapping let
        through: a constraint, a value PostgreSQL refuses, a bug), the page is applied again in halves, down to
        that one item, which is recorded in error: the others are kept, and the counts are what was written.
        Graph's errors and another worker's concurrent writes are not about one item: they go up."""
        if not payloads:
            return  # an idle round: nothing to read, nothing to write
        stats = Counter(run.stats)
        try:
            with self.env.cr.savepoint():
                self._outlook_apply_items(payloads, run)
            return
        except (OutlookError, *CONCURRENT_WRITE_ERRORS):
            raise
        except ITEM_ERRORS as exc:  # one item Odoo cannot store must not stop the page
            run.stats.clear()
            run.stats.update(stats)
            if len(payloads) == 1:
                self._outlook_record_unsaved(payloads[0], exc)
                run.stats["pull_error"] += 1
                return
            _logger.info(
                "outlook: mailbox %s: a page of %s items failed (%s); applied in halves", self.id, len(payloads), exc
            )
        half = len(payloads) // 2
        self._outlook_apply_page(payloads[:half], run)
        self._outlook_apply_page(payloads[half:], run)

    def _outlook_record_unsaved(self, payload, exc):
        """Mark one Outlook item Odoo could not store, on its link (one per Graph id), and log it."""
        _logger.warning("outlook: mailbox %s: an Outlook item could not be saved", self.id, exc_info=True)
        try:
            item = remote_item(payload)
        except ITEM_ERRORS:  # the item itself is what failed: keep only its id
            item = RemoteItem(graph_id=payload.get("id") if isinstance(payload, dict) else "")
        item = item if isinstance(item.graph_id, str) else RemoteItem(graph_id="")
        name = item.data.name if item.data else item.graph_id
        reason = _(
            "Outlook event %(name)s could not be saved in Odoo: %(error)s",
            name=repr(name[:80]),
            error=str(exc).strip()[:300] or type(exc).__name__,
        )
        link = (
            self.env["outlook.event.link"]
            .sudo()
            .search([("mailbox_id", "=", self.id), ("graph_id", "=", item.graph_id)])
            if item.graph_id
            else None
        )
        decision = Decision("error", item, link=link._outlook_state({}) if link else None, reason=reason)
        try:
            with self.env.cr.savepoint():
                self._outlook_record_errors([decision])
        except (OutlookError, *CONCURRENT_WRITE_ERRORS):
            raise
        except ITEM_ERRORS:  # not even its error can be stored: the server log keeps it
            _logger.exception("outlook: mailbox %s: the failure of Outlook item %r was not recorded", self.id, name)

    def _outlook_apply_items(self, payloads, run):
        policy = run.policy
        items = [remote_item(payload, attendee_cap=policy.attendee_cap) for payload in payloads]
        items = self._outlook_complete_occurrences(items, run)
        items = self._outlook_verify_removals(items, run)
        run.series = self._outlook_apply_series(items, run)
        known = self._outlook_known(items, run)
        decisions = reconcile(items, known, policy)
        self._outlook_apply_decisions(decisions, run)

    def _outlook_verify_removals(self, items, run):
        """Delta says ``@removed`` both for deleted items and for items that moved out of the window
        (graph-reference B): read the linked ones again, so a meeting moved far ahead is updated in Odoo
        instead of being deleted there."""
        client, policy = run.client, run.policy
        removed = {item.graph_id for item in items if item.removed}
        if not removed:
            return items
        linked = set(
            self.env["outlook.event.link"]
            .sudo()
            .search([("mailbox_id", "=", self.id), ("graph_id", "in", list(removed)), ("event_id", "!=", False)])
            .mapped("graph_id")
        )
        verified = []
        for item in items:
            if item.removed and item.graph_id in linked:
                try:
                    item = remote_item(client.event(item.graph_id), attendee_cap=policy.attendee_cap)
                except GraphError as exc:
                    if exc.status not in GONE_STATUSES:
                        raise
            verified.append(item)
        return verified

    def _outlook_complete_occurrences(self, items, run):
        """Give every occurrence and exception its details and a stable identity, without asking Graph
        for the series' instances (graph-reference B.4): delta lists an occurrence bare (ids and times),
        its series master comes in full on the same page (or is read once when it does not), and an
        occurrence is the master's meeting at its own time. Its identity in every mailbox is the series'
        iCalUId and its original start."""
        policy = run.policy
        if not any(item.series_master_id for item in items):
            return items
        items = self._outlook_fetch_unknown_masters(items, run)
        masters = {item.graph_id: item for item in items if item.kind == SERIES_MASTER and item.payload}
        known_uids = self._outlook_series_uids({item.series_master_id for item in items} - set(masters))
        completed = []
        for item in items:
            master = masters.get(item.series_master_id)
            if item.bare:
                if master is None:
                    item = remote_item({"id": item.graph_id, "@removed": {"reason": "deleted"}})
                else:
                    item = remote_item(
                        occurrence_payload(master.payload, item.payload), attendee_cap=policy.attendee_cap
                    )
            series_uid = master.ical_uid if master else known_uids.get(item.series_master_id)
            if item.series_master_id and series_uid and not item.removed and item.data is not None:
                original = (item.payload or {}).get("originalStart")
                start = (_utc_of(original) if original else None) or occurrence_start_utc(item.data)
                item = replace(item, ical_uid=occurrence_uid(series_uid, start))
            completed.append(item)
        return completed

    def _outlook_series_uids(self, master_ids):
        """``{master graph id: series iCalUId}`` of the series this mailbox already knows."""
        master_ids = {master_id for master_id in master_ids if master_id}
        if not master_ids:
            return {}
        links = (
            self.env["outlook.series.link"]
            .sudo()
            .search([("mailbox_id", "=", self.id), ("graph_id", "in", list(master_ids))])
        )
        return {link.graph_id: link.ical_uid for link in links if link.ical_uid}

    def _outlook_fetch_unknown_masters(self, items, run):
        """Bare occurrences whose master is not on the page: read the master once."""
        in_page = {item.graph_id for item in items if item.kind == SERIES_MASTER}
        wanted = {item.series_master_id for item in items if item.bare} - in_page
        masters = []
        for master_id in sorted(wanted):
            try:
                masters.append(remote_item(run.client.event(master_id), attendee_cap=run.policy.attendee_cap))
            except GraphError as exc:
                if exc.status not in GONE_STATUSES:
                    raise
        return masters + items

    def _outlook_known(self, items, run):
        policy = run.policy
        links = (
            self.env["outlook.event.link"]
            .sudo()
            .search(
                [("mailbox_id", "=", self.id), ("graph_id", "in", [item.graph_id for item in items if item.graph_id])]
            )
        )
        events = links.event_id.with_context(active_test=False)
        local_hashes = {event_id: fingerprint(data) for event_id, data in events._outlook_event_data().items()}
        linked_ids = set(links.mapped("graph_id"))
        new_with_uid = [item for item in items if item.ical_uid and item.graph_id not in linked_ids]
        events_by_uid = self._outlook_events_by_uid(
            {item.ical_uid for item in new_with_uid}, _native_uids(new_with_uid)
        )
        prefix = self._outlook_transaction_prefix()
        pushed_ids = {pushed_event_id(item.transaction_id, prefix) for item in items} - {None}
        pushed = self.env["calendar.event"].sudo().with_context(active_test=False).browse(pushed_ids).exists()
        organizer_links = (
            self.env["outlook.event.link"]
            .sudo()
            .search(
                [
                    ("event_id", "in", list(events_by_uid.values()) + links.event_id.ids + pushed.ids),
                    ("is_organizer_copy", "=", True),
                ]
            )
        )
        new_items = [item for item in items if item.data is not None and item.graph_id not in links.mapped("graph_id")]
        return Known(
            links={link.graph_id: link._outlook_state(local_hashes) for link in links},
            events_by_uid=events_by_uid,
            organizer_copies=frozenset(organizer_links.event_id.ids),
            pushed_events=frozenset(pushed.ids),
            locked_events=frozenset(events.filtered(lambda event: event._outlook_is_locked()).ids),
            local_modified={event.id: event.write_date.isoformat() for event in events}
            if policy.conflict_winner == NEWEST_WINS
            else None,
            context=self._outlook_import_context(new_items, run),
        )

    def _outlook_import_context(self, new_items, run):
        """What the import policy needs to know about the addresses of the page's new items (only the
        clock and the owner when there is none)."""
        client, policy = run.client, run.policy
        base = {
            "now": fields.Datetime.now(),
            "owner_email": (self.sudo().address or "").lower(),
            "first_connected": self.sudo().first_connected_at,
        }
        if not new_items:
            return ImportContext(**base)
        internal, known, stamped = frozenset(), frozenset(), frozenset()
        emails = {a.email for item in new_items for a in item.data.attendees}
        emails |= {item.data.organizer_email for item in new_items} - {""}
        if not policy.sync_internal or not policy.sync_unmatched:
            mailbox_users = self.env["outlook.mailbox"]._outlook_users_by_address()
        if not policy.sync_internal:
            internal_users = self.env["res.users"].sudo().search([("share", "=", False)])
            internal = {user.email_normalized for user in internal_users if user.email_normalized}
            internal = frozenset(internal | {address for address, user in mailbox_users.items() if not user.share})
        if not policy.sync_unmatched:
            known = set(
                self.env["res.partner"]
                .sudo()
                .search([("email_normalized", "in", list(emails))])
                .mapped("email_normalized")
            )
            known = frozenset(known | (emails & set(mailbox_users)))
        if not policy.allow_copies:
            if run.stamped is None:  # once per run: the ids of every Outlook item carrying our stamp
                run.stamped = frozenset(client.stamped_ids(policy.transaction_prefix))
            stamped = run.stamped - {
                item.graph_id for item in new_items if pushed_event_id(item.transaction_id, policy.transaction_prefix)
            }
        return ImportContext(**base, internal_emails=internal, known_emails=known, stamped_ids=stamped)

    def _outlook_events_by_uid(self, uids, aliases=None):
        """``{iCalUId: event id}`` of the events holding these meeting identities. ``aliases``
        (``{other iCalUId: identity}``) also finds an occurrence known by the iCalUId Graph gave it
        (an event adopted from Odoo's built-in module, an older version of this add-on)."""
        aliases = {alias: uid for alias, uid in (aliases or {}).items() if alias not in uids}
        if not uids and not aliases:
            return {}
        events = (
            self.env["calendar.event"]
            .sudo()
            .with_context(active_test=False)
            .search([("outlook_ical_uid", "in", list(uids) + list(aliases))], order="id")
        )
        found = {}
        for event in events:
            found.setdefault(event.outlook_ical_uid, event.id)
        for alias, uid in aliases.items():
            if alias in found:
                found.setdefault(uid, found[alias])
        return found

    # ------------------------------------------------------------
    # Applying decisions
    # ------------------------------------------------------------

    def _outlook_apply_decisions(self, decisions, run):
        policy = run.policy
        by_action = {}
        for decision in decisions:
            by_action.setdefault(decision.action, []).append(decision)
            run.stats[f"pull_{decision.action}"] += 1
        values = OdooValues(
            self.env,
            [d.item.data for d in decisions if d.action in ("create", "attach", "update", "conflict", "refresh")],
        )
        values.series = run.series
        # copies that failed before and are now read (imported, skipped by a policy, gone): their failed links
        # make room; an item failing again keeps its failed link, recorded once per Graph id
        read = [d.item.graph_id for d in decisions if d.action != "error" and not d.link and d.item.graph_id]
        if read:
            self.env["outlook.event.link"].sudo().search(
                [
                    ("mailbox_id", "=", self.id),
                    ("graph_id", "in", read),
                    ("event_id", "=", False),
                    ("state", "=", "error"),
                ]
            ).unlink()
        self._outlook_apply_creates(by_action.get("create", []), values)
        for decision in by_action.get("attach", []):
            self._outlook_attach(decision, values)
        for decision in by_action.get("conflict", []):
            self._outlook_conflict(decision, values)
        self._outlook_update(by_action.get("update", []) + by_action.get("refresh", []), values)
        removed = self.env["outlook.event.link"].sudo().browse([d.link.link_id for d in by_action.get("remove", [])])
        self._outlook_remove_copies(removed, policy)
        self._outlook_apply_inactive(by_action.get("inactive", []))
        self._outlook_apply_locked(by_action.get("locked", []), run)
        self._outlook_record_errors(by_action.get("error", []))
        self._outlook_mark_seen([d.link.link_id for d in by_action.get("skip", []) if d.link])
        if policy.category_mode:
            self.env.flush_all()  # what Odoo refuses is refused before Outlook's items are tagged
            imported = [d for action in ("create", "attach", "update") for d in by_action.get(action, [])]
            self._outlook_tag_items(run, imported, policy.synced_category)
            self._outlook_tag_items(run, by_action.get("error", []), policy.error_category)

    def _outlook_tag_items(self, run, decisions, category):
        """Category mode (Revenue Grid): write the status category on the Outlook items (a category
        change mails nobody). The other status category goes, the user's own categories stay."""
        client, policy = run.client, run.policy
        other = {policy.synced_category, policy.error_category} - {category}
        links_sudo = self.env["outlook.event.link"].sudo()
        for decision in decisions:
            current = [c for c in (decision.item.payload or {}).get("categories") or [] if isinstance(c, str)]
            wanted = [c for c in current if c not in other] + ([category] if category not in current else [])
            if wanted == current or not decision.item.graph_id:
                continue
            self._outlook_color_status_categories(run)
            try:
                updated = client.update_event(decision.item.graph_id, {"categories": wanted})
            except GraphError as exc:
                _logger.warning("outlook: mailbox %s: status category not written: %s", self.id, exc)
                continue
            link = links_sudo.search([("mailbox_id", "=", self.id), ("graph_id", "=", decision.item.graph_id)])
            link.write({"change_key": updated.get("changeKey") or link.change_key})

    def _outlook_color_status_categories(self, run):
        """Setting "Color the status categories": before this mailbox's first status category, add the status
        categories to its master list of categories (errors red, synced green), once per mailbox. Without the
        MailboxSettings.ReadWrite permission (connected before the setting was on) nothing else changes: the
        categories are written, uncolored, until the user connects again."""
        if run.colors_checked or not run.policy.color_categories or not run.auth:
            return
        run.colors_checked = True
        mailbox_sudo = self.sudo()
        if mailbox_sudo.category_colors != "pending":
            return
        token = run.auth.optional_access_token(MAILBOX_SETTINGS_SCOPES)
        if not token:
            mailbox_sudo.category_colors = "not_granted"
            return
        try:
            created = run.client.ensure_master_categories(run.policy.status_colors, token)
        except Throttled:
            raise
        except GraphError as exc:  # 403: permission withdrawn since; anything else: tried again at the next run
            _logger.warning("outlook: mailbox %s: status category colors not set: %s", self.id, exc)
            if exc.status == 403:
                mailbox_sudo.category_colors = "not_granted"
            return
        mailbox_sudo.category_colors = "set"
        _logger.info("outlook: mailbox %s: status categories %s added to the master list", self.id, created)

    def _outlook_event_vals(self, values, item):
        """``calendar.event`` values of an authoritative copy; occurrences and exceptions of a known
        series join its recurrence (an exception does not follow the rule)."""
        vals = values.event_values(item.data, item.ical_uid, self.user_id)
        recurrence_id = values.series.get(item.series_master_id) if item.series_master_id else None
        if recurrence_id:
            vals.update(recurrence_id=recurrence_id, recurrency=True, follow_recurrence=item.kind == "occurrence")
        return vals

    def _outlook_events(self):
        """``calendar.event`` as the mailbox owner, writing without pushing back or mailing (STYLE R8)."""
        return self.env["calendar.event"].with_user(self.user_id).with_context(**INBOUND_CONTEXT)

    def _outlook_apply_creates(self, decisions, values):
        if not decisions:
            return
        self._outlook_lock_meetings({d.item.ical_uid for d in decisions if d.item.ical_uid})
        existing = self._outlook_events_by_uid({d.item.ical_uid for d in decisions if d.item.ical_uid})
        fresh = [d for d in decisions if d.item.ical_uid not in existing]
        for decision in decisions:
            event_id = existing.get(decision.item.ical_uid)
            if event_id:  # another mailbox created it meanwhile: this copy joins it
                organizer_copy = (
                    self.env["outlook.event.link"]
                    .sudo()
                    .search_count([("event_id", "=", event_id), ("is_organizer_copy", "=", True)], limit=1)
                )
                authoritative = decision.item.is_organizer or not organizer_copy
                self._outlook_attach(
                    replace(decision, action="attach", event_id=event_id, authoritative=authoritative), values
                )
        events = self._outlook_create_in_order([self._outlook_event_vals(values, d.item) for d in fresh])
        self._outlook_link_many(
            [(decision.item, event, True) for decision, event in zip(fresh, events, strict=True)], values
        )
        for recurrence in events.sudo().recurrence_id.filtered(lambda r: not r.base_event_id):
            recurrence.base_event_id = recurrence._get_first_event()

    def _outlook_create_in_order(self, vals_list):
        """``calendar.event`` records in the order of ``vals_list``: Odoo's ``create`` returns single
        events before recurring ones and turns every recurring one into a rule follower, so each kind is
        created on its own and exceptions are set apart again."""
        events_model = self._outlook_events()
        created = {}
        for recurring in (False, True):
            positions = [n for n, vals in enumerate(vals_list) if bool(vals.get("recurrency")) == recurring]
            if positions:
                created.update(zip(positions, events_model.create([vals_list[n] for n in positions]), strict=True))
        events = events_model.browse([created[n].id for n in range(len(vals_list))])
        exceptions = [created[n].id for n, vals in enumerate(vals_list) if vals.get("follow_recurrence") is False]
        if exceptions:
            events_model.browse(exceptions).write({"follow_recurrence": False})
        return events

    def _outlook_lock_meetings(self, uids):
        """Serialize the creation of one meeting across mailboxes and workers (STYLE R14): sorted, so
        two transactions never wait for each other in a cycle. One statement for the whole page."""
        if not uids:
            return
        keys = sorted({int.from_bytes(hashlib.sha1(uid.encode()).digest()[:8], "big", signed=True) for uid in uids})
        self.env.cr.execute(
            "SELECT count(pg_advisory_xact_lock(key)) FROM (SELECT unnest(%s::bigint[]) AS key ORDER BY 1) AS keys",
            [keys],
        )

    def _outlook_attach(self, decision, values):
        event = self._outlook_events().browse(decision.event_id)
        if decision.authoritative:
            event.write(self._outlook_event_vals(values, decision.item))
        elif self.user_id.partner_id not in event.partner_ids:
            event.write({"partner_ids": [(4, self.user_id.partner_id.id)]})
        self._outlook_link_many([(decision.item, event, decision.authoritative)], values)

    def _outlook_link_many(self, rows, values):
        """Link these copies to their events (``rows``: ``(item, event, authoritative)``), with a few
        batched writes whatever their number (STYLE R3)."""
        if not rows:
            return
        states = [
            values.attendee_states(item.data, item, self.user_id, authoritative) for item, _event, authoritative in rows
        ]
        self._outlook_set_attendee_states(
            [(event, event_states) for (_item, event, _a), event_states in zip(rows, states, strict=False)]
        )
        events = self.env["calendar.event"].browse([event.id for _item, event, _a in rows])
        local = events.with_context(active_test=False)._outlook_event_data()
        self.env["outlook.event.link"].sudo().create(
            [
                {
                    "event_id": event.id,
                    "mailbox_id": self.id,
                    "graph_id": item.graph_id,
                    **self._outlook_link_values(item, local[event.id], event_states),
                }
                for (item, event, _a), event_states in zip(rows, states, strict=False)
            ]
        )

    def _outlook_link_values(self, item, local, states):
        """Link values after a sync: ``local`` is the event's :class:`EventData` as Odoo now holds it."""
        return {
            "change_key": item.change_key,
            "last_modified": item.last_modified,
            "is_organizer_copy": item.is_organizer,
            "remote_hash": fingerprint(item.data),
            "synced_hash": fingerprint(local),
            "synced_data": snapshot(local),
            "response_state": states.get(self.user_id.partner_id.id),
            "attendees_capped": bool(item.data and item.data.extra.get("attendee_overflow")),
            "seen_round": self.sudo().delta_round,
            "state": "synced",
            "last_error": False,
            "failed_reads": 0,
            "next_retry_at": False,
        }

    def _outlook_update(self, decisions, values):
        """Apply changed copies (``update``, a won ``conflict``) and refresh the others' answers."""
        if not decisions:
            return
        events = self._outlook_events().browse([decision.event_id for decision in decisions])
        for decision, event in zip(decisions, events, strict=False):
            if decision.action == "update" or decision.authoritative and decision.action == "conflict":
                event.write(self._outlook_event_vals(values, decision.item))
        states = [values.attendee_states(d.item.data, d.item, self.user_id, d.authoritative) for d in decisions]
        self._outlook_set_attendee_states(list(zip(events, states, strict=False)))
        local = events.with_context(active_test=False)._outlook_event_data()
        links = self.env["outlook.event.link"].sudo().browse([decision.link.link_id for decision in decisions])
        for decision, link, event_states in zip(decisions, links, states, strict=False):
            link.write(self._outlook_link_values(decision.item, local[decision.event_id], event_states))

    def _outlook_conflict(self, decision, values):
        """Both sides changed: the policy's side wins, the other side's values go to the chatter."""
        event = self._outlook_events().browse(decision.event_id)
        local = event._outlook_event_data()[event.id]
        remote = decision.item.data
        if decision.reason == MICROSOFT_WINS:
            event._outlook_note_lost_values(local, remote, winner=_("Microsoft 365"))
            self._outlook_update([decision], values)
            return
        event._outlook_note_lost_values(remote, local, winner=_("Odoo"))
        link = self.env["outlook.event.link"].sudo().browse(decision.link.link_id)
        # the next push sends Odoo's values over Outlook's current ones
        link.write(
            {
                "change_key": decision.item.change_key,
                "remote_hash": fingerprint(remote),
                "synced_data": snapshot(remote),
                "synced_hash": fingerprint(remote),
                "seen_round": self.sudo().delta_round,
            }
        )
        event.sudo().outlook_dirty = True

    def _outlook_set_attendee_states(self, pairs):
        """``pairs``: ``(event, {partner_id: state})``; one write per state whatever the number of events."""
        by_state = {}
        for event, states in pairs:
            for attendee in event.attendee_ids:
                state = states.get(attendee.partner_id.id)
                if state and attendee.state != state:
                    by_state.setdefault(state, []).append(attendee.id)
        attendees_sudo = self.env["calendar.attendee"].sudo().with_context(**INBOUND_CONTEXT)
        for state, attendee_ids in by_state.items():
            attendees_sudo.browse(attendee_ids).write({"state": state})

    def _outlook_remove_copies(self, links, policy):
        """Outlook deleted or cancelled these copies. The meeting itself follows the deletion policy
        (archive, delete or keep) when the organizer's copy went, or when it was the only copy Odoo knew;
        otherwise only the link goes."""
        gone = self.env["calendar.event"]
        for link in links:
            event = link.event_id
            if event and (link.is_organizer_copy or not event.outlook_link_ids - link):
                gone |= event
        links.unlink()
        events_sudo = gone.with_context(**INBOUND_CONTEXT).sudo()
        if policy.delete_from_outlook == ARCHIVE:
            events_sudo.write({"active": False, "outlook_sync_state": "not_synced"})
        elif policy.delete_from_outlook == DELETE:
            events_sudo.unlink()
        else:
            events_sudo.write({"outlook_sync_state": "not_synced"})

    def _outlook_apply_inactive(self, decisions):
        """Events that ended long ago stop syncing (Practifi's "Inactive")."""
        links = self.env["outlook.event.link"].sudo().browse([d.link.link_id for d in decisions])
        for link, decision in zip(links, decisions, strict=False):
            link.write({"change_key": decision.item.change_key, "seen_round": self.sudo().delta_round})
        links.event_id.with_context(**INBOUND_CONTEXT).write({"outlook_sync_state": "inactive"})

    def _outlook_apply_locked(self, decisions, run):
        """Locked events refuse Outlook's change (ERP.net): the copy is in conflict and the Outlook item
        gets the error category, which mails nobody (categories are the owner's own)."""
        client, policy = run.client, run.policy
        for decision in decisions:
            link = self.env["outlook.event.link"].sudo().browse(decision.link.link_id)
            categories = list((decision.item.payload or {}).get("categories") or [])
            if policy.error_category and policy.error_category not in categories:
                self._outlook_color_status_categories(run)
                updated = client.update_event(link.graph_id, {"categories": categories + [policy.error_category]})
                decision = replace(decision, item=replace(decision.item, change_key=updated.get("changeKey", "")))
            link.write(
                {
                    "state": "conflict",
                    "last_error": decision.reason,
                    "change_key": decision.item.change_key,
                    "seen_round": self.sudo().delta_round,
                }
            )

    def _outlook_record_errors(self, decisions):
        if not decisions:
            return
        links_sudo = self.env["outlook.event.link"].sudo()
        now = fields.Datetime.now()
        for decision in decisions:
            _logger.warning("outlook: mailbox %s: %s", self.id, decision.reason)
            values = {"state": "error", "last_error": decision.reason, "seen_round": self.sudo().delta_round}
            link = links_sudo.browse(decision.link and decision.link.link_id).exists()
            if not link and decision.item.graph_id:
                # one failed link per Graph id, whatever the number of failures (the unique constraint)
                link = links_sudo.search([("mailbox_id", "=", self.id), ("graph_id", "=", decision.item.graph_id)])
            if link:
                failures = link.failed_reads + 1
                link.write(dict(values, failed_reads=failures, next_retry_at=now + retry_wait(failures)))
                link.event_id.write({"outlook_sync_state": "error", "outlook_last_error": decision.reason})
            elif decision.item.graph_id:  # remembered so a later run reads it again
                link = links_sudo.create(
                    dict(
                        values,
                        mailbox_id=self.id,
                        graph_id=decision.item.graph_id,
                        failed_reads=1,
                        next_retry_at=now + retry_wait(1),
                    )
                )
            self.env["outlook.sync.log"]._outlook_record_item(
                self, "in", decision.reason, link=link, graph_id=decision.item.graph_id
            )
        self.sudo().last_error = "\n".join(decision.reason for decision in decisions)

    def _outlook_mark_seen(self, link_ids):
        if link_ids and self.sudo().delta_round_full:
            self.env["outlook.event.link"].sudo().browse(link_ids).write({"seen_round": self.sudo().delta_round})


def _utc_of(text):
    """A Graph DateTimeOffset (``2026-11-22T09:00:00Z``, 7-digit fraction) as a naive UTC datetime, or
    ``None`` when it is not one."""
    try:
        return datetime.fromisoformat(str(text)[:19])
    except ValueError:
        return None


def _native_uids(items):
    """``{iCalUId Graph gave the item: identity}`` of the occurrences and exceptions whose identity
    :func:`occurrence_uid` made."""
    return {
        item.payload["iCalUId"]: item.ical_uid
        for item in items
        if item.series_master_id
        and isinstance((item.payload or {}).get("iCalUId"), str)
        and item.payload["iCalUId"] != item.ical_uid
    }
