"""Sync policies: company settings (Settings > Integrations > Outlook Calendar), user overrides, and the
:class:`~..engine.policy.SyncPolicy` one run of a mailbox follows."""

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools.safe_eval import safe_eval

from ..engine import policy as rules
from .outlook_push import PARAM_PUSH_EXISTING

PREFIX = "outlook_calendar_sync."
DIRECTIONS = [
    (rules.BOTH, "Two-way"),
    (rules.INBOUND, "Microsoft 365 to Odoo only"),
    (rules.OUTBOUND, "Odoo to Microsoft 365 only"),
]
OUTLOOK_DELETIONS = [
    (rules.ARCHIVE, "Archive the Odoo event"),
    (rules.DELETE, "Delete the Odoo event"),
    (rules.KEEP, "Keep the Odoo event"),
]
ODOO_DELETIONS = [
    (rules.CANCEL_FUTURE, "Cancel it if the user organizes it and it is still to come"),
    (rules.DELETE, "Delete it"),
    (rules.KEEP, "Keep it in Outlook"),
]
PRIVATE = [
    (rules.PRIVATE_BUSY, "Sync without attendees and description"),
    (rules.PRIVATE_FULL, "Sync fully"),
    (rules.PRIVATE_SKIP, "Do not sync"),
]
SYNC_OR_SKIP = [("sync", "Sync"), ("skip", "Do not sync")]
CONFLICTS = [
    (rules.MICROSOFT_WINS, "Microsoft 365 wins"),
    (rules.ODOO_WINS, "Odoo wins"),
    (rules.NEWEST_WINS, "The newest change wins"),
]
DESCRIPTIONS = [
    ("first", "Only the first description (Odoo's later edits stay in Odoo)"),
    ("always", "Every description change"),
]
FILTER_REMOVALS = [(rules.DELETE, "Delete it in Outlook (physical)"), (rules.KEEP, "Only unlink it (logical)")]

# (settings field, engine field, default); integers and selections are stored as system parameters
POLICY_PARAMS = (
    ("outlook_direction", "direction", rules.BOTH),
    ("outlook_delete_from_outlook", "delete_from_outlook", rules.ARCHIVE),
    ("outlook_delete_from_odoo", "delete_from_odoo", rules.CANCEL_FUTURE),
    ("outlook_private_events", "private_events", rules.PRIVATE_BUSY),
    ("outlook_internal_events", "sync_internal", "sync"),
    ("outlook_unmatched_events", "sync_unmatched", "sync"),
    ("outlook_initial_days", "initial_days", 30),
    ("outlook_past_days", "past_days", 183),
    ("outlook_future_days_in", "future_days_in", 3650),
    ("outlook_future_days", "future_days", 730),
    ("outlook_past_grace_days", "past_grace_days", 1),
    ("outlook_inactive_after_days", "inactive_after_days", 30),
    ("outlook_conflict_winner", "conflict_winner", rules.MICROSOFT_WINS),
    ("outlook_attendee_cap", "attendee_cap", 50),
    ("outlook_description_policy", "safe_description", "first"),
    ("outlook_import_declined", "import_declined", False),
    ("outlook_skip_unanswered", "import_not_responded", False),
    ("outlook_category_mode", "category_mode", False),
    ("outlook_category", "category", "Odoo"),
    ("outlook_allow_copies", "allow_copies", False),
    ("outlook_color_categories", "color_categories", False),
    ("outlook_filter_removal", "filter_removal", rules.DELETE),
)
# stored values -> engine values, where the setting is phrased the other way round
TO_ENGINE = {
    "sync_internal": lambda value: value != "skip",
    "sync_unmatched": lambda value: value != "skip",
    "safe_description": lambda value: value != "always",
    "import_not_responded": lambda value: not value,
}


