"""Outbound: Odoo -> Microsoft 365 for the events this mailbox's user organizes, and their answers."""

import logging

from odoo import fields, models

from ..engine.mapping import fingerprint, from_graph, snapshot
from ..engine.push import LocalEvent, PushLink, plan_push, response_action
from ..engine.errors import MappingError
from ..graph.errors import GraphError, Throttled

_logger = logging.getLogger(__name__)

PUSH_BATCH = 500  # events per run and mailbox; the rest stays marked for the next run
PARAM_PUSH_EXISTING = "outlook_calendar_sync.push_existing_events"
PARAM_SILENT_RESPONSES = "outlook_calendar_sync.silent_responses"


class OutlookMailbox(models.Model):
    _inherit = "outlook.mailbox"

    first_connected_at = fields.Datetime(readonly=True, copy=False,
                                         help="Events created before this stay in Odoo unless the admin opts in")

    def _outlook_push(self, run):
        """Send the owner's changed events, then the owner's answers to others' invitations."""
        policy, commit = run.policy, run.commit
        if not policy.pushes:
            return
        self._outlook_push_series(run, fields.Datetime.now())
        events_sudo = self.env["calendar.event"].sudo().with_context(active_test=False)
        events = events_sudo.search([("outlook_dirty", "=", True), ("user_id", "=", self.user_id.id)],
                                    limit=PUSH_BATCH, order="id")
        links_sudo = self.env["outlook.event.link"].sudo()
        links = links_sudo.search([("mailbox_id", "=", self.id), ("event_id", "in", events.ids),
                                   ("state", "!=", "detached")])
        tombstones = links_sudo.search([("mailbox_id", "=", self.id), ("event_id", "=", False),
                                        ("state", "not in", ("error", "detached"))])
        link_of = {link.event_id.id: link for link in links}
        local_data = events._outlook_event_data()
        now = fields.Datetime.now()
        domain = self._outlook_sync_filter()
        in_filter = events.filtered_domain(domain) if domain else events
        internal = events.filtered(lambda event: event.partner_ids and not event.partner_ids.user_ids.filtered("share")
                                   and len(event.partner_ids) == len(event.partner_ids.user_ids.partner_id))
        for event in events:
            before_connect = bool(self.first_connected_at and event.create_date < self.first_connected_at)
            local = LocalEvent(
                event.id, local_data[event.id], event.active, bool(event.recurrency), before_connect,
                in_filter=event in in_filter, with_invitations=event.outlook_send_invitations and not before_connect,
                imported=event.outlook_imported, internal=event in internal,
            )
            self._outlook_push_one(run, local, link_of.get(event.id), now, event)
            commit()
        for link in tombstones:
            self._outlook_push_one(run, LocalEvent(), link, now, None)
            commit()
        self._outlook_push_responses(run)

    def _outlook_push_one(self, run, local, link, now, event):
        push_link = link and PushLink(link.id, link.graph_id, link._outlook_synced_data(), link.is_organizer_copy,
                                      link.cancel_allowed, link.attendees_capped)
        decision = plan_push(local, push_link, run.policy, now)
        if decision.action == "create" and not event.outlook_create_attempted:
            # durable before the POST: if its answer is lost, the next run looks for the event first
            event.outlook_create_attempted = True
            run.commit()
        try:
            with self.env.cr.savepoint():
                self._outlook_execute(run, decision, local, link, event)
        except Throttled:
            raise  # the whole mailbox waits (Retry-After)
        except (GraphError, MappingError) as exc:
            message = "Outlook refused this event: %s" % exc
            _logger.warning("outlook: mailbox %s event %s: %s", self.id, local.event_id, message)
            if event:
                event.write({"outlook_dirty": False, "outlook_sync_state": "error", "outlook_last_error": message})
            if link:
                link.write({"state": "error", "last_error": message})

    def _outlook_execute(self, run, decision, local, link, event):
        action, client = decision.action, run.client
        run.stats["push_%s" % action] += 1
        if action == "create":
            self._outlook_create(client, decision, local, event)
        elif action == "patch":
            updated = client.update_event(link.graph_id, decision.body)
            self._outlook_store_pushed(link, local.data, decision.sent, updated)
        elif action in ("cancel", "delete"):
            if action == "cancel":
                client.cancel_event(link.graph_id)
            else:
                client.delete_event(link.graph_id)
            link.unlink()
        elif action == "forget":
            link.write({"state": "detached", "last_error": decision.reason})
        elif action == "clean" and link and decision.sent is not None and link.synced_hash != fingerprint(local.data):
            # nothing to send (a description the safe-description policy keeps in Odoo): remember it
            link.write({"synced_hash": fingerprint(local.data)})
        if event:
            event.write({"outlook_dirty": False, "outlook_sync_state": self._outlook_state_after(action, event),
                         "outlook_last_error": decision.reason if action in ("skip", "inactive") else False})

    @staticmethod
    def _outlook_state_after(action, event):
        if action == "inactive":
            return "inactive"
        if action in ("create", "patch") or (action == "clean" and event.outlook_link_ids):
            return "synced"
        if action == "skip":
            return event.outlook_sync_state if event.outlook_link_ids else "not_synced"
        return "not_synced"

    def _outlook_create(self, client, decision, local, event):
        """POST the event, unless an earlier attempt whose answer was lost already created it: the
        transactionId makes Graph drop a repeated POST, and our stamp finds the first one regardless
        (graph-reference D.1: the exact duplicate behaviour of Graph is unconfirmed)."""
        stamp = "%s%d" % (self._outlook_transaction_prefix(), event.id)
        found = client.find_stamped(stamp) if event.outlook_create_attempted else []
        created = found[0] if found else client.create_event(decision.body, stamp, stamp)
        self._outlook_bind(event, local.data, decision.sent, created)

    def _outlook_bind(self, event, data, sent, created):
        """Remember the Graph event we just created, in the same transaction as the commit that follows
        (a crash before it is caught by the transactionId on retry and by the delta's transactionId)."""
        values = {"event_id": event.id, "mailbox_id": self.id, "graph_id": created["id"], "is_organizer_copy": True}
        link = self.env["outlook.event.link"].sudo().create(values)
        self._outlook_store_pushed(link, data, sent, created)
        event.write({"outlook_ical_uid": created.get("iCalUId") or event.outlook_ical_uid,
                     "outlook_create_attempted": False})

    def _outlook_store_pushed(self, link, data, sent, response):
        """``data``: the Odoo event now (its fingerprint detects Odoo's next change); ``sent``: what Outlook
        holds now (the base of the next PATCH, which may differ by policy: private details, invitations,
        the safe description)."""
        link.write({
            "change_key": response.get("changeKey") or "",
            "last_modified": response.get("lastModifiedDateTime") or "",
            "remote_hash": fingerprint(from_graph(response)),
            "synced_hash": fingerprint(data),
            "synced_data": snapshot(sent if sent is not None else data),
            "state": "synced",
            "last_error": False,
        })

    def _outlook_push_responses(self, run):
        """Answers the owner gave in Odoo to meetings organized by others: accept / tentative / decline
        on the owner's own copy, telling the organizer unless the admin chose silent answers (sendResponse)."""
        send_response = not self.env["ir.config_parameter"].sudo().get_param(PARAM_SILENT_RESPONSES)
        self.env["calendar.attendee"].flush_model(["state"])
        self.env.cr.execute("""
            SELECT link.id, attendee.state
              FROM outlook_event_link link
              JOIN calendar_attendee attendee ON attendee.event_id = link.event_id AND attendee.partner_id = %s
             WHERE link.mailbox_id = %s AND NOT COALESCE(link.is_organizer_copy, false)
               AND attendee.state IN ('accepted', 'tentative', 'declined')
               AND attendee.state IS DISTINCT FROM link.response_state
        """, [self.user_id.partner_id.id, self.id])
        for link_id, state in self.env.cr.fetchall():
            link = self.env["outlook.event.link"].sudo().browse(link_id)
            try:
                with self.env.cr.savepoint():
                    run.client.respond(link.graph_id, response_action(state), send_response=send_response)
                    run.stats["push_response"] += 1
                    link.response_state = state
            except Throttled:
                raise
            except GraphError as exc:
                link.write({"state": "error", "last_error": "Outlook refused the answer: %s" % exc,
                            "response_state": state})
