"""The admin's sync policies (issue "policies from the market leaders"), as pure rules.

Each setting's default is the safe choice its inspiring product uses; README lists them. The ORM
builds one :class:`SyncPolicy` per mailbox and run (company settings, then the user's overrides) and the
engine asks it what to import, what to push and what a deletion means.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta

from .mapping import without_private_details

BOTH, INBOUND, OUTBOUND = "both", "inbound", "outbound"
MICROSOFT_WINS, ODOO_WINS, NEWEST_WINS = "microsoft", "odoo", "newest"
# what a deletion on one side does on the other
ARCHIVE, DELETE, KEEP = "archive", "delete", "keep"  # Outlook -> Odoo
CANCEL_FUTURE = "cancel_future"  # Odoo -> Outlook: cancel only the organizer's future meetings (Dynamics)
PRIVATE_FULL, PRIVATE_BUSY, PRIVATE_SKIP = "full", "busy", "skip"
GRAPH_MAX_WINDOW_DAYS = 5 * 365  # calendarView rejects wider windows (odoo/odoo#146754: 6 years refused)


@dataclass(frozen=True)
class SyncPolicy:
    direction: str = BOTH
    delete_from_outlook: str = ARCHIVE
    delete_from_odoo: str = CANCEL_FUTURE
    private_events: str = PRIVATE_BUSY
    sync_internal: bool = True
    sync_unmatched: bool = True
    initial_days: int = 30  # first import: today -> +1 month (ERP.net)
    past_days: int = 183  # commencement: 6 months before enabling (Practifi)
    future_days_in: int = 3650  # inbound future range, bounded by GRAPH_MAX_WINDOW_DAYS
    future_days: int = 730  # outbound future range (24 months)
    past_grace_days: int = 1  # changes of events ended longer ago are never pushed (ERP.net)
    inactive_after_days: int = 30  # events ended longer ago stop syncing: status Inactive (Practifi)
    conflict_winner: str = MICROSOFT_WINS
    attendee_cap: int = 50
    safe_description: bool = True  # only the first description goes out (Revenue Grid)
    import_declined: bool = False  # Revenue Grid
    import_not_responded: bool = True
    push_existing: bool = False  # events created before the user connected
    transaction_prefix: str = ""
    category_mode: bool = False  # import only Outlook items with the category (Revenue Grid, Dynamics)
    category: str = "Odoo"
    unsync_category: str = "Odoo: unsync"
    error_category: str = "Odoo sync error"
    synced_category: str = "Odoo: synced"
    color_categories: bool = False  # status categories get colors in the master list (MailboxSettings.ReadWrite)
    allow_copies: bool = False  # Dynamics: an Outlook copy of a synced item is ignored
    filter_removal: str = DELETE  # an event leaving the sync filter: deleted (DELETE) or unlinked (KEEP)
    control_categories: frozenset = field(default=frozenset(), compare=False)

    def __post_init__(self):
        names = {self.unsync_category, self.error_category, self.synced_category}
        object.__setattr__(self, "control_categories", frozenset(name.lower() for name in names if name))

    @property
    def status_colors(self):
        """``{status category: Graph categoryColor}``: errors red (preset0), synced green (preset4)."""
        return {name: color for name, color in ((self.error_category, "preset0"), (self.synced_category, "preset4"))}

    @property
    def pulls(self):
        return self.direction in (BOTH, INBOUND)

    @property
    def pushes(self):
        return self.direction in (BOTH, OUTBOUND)

    # ------------------------------------------------------------
    # Window
    # ------------------------------------------------------------

    def window(self, today, first_connected):
        """``(start, end)`` of the delta window (UTC naive): from the commencement date (``past_days``
        before the first connection, never later than a month ago) to ``future_days_in`` ahead, at most
        the span Graph accepts."""
        anchor = (first_connected or datetime.combine(today, time())).date()
        start = datetime.combine(min(anchor - timedelta(days=self.past_days), today - timedelta(days=30)), time())
        end = datetime.combine(today + timedelta(days=self.future_days_in), time())
        return start, min(end, start + timedelta(days=GRAPH_MAX_WINDOW_DAYS))

    # ------------------------------------------------------------
    # Inbound
    # ------------------------------------------------------------

    def categories_of(self, item):
        return {name.lower() for name in (item.payload or {}).get("categories") or () if isinstance(name, str)}

    def opted_out(self, item):
        """Category mode: the item lost the opt-in category or carries the unsync one."""
        if not self.category_mode:
            return False
        names = self.categories_of(item)
        return self.unsync_category.lower() in names or self.category.lower() not in names

    def import_refusal(self, item, context):
        """Why a new Outlook item is not imported, or ``""``.

        :param context: :class:`ImportContext` of the page (what Odoo knows about the addresses)
        """
        data = item.data
        if self.opted_out(item):
            return f"category mode: the item does not carry the {self.category!r} category"
        if data.privacy == "private" and self.private_events == PRIVATE_SKIP:
            return "private events are not synced"
        if not item.is_organizer:
            if item.response == "declined" and not self.import_declined:
                return "declined meetings are not imported"
            if item.response in ("none", "notResponded") and not self.import_not_responded:
                return "unanswered invitations are not imported"
        if self.ended_long_ago(data, context.now):
            return f"ended more than {self.inactive_after_days} days ago: inactive"
        guests = ({a.email for a in data.attendees} | {data.organizer_email}) - {context.owner_email, ""}
        if not self.sync_internal and guests and guests <= context.internal_emails:
            return "internal meetings (only Odoo users) are not synced"
        if not self.sync_unmatched and not guests & context.known_emails:
            return "no attendee is an Odoo contact"
        if not self.allow_copies and item.graph_id in context.stamped_ids:
            return "an Outlook copy of an event Odoo already syncs"
        if not self.initially_wanted(item, context):
            return "outside the initial import range and unchanged since the connection"
        return ""

    def initially_wanted(self, item, context):
        """The first import brings today -> +``initial_days``; older items come in once they change."""
        if not context.first_connected or item.last_modified > context.first_connected_iso:
            return True
        day = context.first_connected.date()
        start = item.data.start_date if item.data.allday else item.data.start.date()
        stop = item.data.stop_date if item.data.allday else item.data.stop.date()
        return stop >= day and start <= day + timedelta(days=self.initial_days)

    def inbound_view(self, data):
        """What Odoo keeps of an Outlook item: private events without their attendees and description,
        and never the categories this add-on writes on Outlook items (status and opt-out)."""
        if data is None:
            return data
        if any(name.lower() in self.control_categories for name in data.categories):
            data = replace(
                data, categories=tuple(c for c in data.categories if c.lower() not in self.control_categories)
            )
        if data.privacy == "private" and self.private_events == PRIVATE_BUSY:
            return without_private_details(data)
        return data

    def ended_long_ago(self, data, now):
        return data.ended_before(now - timedelta(days=self.inactive_after_days))

    # ------------------------------------------------------------
    # Outbound
    # ------------------------------------------------------------

    def outbound_view(self, data, with_invitations=True):
        """What Outlook receives of an Odoo event (private policy, invitations checkbox)."""
        if data.privacy == "private" and self.private_events == PRIVATE_BUSY:
            return without_private_details(data)
        if not with_invitations:
            return replace(data, attendees=tuple(a for a in data.attendees if a.email == data.organizer_email))
        return data


@dataclass(frozen=True)
class ImportContext:
    """What Odoo knows, for one page, to apply :meth:`SyncPolicy.import_refusal`."""

    now: datetime
    owner_email: str = ""
    first_connected: datetime = None
    internal_emails: frozenset = frozenset()
    known_emails: frozenset = frozenset()
    stamped_ids: frozenset = frozenset()

    @property
    def first_connected_iso(self):
        return self.first_connected.strftime("%Y-%m-%dT%H:%M:%S") if self.first_connected else ""