def _param(field_name):
    return PREFIX + field_name.removeprefix("outlook_")


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    outlook_direction = fields.Selection(
        DIRECTIONS, "Sync direction", default=rules.BOTH, config_parameter=_param("outlook_direction")
    )
    outlook_delete_from_outlook = fields.Selection(
        OUTLOOK_DELETIONS,
        "Deleted in Outlook",
        default=rules.ARCHIVE,
        config_parameter=_param("outlook_delete_from_outlook"),
    )
    outlook_delete_from_odoo = fields.Selection(
        ODOO_DELETIONS,
        "Deleted in Odoo",
        default=rules.CANCEL_FUTURE,
        config_parameter=_param("outlook_delete_from_odoo"),
    )
    outlook_private_events = fields.Selection(
        PRIVATE, "Private events", default=rules.PRIVATE_BUSY, config_parameter=_param("outlook_private_events")
    )
    outlook_internal_events = fields.Selection(
        SYNC_OR_SKIP, "Internal events", default="sync", config_parameter=_param("outlook_internal_events")
    )
    outlook_unmatched_events = fields.Selection(
        SYNC_OR_SKIP,
        "Events without a known contact",
        default="sync",
        config_parameter=_param("outlook_unmatched_events"),
    )
    outlook_initial_days = fields.Integer(
        "Initial import (days ahead)", default=30, config_parameter=_param("outlook_initial_days")
    )
    outlook_past_days = fields.Integer(
        "Past events since (days before connecting)", default=183, config_parameter=_param("outlook_past_days")
    )
    outlook_future_days_in = fields.Integer(
        "Inbound range (days ahead)", default=3650, config_parameter=_param("outlook_future_days_in")
    )
    outlook_future_days = fields.Integer(
        "Outbound range (days ahead)", default=730, config_parameter=_param("outlook_future_days")
    )
    outlook_past_grace_days = fields.Integer(
        "Push changes up to (days after the end)", default=1, config_parameter=_param("outlook_past_grace_days")
    )
    outlook_inactive_after_days = fields.Integer(
        "Inactive (days after the end)", default=30, config_parameter=_param("outlook_inactive_after_days")
    )
    outlook_conflict_winner = fields.Selection(
        CONFLICTS, "Conflicts", default=rules.MICROSOFT_WINS, config_parameter=_param("outlook_conflict_winner")
    )
    outlook_attendee_cap = fields.Integer("Attendees kept", default=50, config_parameter=_param("outlook_attendee_cap"))
    outlook_description_policy = fields.Selection(
        DESCRIPTIONS,
        "Description sent to Outlook",
        default="first",
        config_parameter=_param("outlook_description_policy"),
    )
    outlook_import_declined = fields.Boolean(
        "Import meetings the user declined", config_parameter=_param("outlook_import_declined")
    )
    outlook_skip_unanswered = fields.Boolean(
        "Skip invitations the user has not answered", config_parameter=_param("outlook_skip_unanswered")
    )
    outlook_category_mode = fields.Boolean(
        "Only Outlook items with a category", config_parameter=_param("outlook_category_mode")
    )
    outlook_category = fields.Char("Opt-in category", default="Odoo", config_parameter=_param("outlook_category"))
    outlook_allow_copies = fields.Boolean(
        "Import Outlook copies of synced events", config_parameter=_param("outlook_allow_copies")
    )
    outlook_color_categories = fields.Boolean(
        "Color the status categories",
        config_parameter=_param("outlook_color_categories"),
        help="'Odoo sync error' red and 'Odoo: synced' green in each user's Outlook. Users are asked for one more "
        "permission (MailboxSettings.ReadWrite) when they connect; those connected before keep uncolored "
        "categories until they connect again.",
    )
    outlook_sync_filter = fields.Char(
        "Sync filter",
        config_parameter=PREFIX + "sync_filter",
        help="Only Odoo events matching this domain go to Outlook",
    )
    outlook_filter_removal = fields.Selection(
        FILTER_REMOVALS,
        "An event leaving the filter",
        default=rules.DELETE,
        config_parameter=_param("outlook_filter_removal"),
    )
    outlook_lock_after_days = fields.Integer(
        "Lock events (days after the end)",
        config_parameter=PREFIX + "lock_after_days",
        help="0: only events locked by hand refuse Outlook's changes",
    )

    @api.constrains("outlook_sync_filter")
    def _check_outlook_sync_filter(self):
        for settings in self.filtered("outlook_sync_filter"):
            try:
                self.env["calendar.event"].search_count(safe_eval(settings.outlook_sync_filter), limit=1)
            except Exception as exc:
                raise ValidationError(_("The Outlook sync filter is not a valid domain: %(error)s", error=exc)) from exc

    @api.constrains(
        "outlook_initial_days",
        "outlook_past_days",
        "outlook_future_days_in",
        "outlook_future_days",
        "outlook_attendee_cap",
        "outlook_inactive_after_days",
        "outlook_past_grace_days",
    )
    def _check_outlook_numbers(self):
        for settings in self:
            if (
                min(
                    settings.outlook_initial_days,
                    settings.outlook_past_days,
                    settings.outlook_future_days_in,
                    settings.outlook_future_days,
                    settings.outlook_attendee_cap,
                    settings.outlook_inactive_after_days,
                    settings.outlook_past_grace_days,
                )
                < 0
            ):
                raise ValidationError(_("Outlook ranges and limits cannot be negative."))


