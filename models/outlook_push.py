"""Outbound: Odoo -> Microsoft 365 for the events this mailbox's user organizes, and their answers."""

import logging
import time
from dataclasses import dataclass

from odoo import fields, models

from ..engine.errors import MappingError
from ..engine.mapping import fingerprint, from_graph, snapshot
from ..engine.push import LocalEvent, PushLink, already_applied, plan_push, response_action
from ..graph.client import BatchResponse, stamped_body
from ..graph.errors import GraphError, Throttled, TransientError
from ..graph.http import MAX_RETRY_AFTER

_logger = logging.getLogger(__name__)

PUSH_BATCH = 500  # events per run and mailbox; the rest stays marked for the next run
PARAM_PUSH_EXISTING = "outlook_calendar_sync.push_existing_events"
PARAM_SILENT_RESPONSES = "outlook_calendar_sync.silent_responses"
GRAPH_ACTIONS = ("create", "patch", "cancel", "delete")


@dataclass(frozen=True)
class PushOp:
    """One planned push: the event as the engine saw it, its link here, the record, the decision."""

    local: LocalEvent
    link: object
    event: object
    decision: object
    if_match: str = None  # the change key the PATCH applies to (a retried PATCH then mails nobody twice)

    def graph_call(self, prefix):
        """``(method, url, body)`` of this push in a ``$batch`` (``headers`` added when it has any)."""
        action, link = self.decision.action, self.link
        if action == "create":
            stamp = f"{prefix}{self.event.id}"
            return "POST", "/me/events", stamped_body(self.decision.body, stamp, stamp)
        if action == "patch":
            if self.if_match:
                return "PATCH", f"/me/events/{link.graph_id}", self.decision.body, {"If-Match": self.if_match}
            return "PATCH", f"/me/events/{link.graph_id}", self.decision.body
        if action == "cancel":
            return "POST", f"/me/events/{link.graph_id}/cancel", {"comment": ""}
        return "DELETE", f"/me/events/{link.graph_id}", None