class ResUsers(models.Model):
    _inherit = "res.users"

    outlook_direction = fields.Selection(
        [("company", "Company setting")] + DIRECTIONS, string="Outlook sync direction", default="company", required=True
    )
    outlook_category_mode = fields.Selection(
        [
            ("company", "Company setting"),
            ("on", "Only Outlook items with the opt-in category"),
            ("off", "Every Outlook item"),
        ],
        string="Outlook categories",
        default="company",
        required=True,
    )

    @property
    def SELF_READABLE_FIELDS(self):
        return super().SELF_READABLE_FIELDS + ["outlook_direction", "outlook_category_mode"]

    @property
    def SELF_WRITEABLE_FIELDS(self):
        return super().SELF_WRITEABLE_FIELDS + ["outlook_direction", "outlook_category_mode"]


class OutlookMailbox(models.Model):
    _inherit = "outlook.mailbox"

    def _outlook_policy(self):
        """The :class:`SyncPolicy` of this mailbox: company settings, then its user's overrides."""
        self.ensure_one()
        params_sudo = self.env["ir.config_parameter"].sudo()
        values = {}
        for field_name, engine_name, default in POLICY_PARAMS:
            raw = params_sudo.get_param(_param(field_name))
            value = default if raw in (None, False, "") else _typed(raw, default)
            values[engine_name] = TO_ENGINE.get(engine_name, lambda v: v)(value)
        user = self.user_id
        if user.outlook_direction != "company":
            values["direction"] = user.outlook_direction
        if user.outlook_category_mode != "company":
            values["category_mode"] = user.outlook_category_mode == "on"
        values["push_existing"] = params_sudo.get_param(PARAM_PUSH_EXISTING) in ("1", "True", "true")
        values["transaction_prefix"] = self._outlook_transaction_prefix()
        return rules.SyncPolicy(**values)

    @api.model
    def _outlook_colors_status_categories(self):
        """Setting "Color the status categories": the connect flow also asks for MailboxSettings.ReadWrite."""
        raw = self.env["ir.config_parameter"].sudo().get_param(_param("outlook_color_categories"))
        return _typed(raw, False) if raw not in (None, False, "") else False

    @api.model
    def _outlook_sync_filter(self):
        """The admin's domain on events that may go to Outlook, or ``None``."""
        raw = self.env["ir.config_parameter"].sudo().get_param(PREFIX + "sync_filter")
        return safe_eval(raw) if raw and raw.strip() not in ("[]", "") else None

    @api.model
    def _outlook_lock_after_days(self):
        return int(self.env["ir.config_parameter"].sudo().get_param(PREFIX + "lock_after_days") or 0)


def _typed(raw, default):
    if isinstance(default, bool):
        return raw in ("True", "true", "1")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            return default
    return raw