class OutlookMailbox(models.Model):
    _inherit = "outlook.mailbox"

    first_connected_at = fields.Datetime(
        readonly=True, copy=False, help="Events created before this stay in Odoo unless the admin opts in"
    )

    def _outlook_push(self, run):
        """Send the owner's changed events, then the owner's answers to others' invitations.

        Everything that needs Graph goes in ``$batch`` requests of 20 (graph-reference C.3): a hundred
        changed events cost about five requests, not a hundred.
        """
        if not run.policy.pushes:
            return
        if not any(run.pending.get(key, True) for key in ("dirty", "tombstones", "series", "answers")):
            return  # an idle cycle: one query told there is nothing to send
        now = fields.Datetime.now()
        series = self._outlook_plan_series(now, run.policy)
        planned = self._outlook_plan_push(run, now)
        held = self._outlook_hold_mailings(run, planned, series)  # the invitation budget (outlook_held.py)
        series = [op for op in series if not self._outlook_is_held(op, held)]
        if series:
            self._outlook_push_series(run, series)
            planned = self._outlook_plan_push(run, now)  # the series operations linked their occurrences
        planned = [op for op in planned if not self._outlook_is_held(op, held)]
        calls = [op for op in planned if op.decision.action in GRAPH_ACTIONS]
        for op in planned:
            if op.decision.action not in GRAPH_ACTIONS:
                self._outlook_apply_outcome(run, op, None)
        run.commit()
        self._outlook_send_batched(run, self._outlook_resolve_lost_creates(run, calls))
        self._outlook_push_responses(run)

    def _outlook_plan_push(self, run, now):
        """One :class:`PushOp` per changed event of the owner and per tombstone of this mailbox."""
        events = self._outlook_dirty_events(self.env["calendar.event"].sudo().with_context(active_test=False))
        links_sudo = self.env["outlook.event.link"].sudo()
        links = links_sudo.search(
            [("mailbox_id", "=", self.id), ("event_id", "in", events.ids), ("state", "!=", "detached")]
        )
        tombstones = links_sudo.search(
            [("mailbox_id", "=", self.id), ("event_id", "=", False), ("state", "not in", ("error", "detached"))]
        )
        link_of = {link.event_id.id: link for link in links}
        local_data = events._outlook_event_data()
        domain = self._outlook_sync_filter()
        in_filter = events.filtered_domain(domain) if domain else events
        internal = events.filtered(
            lambda event: (
                event.partner_ids
                and not event.partner_ids.user_ids.filtered("share")
                and len(event.partner_ids) == len(event.partner_ids.user_ids.partner_id)
            )
        )
        planned = []
        for event in events:
            before_connect = bool(self.first_connected_at and event.create_date < self.first_connected_at)
            local = LocalEvent(
                event.id,
                local_data[event.id],
                event.active,
                bool(event.recurrency),
                before_connect,
                in_filter=event in in_filter,
                with_invitations=event.outlook_send_invitations and not before_connect,
                imported=event.outlook_imported,
                internal=event in internal,
            )
            planned.append(self._outlook_plan_one(run, local, link_of.get(event.id), now, event))
        planned += [self._outlook_plan_one(run, LocalEvent(), link, now, None) for link in tombstones]
        return planned

    def _outlook_dirty_events(self, events_sudo, domain=()):
        """The owner's events marked for the push, at most :data:`PUSH_BATCH`, oldest first."""
        domain = [("outlook_dirty", "=", True), ("user_id", "=", self.user_id.id), *domain]
        return events_sudo.search(domain, limit=PUSH_BATCH, order="id")

    def _outlook_plan_one(self, run, local, link, now, event):
        push_link = link and PushLink(
            link.id,
            link.graph_id,
            link._outlook_synced_data(),
            link.is_organizer_copy,
            link.cancel_allowed,
            link.attendees_capped,
        )
        decision = plan_push(local, push_link, run.policy, now)
        # a PATCH applies to the copy as last synced: sent twice (a retried request), Graph refuses the second
        if_match = link.change_key if link and decision.action == "patch" and link.change_key else None
        return PushOp(local, link, event, decision, if_match=if_match)

    def _outlook_resolve_lost_creates(self, run, calls):
        """Creates whose answer was lost in an earlier run are looked up by their stamp first; the others
        are marked as attempted, durably, before they are sent."""
        prefix = self._outlook_transaction_prefix()
        remaining = []
        for op in calls:
            if op.decision.action == "create" and op.event.outlook_create_attempted:
                found = run.client.find_stamped(f"{prefix}{op.event.id}")
                if found:
                    with self.env.cr.savepoint():
                        self._outlook_apply_outcome(run, op, BatchResponse(201, {}, found[0]))
                    continue
            remaining.append(op)
        creates = self.env["calendar.event"].browse([op.event.id for op in remaining if op.decision.action == "create"])
        creates.sudo().write({"outlook_create_attempted": True})
        run.commit()
        return remaining

    def _outlook_send_batched(self, run, calls):
        """Send ``calls`` batched; throttled items are sent again once after their Retry-After (when it is
        short), else they stay marked and the mailbox waits."""
        prefix = self._outlook_transaction_prefix()
        for attempt in range(2):
            answers = run.client.batch([op.graph_call(prefix) for op in calls])
            throttled = []
            for op, answer in zip(calls, answers, strict=False):
                if answer.status == 429:
                    throttled.append((op, answer.retry_after or 5))
                    continue
                with self.env.cr.savepoint():
                    self._outlook_apply_outcome(run, op, answer)
            run.commit()
            if not throttled:
                return
            wait = max(seconds for _op, seconds in throttled)
            if attempt or wait > MAX_RETRY_AFTER:
                raise Throttled(f"Microsoft Graph throttled {len(throttled)} batched items", retry_after=wait)
            time.sleep(wait)
            calls = [op for op, _seconds in throttled]

    def _outlook_apply_outcome(self, run, op, answer):
        """Record what happened to one planned push: ``answer`` is its batch item's :class:`BatchResponse`,
        or ``None`` for the outcomes that need no Graph call."""
        if answer is not None and answer.status == 412 and op.if_match:
            answer = self._outlook_after_conflict(run, op)
        action, link, event = op.decision.action, op.link, op.event
        run.stats[f"push_{action}"] += 1
        if answer is not None and not answer.ok:
            if action in ("cancel", "delete") and answer.status in (404, 410):
                link.unlink()  # already gone from Outlook (graph-reference H)
            else:
                self._outlook_push_failed(run, op, answer.error())
                return
        elif action == "create":
            self._outlook_bind(event, op.local.data, op.decision.sent, answer.body)
        elif action == "patch":
            self._outlook_store_pushed(link, op.local.data, op.decision.sent, answer.body)
        elif action in ("cancel", "delete"):
            link.unlink()
        elif action == "forget":
            link.write({"state": "detached", "last_error": op.decision.reason})
        elif (
            action == "clean"
            and link
            and op.decision.sent is not None
            and link.synced_hash != fingerprint(op.local.data)
        ):
            # nothing to send (a description the safe-description policy keeps in Odoo): remember it
            link.write({"synced_hash": fingerprint(op.local.data)})
        if event:
            event.write(
                {
                    "outlook_dirty": False,
                    "outlook_sync_state": self._outlook_state_after(action, event),
                    "outlook_last_error": op.decision.reason if action in ("skip", "inactive") else False,
                }
            )

    def _outlook_after_conflict(self, run, op):
        """A PATCH refused because Outlook's copy changed since the last sync (412): either this very PATCH was
        applied already (its answer was lost and the request sent again) and sending it once more would mail
        every attendee twice, or Outlook's copy changed meanwhile and the PATCH is sent again over it (as
        without the precondition). :return: the answer to record"""
        _logger.info("outlook: mailbox %s: %s changed since the last sync (412)", self.id, op.link.graph_id)
        try:
            remote = run.client.event(op.link.graph_id)
            if already_applied(from_graph(remote), op.decision.sent, op.decision.body):
                return BatchResponse(200, {}, remote)
            return BatchResponse(200, {}, run.client.update_event(op.link.graph_id, op.decision.body))
        except Throttled:
            raise
        except (GraphError, MappingError, TransientError) as exc:
            status = getattr(exc, "status", None) or 502
            return BatchResponse(status, {}, {"error": {"code": getattr(exc, "code", None), "message": str(exc)}})

    def _outlook_push_failed(self, run, op, error):
        """A refused item is marked where people look; a server failure stays marked for the next run."""
        run.stats["push_error"] += 1
        if isinstance(error, TransientError):
            if op.event:
                op.event.write({"outlook_last_error": f"Outlook did not answer; tried again at the next run: {error}"})
            return
        message = f"Outlook refused this event: {error}"
        _logger.warning("outlook: mailbox %s event %s: %s", self.id, op.local.event_id, message)
        if op.event:
            op.event.write({"outlook_dirty": False, "outlook_sync_state": "error", "outlook_last_error": message})
        if op.link:
            op.link.write({"state": "error", "last_error": message})
        self.env["outlook.sync.log"]._outlook_record_item(self, "out", message, event=op.event, link=op.link)

    @staticmethod
    def _outlook_state_after(action, event):
        if action == "inactive":
            return "inactive"
        if action in ("create", "patch") or (action == "clean" and event.outlook_link_ids):
            return "synced"
        if action == "skip":
            return event.outlook_sync_state if event.outlook_link_ids else "not_synced"
        return "not_synced"

    def _outlook_bind(self, event, data, sent, created):
        """Remember the Graph event we just created, in the same transaction as the commit that follows
        (a crash before it is caught by the transactionId on retry and by the delta's transactionId)."""
        values = {"event_id": event.id, "mailbox_id": self.id, "graph_id": created["id"], "is_organizer_copy": True}
        link = self.env["outlook.event.link"].sudo().create(values)
        self._outlook_store_pushed(link, data, sent, created)
        event.write(
            {"outlook_ical_uid": created.get("iCalUId") or event.outlook_ical_uid, "outlook_create_attempted": False}
        )

    def _outlook_store_pushed(self, link, data, sent, response):
        """``data``: the Odoo event now (its fingerprint detects Odoo's next change); ``sent``: what Outlook
        holds now (the base of the next PATCH, which may differ by policy: private details, invitations,
        the safe description)."""
        link.write(
            {
                "change_key": response.get("changeKey") or "",
                "last_modified": response.get("lastModifiedDateTime") or "",
                "remote_hash": fingerprint(from_graph(response)),
                "synced_hash": fingerprint(data),
                "synced_data": snapshot(sent if sent is not None else data),
                "state": "synced",
                "last_error": False,
            }
        )

    def _outlook_push_responses(self, run):
        """Answers the owner gave in Odoo to meetings organized by others: accept / tentative / decline
        on the owner's own copy, telling the organizer unless the admin chose silent answers (sendResponse)."""
        send_response = not self.env["ir.config_parameter"].sudo().get_param(PARAM_SILENT_RESPONSES)
        self.env["calendar.attendee"].flush_model(["state"])
        self.env.cr.execute(
            """
            SELECT link.id, attendee.state
              FROM outlook_event_link link
              JOIN calendar_attendee attendee ON attendee.event_id = link.event_id AND attendee.partner_id = %s
             WHERE link.mailbox_id = %s AND NOT COALESCE(link.is_organizer_copy, false)
               AND attendee.state IN ('accepted', 'tentative', 'declined')
               AND attendee.state IS DISTINCT FROM link.response_state
        """,
            [self.user_id.partner_id.id, self.id],
        )
        rows = self.env.cr.fetchall()
        links = self.env["outlook.event.link"].sudo().browse([link_id for link_id, _state in rows])
        calls = [
            ("POST", f"/me/events/{link.graph_id}/{response_action(state)}", {"sendResponse": send_response})
            for link, (_link_id, state) in zip(links, rows, strict=False)
        ]
        answers = run.client.batch(calls) if calls else []
        for link, (_link_id, state), answer in zip(links, rows, answers, strict=False):
            run.stats["push_response"] += 1
            if answer.ok:
                link.response_state = state
            elif answer.status == 429 or answer.status >= 500:
                continue  # tried again at the next run
            else:
                link.write(
                    {
                        "state": "error",
                        "last_error": f"Outlook refused the answer: {answer.error()}",
                        "response_state": state,
                    }
                )
                self.env["outlook.sync.log"]._outlook_record_item(self, "out", link.last_error, link=link)
        run.commit()
